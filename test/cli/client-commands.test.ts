/**
 * `shoal members | leader | join | leave` against real agents started in-process on
 * 127.0.0.1:0: the aligned table, `--json`, the bearer token, the unreachable-agent message,
 * usage errors (exit 2) and `--help` on each command.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';
import { shoal } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/wait.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-cli-test-'));
const agents: RunningAgent[] = [];
const TOKEN = 'cli-test-token-0123456789';

async function agent(name: string, flags: Record<string, unknown> = {}): Promise<RunningAgent> {
  const config = resolveAgentConfig(
    {
      name,
      bind: '127.0.0.1:0',
      http: '127.0.0.1:0',
      profile: 'local',
      logLevel: 'silent',
      dataDir: join(dataRoot, name),
      ...flags,
    },
    {},
  );
  const running = await startAgent(config);
  agents.push(running);
  return running;
}

/** A loopback address nothing listens on: bound, then released. */
async function freePort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

afterEach(() => {
  delete process.env['SHOAL_HTTP_TOKEN'];
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop('test done')));
});

describe('shoal members and leader', () => {
  let a: RunningAgent;
  beforeAll(async () => {
    a = await agent('cli-a', { label: ['zone=a', 'rack=r1'] });
  });

  it('prints an aligned table: every column starts where its header does', async () => {
    const { code, out } = await shoal('members', '--http', a.server.address);
    expect(code).toBe(0);
    const [header, row] = out.trimEnd().split('\n') as [string, string];
    expect(header).toMatch(/^NAME +ADDRESS +STATE +INCARNATION +LABELS$/);
    expect(row.indexOf(a.node.address)).toBe(header.indexOf('ADDRESS'));
    expect(row.indexOf('alive')).toBe(header.indexOf('STATE'));
    expect(row.indexOf('zone=a,rack=r1')).toBe(header.indexOf('LABELS'));
  });

  it('prints the API JSON with --json', async () => {
    const { out } = await shoal('members', '--json', '--http', a.server.address);
    const parsed = JSON.parse(out);
    expect(parsed.epoch).toBe(a.node.epoch);
    expect(parsed.members[0]).toMatchObject({
      id: a.node.id,
      name: 'cli-a',
      state: 'alive',
      labels: { zone: 'a', rack: 'r1' },
    });
  });

  it('prints the leader with its name, or that there is none', async () => {
    const alone = await agent('cli-alone', { modeOptions: { minClusterSize: 2 } });
    expect((await shoal('leader', '--http', alone.server.address)).out).toMatch(
      /^no leader \(mode swim, term \d+\)\n$/,
    );
    const single = await agent('cli-single', { mode: 'single' });
    const { out } = await shoal('leader', '--http', single.server.address);
    expect(out).toBe(`cli-single (${single.node.id})  term 1  mode single\n`);
    expect(
      JSON.parse((await shoal('leader', '--json', '--http', single.server.address)).out),
    ).toEqual({ mode: 'single', leader: single.node.id, term: 1 });
  });

  it('says the agent is unreachable and how to start one (exit 1)', async () => {
    const closed = await freePort();
    const { code, err } = await shoal('members', '--http', closed);
    expect(code).toBe(1);
    expect(err).toContain(
      `shoal: cannot reach a Shoal agent at http://${closed} (ECONNREFUSED). Is one running? Start one with: shoal agent --http ${closed}`,
    );
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('refuses a malformed --http with exit 2', async () => {
    const { code, err } = await shoal('members', '--http', 'localhost');
    expect(code).toBe(2);
    expect(err).toMatch(/--http "localhost": must be the agent's HTTP address host:port/);
  });

  for (const command of ['agent', 'members', 'leader', 'join', 'leave', 'keygen', 'identity']) {
    it(`prints help for ${command}`, async () => {
      const { code, out } = await shoal(command, '--help');
      expect(code).toBe(0);
      expect(out).toContain(`Usage: shoal ${command}`);
    });
  }
});

describe('shoal join and leave', () => {
  it('joins through a cluster address; the agent then sees the other node', async () => {
    const [a, b] = [await agent('join-a'), await agent('join-b', { httpToken: TOKEN })];
    const refused = await shoal('join', a.node.address, '--http', b.server.address);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/the agent answered 401: .*bearer token/);

    process.env['SHOAL_HTTP_TOKEN'] = TOKEN;
    const { code, out } = await shoal('join', a.node.address, '--http', b.server.address);
    expect(code).toBe(0);
    expect(out).toBe('joined: 1 of 1 addresses answered\n');
    await waitFor(
      () => b.node.members().some((m) => m.name === 'join-a' && m.state === 'alive'),
      10_000,
      'join-b sees join-a alive',
    );
  });

  it('answers how many of the given addresses answered, not the member count', async () => {
    const [a, b, c] = [await agent('count-a'), await agent('count-b'), await agent('count-c')];
    expect((await shoal('join', a.node.address, '--http', b.server.address)).code).toBe(0);
    await waitFor(() => a.node.members().length === 2, 10_000, 'a and b form a cluster');
    const nobody = await freePort();
    const { code, out } = await shoal(
      'join',
      '--http',
      c.server.address,
      a.node.address,
      b.node.address,
      nobody,
    );
    expect(code).toBe(0);
    expect(out).toBe('joined: 2 of 3 addresses answered\n');
  });

  it('refuses a malformed join address with exit 2 before calling the agent', async () => {
    const { code, err } = await shoal('join', 'nohost', '--http', '127.0.0.1:1');
    expect(code).toBe(2);
    expect(err).toMatch(/address "nohost": must be host:port/);
  });

  it('leaves: the agent answers, leaves the cluster and stops with exit code 0', async () => {
    const [a, b] = [await agent('leave-a'), await agent('leave-b')];
    await b.node.join([a.node.address]);
    await waitFor(
      () => a.node.members().some((m) => m.name === 'leave-b' && m.state === 'alive'),
      10_000,
      'leave-a sees leave-b',
    );
    const { code, out } = await shoal(
      'leave',
      '--http',
      b.server.address,
      '--http-token',
      'ignored-when-not-required',
    );
    expect(code).toBe(0);
    expect(out).toBe('left the cluster; the agent is exiting\n');
    expect(await b.stopped).toBe(0);
    expect(b.node.isClosed).toBe(true);
    await waitFor(
      () => a.node.members().some((m) => m.name === 'leave-b' && m.state === 'left'),
      10_000,
      'leave-a sees leave-b left',
    );
  });
});
