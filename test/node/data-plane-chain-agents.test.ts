/**
 * Chains over real sockets between `shoal agent` processes (issue 16): three agents on
 * 127.0.0.1 with a bearer token. `shoal chain append` on one appends to its chain (an append
 * without the token is refused and changes nothing); the others read it (`GET /v1/chains/<id>`,
 * `shoal chain show`), `shoal chain compare` says in-sync; the first agent is killed with
 * SIGKILL and restarted from its data dir: its chain is still there (read back from chain.log,
 * not from its peers), and its next entry reaches the others. `shoal processes advertise` and
 * `withdraw` write the agent's own process rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shoal } from '../helpers/run-cli.js';
import { agentStarted, killChildren, spawnShoal, type Child } from '../helpers/shoal-process.js';
import { waitForAsync } from '../helpers/wait.js';

const TOKEN = 'chain-agents-token-0123456789';
const CONVERGE_MS = 60_000;
const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-chain-agents-'));

afterAll(() => {
  killChildren();
  rmSync(dataRoot, { recursive: true, force: true });
});

interface Agent {
  name: string;
  child: Child;
  http: string;
  hostPort: string;
  address: string;
  id: string;
}

async function startAgent(name: string, join_: string | undefined): Promise<Agent> {
  const child = spawnShoal([
    'agent',
    '--name',
    name,
    '--bind',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--http-token',
    TOKEN,
    '--profile',
    'local',
    '--cluster-id',
    'chains',
    '--data-dir',
    join(dataRoot, name),
    ...(join_ === undefined ? [] : ['--join', join_]),
  ]);
  const started = (await agentStarted(child)) as { http: string; id: string; address: string };
  return {
    name,
    child,
    http: started.http,
    hostPort: started.http.replace('http://', ''),
    address: started.address,
    id: started.id,
  };
}

interface EntriesAnswer {
  owner: string;
  head: { seq: number; hash: string };
  entries: Array<{ seq: number; payload: string; hash: string }>;
}

async function chainOf(agent: Agent, owner: string): Promise<EntriesAnswer | undefined> {
  const res = await fetch(`${agent.http}/v1/chains/${owner}`);
  if (res.status === 404) {
    await res.arrayBuffer();
    return undefined;
  }
  return (await res.json()) as EntriesAnswer;
}

const payloads = async (agent: Agent, owner: string): Promise<string> =>
  ((await chainOf(agent, owner))?.entries ?? []).map((e) => e.payload).join(' ');

async function metric(agent: Agent, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${agent.http}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.split(' ')[1]);
}

describe('chains between agent processes', () => {
  it('append, read everywhere, compare, and keep the chain across kill -9', async () => {
    const one = await startAgent('chain-1', undefined);
    const two = await startAgent('chain-2', one.address);
    const three = await startAgent('chain-3', one.address);

    for (const text of ['alpha', 'beta', 'gamma']) {
      const out = await shoal(
        'chain',
        'append',
        text,
        '--http',
        one.hostPort,
        '--http-token',
        TOKEN,
      );
      expect(out.code, out.err).toBe(0);
      expect(out.out).toMatch(/^\d \w{64}\n$/);
    }
    const refused = await fetch(`${one.http}/v1/chain`, { method: 'POST', body: 'sneaky' });
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    expect(await payloads(one, 'self')).toBe('alpha beta gamma');

    for (const agent of [two, three])
      await waitForAsync(
        async () => (await payloads(agent, one.id)) === 'alpha beta gamma',
        CONVERGE_MS,
        `${agent.name} holds chain-1's three entries`,
      );
    const shown = await shoal('chain', 'show', 'chain-1', '--http', two.hostPort);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/1 +\w{16} +"alpha"/);
    expect(shown.out).toMatch(/3 +\w{16} +"gamma"/);
    const compared = await shoal('chain', 'compare', 'chain-2', '--http', one.hostPort);
    expect(compared, compared.err).toMatchObject({ code: 0, out: 'in-sync at 3\n' });
    const fromTwo = await shoal(
      'chain',
      'compare',
      'chain-1',
      '--owner',
      'chain-1',
      '--json',
      '--http',
      two.hostPort,
    );
    expect(JSON.parse(fromTwo.out)).toMatchObject({ status: 'in-sync', seq: 3 });

    // Process rows from the CLI: advertise, seen elsewhere, withdraw.
    const adv = await shoal(
      'processes',
      'advertise',
      'p-1',
      '--type',
      'worker',
      '--capability',
      'gpu',
      '--load',
      '0.5',
      '--http',
      three.hostPort,
      '--http-token',
      TOKEN,
    );
    expect(adv, adv.err).toMatchObject({
      code: 0,
      out: 'advertised p-1 (worker, running, load 0.5)\n',
    });
    await waitForAsync(
      async () =>
        (await shoal('processes', '--type', 'worker', '--http', one.hostPort)).out.includes('p-1'),
      CONVERGE_MS,
      'chain-1 lists p-1',
    );
    const wd = await shoal(
      'processes',
      'withdraw',
      'p-1',
      '--http',
      three.hostPort,
      '--http-token',
      TOKEN,
    );
    expect(wd, wd.err).toMatchObject({ code: 0, out: 'withdrew p-1\n' });

    // kill -9, restart from the same data dir: the chain was on disk.
    one.child.process.kill('SIGKILL');
    await one.child.exit;
    const again = await startAgent('chain-1', two.address);
    expect(again.id).toBe(one.id);
    expect(await payloads(again, 'self')).toBe('alpha beta gamma');
    expect(
      await metric(again, 'shoal_chain_events_total{event="loadedFromDisk"}'),
      'read back from chain.log',
    ).toBe(3);
    const more = await shoal(
      'chain',
      'append',
      'delta',
      '--http',
      again.hostPort,
      '--http-token',
      TOKEN,
    );
    expect(more, more.err).toMatchObject({ code: 0 });
    expect(more.out.startsWith('4 ')).toBe(true);
    await waitForAsync(
      async () => (await payloads(two, one.id)) === 'alpha beta gamma delta',
      CONVERGE_MS,
      'chain-2 pulls the entry appended after the restart',
    );
    expect(await metric(two, 'shoal_chain_events_total{event="forks"}')).toBe(0);
  }, 180_000);
});
