/**
 * Issue 16's real-socket test: five `shoal agent` processes on 127.0.0.1 (local profile, a
 * bearer token) advertise and resolve through their HTTP API and the CLI. Each advertises an
 * instance of `api` (`PUT /v1/services/api`) and an `encoder` process with its own load (`PUT
 * /v1/processes/<pid>`); every agent lists all five of each; `shoal resolve api --prefer self`
 * prints each agent's own instance, and five resolutions without a preference on one agent
 * visit the five instances once each (weighted round-robin, equal weights); `shoal processes
 * --least-loaded` names the same node from every agent, the one with the lowest load, and moves
 * when that node withdraws its process; `shoal place` agrees everywhere. A write without the
 * token is refused and changes nothing; a withdrawn instance and an agent that leaves (SIGINT)
 * disappear from every agent's list.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shoal } from '../helpers/run-cli.js';
import {
  agentStarted,
  exitWithin,
  killChildren,
  spawnShoal,
  type Child,
} from '../helpers/shoal-process.js';
import { waitForAsync } from '../helpers/wait.js';

const TOKEN = 'five-agents-token-0123456789';
const CONVERGE_MS = 60_000;
const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-dp-five-'));

afterAll(() => {
  killChildren();
  rmSync(dataRoot, { recursive: true, force: true });
});

interface Agent {
  name: string;
  child: Child;
  http: string;
  /** host:port for the CLI's --http. */
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
    'five',
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

const bearer = { authorization: `Bearer ${TOKEN}` };
const auth = { ...bearer, 'content-type': 'application/json' };

async function put(agent: Agent, path: string, body: unknown, headers = auth): Promise<number> {
  const res = await fetch(`${agent.http}${path}`, {
    method: 'PUT',
    headers,
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

async function get<T>(agent: Agent, path: string): Promise<T> {
  const res = await fetch(`${agent.http}${path}`);
  return (await res.json()) as T;
}

const apiAddresses = async (agent: Agent): Promise<string> =>
  (await get<{ instances: { address: string }[] }>(agent, '/v1/services?name=api')).instances
    .map((i) => i.address)
    .sort()
    .join(' ');

const encoderPids = async (agent: Agent): Promise<string> =>
  (await get<{ processes: { pid: string }[] }>(agent, '/v1/processes?type=encoder')).processes
    .map((p) => p.pid)
    .sort()
    .join(' ');

/** Waits until every agent in `agents` answers `read` with `expected`. */
async function everywhere(
  agents: readonly Agent[],
  read: (a: Agent) => Promise<string>,
  expected: string,
  what: string,
): Promise<void> {
  for (const agent of agents)
    await waitForAsync(
      async () => (await read(agent)) === expected,
      CONVERGE_MS,
      `${agent.name}: ${what}`,
    );
}

describe('five agents advertise and resolve over real sockets', () => {
  it('list, resolve, least-loaded and placement agree everywhere; withdrawals and a leaver drop out', async () => {
    const names = ['five-1', 'five-2', 'five-3', 'five-4', 'five-5'];
    const loads = [0.5, 0.2, 0.9, 0.1, 0.7];
    const first = await startAgent(names[0] as string, undefined);
    const rest = await Promise.all(names.slice(1).map((n) => startAgent(n, first.address)));
    const agents = [first, ...rest];

    for (const [i, agent] of agents.entries()) {
      expect(await put(agent, '/v1/services/api', { address: `${agent.name}:8080` })).toBe(200);
      const process = { type: 'encoder', capabilities: ['av1'], load: loads[i] };
      expect(await put(agent, `/v1/processes/enc-${i + 1}`, process)).toBe(200);
    }
    // Without the token: refused, nothing written.
    expect(
      await put(first, '/v1/services/sneaky', { address: 'x:1' }, {
        'content-type': 'application/json',
      } as typeof auth),
    ).toBe(401);

    const allApi = names.map((n) => `${n}:8080`).join(' ');
    const allPids = names.map((_, i) => `enc-${i + 1}`).join(' ');
    await everywhere(agents, apiAddresses, allApi, 'lists all five api instances');
    await everywhere(agents, encoderPids, allPids, 'lists all five encoders');
    for (const agent of agents) {
      const sneaky = await get<{ instances: unknown[] }>(agent, '/v1/services?name=sneaky');
      expect(sneaky.instances).toEqual([]);
    }

    // Each agent resolves its own instance when it prefers itself (the address alone).
    for (const agent of agents) {
      const out = await shoal('resolve', 'api', '--prefer', 'self', '--http', agent.hostPort);
      expect(out, out.err).toMatchObject({ code: 0, out: `${agent.name}:8080\n` });
    }
    // Five resolutions without a preference visit the five instances once each.
    const visited: string[] = [];
    for (let i = 0; i < 5; i++) {
      const out = await shoal('resolve', 'api', '--http', first.hostPort);
      expect(out.code, out.err).toBe(0);
      visited.push(out.out.trim());
    }
    expect(visited.sort().join(' ')).toBe(allApi);

    // Least-loaded: the same node from every agent, the one with the lowest load (five-4).
    const leastFrom = async (agent: Agent): Promise<string> => {
      const out = await shoal(
        'processes',
        '--type',
        'encoder',
        '--least-loaded',
        '--http',
        agent.hostPort,
      );
      return out.code === 0 ? (out.out.split(' ')[0] ?? '') : `exit ${out.code}: ${out.err}`;
    };
    await everywhere(agents, leastFrom, 'five-4', 'least-loaded is five-4');
    const table = await shoal('processes', '--capability', 'av1', '--http', first.hostPort);
    expect(table.code, table.err).toBe(0);
    for (const [i, name] of names.entries())
      expect(table.out).toMatch(new RegExp(`enc-${i + 1} +${name} +encoder +running +${loads[i]}`));
    // five-4 withdraws its encoder: the least-loaded moves to five-2 everywhere.
    const four = agents[3] as Agent;
    const del = await fetch(`${four.http}/v1/processes/enc-4`, {
      method: 'DELETE',
      headers: bearer,
    });
    expect(await del.json()).toEqual({ withdrawn: true });
    await everywhere(agents, leastFrom, 'five-2', 'least-loaded moved to five-2');

    // Every agent places a key on the same three owners.
    const placed = await Promise.all(
      agents.map(async (agent) => {
        const out = await shoal(
          'place',
          'user:42',
          '--replicas',
          '3',
          '--json',
          '--http',
          agent.hostPort,
        );
        return (JSON.parse(out.out) as { owners: string[] }).owners.join(' ');
      }),
    );
    expect(placed[0]?.split(' ')).toHaveLength(3);
    expect(new Set(placed).size).toBe(1);

    // A withdrawn instance disappears everywhere.
    const two = agents[1] as Agent;
    const withdrawn = await fetch(`${two.http}/v1/services/api`, {
      method: 'DELETE',
      headers: bearer,
    });
    expect(await withdrawn.json()).toEqual({ withdrawn: true });
    const withoutTwo = names
      .filter((n) => n !== 'five-2')
      .map((n) => `${n}:8080`)
      .join(' ');
    await everywhere(agents, apiAddresses, withoutTwo, 'no longer lists five-2');

    // five-5 leaves gracefully (SIGINT): gone from every remaining agent's list and resolution.
    const five = agents[4] as Agent;
    five.child.process.kill('SIGINT');
    expect(await exitWithin(five.child, 30_000)).toEqual({ code: 0, signal: null });
    const remaining = agents.slice(0, 4);
    const afterLeave = ['five-1', 'five-3', 'five-4'].map((n) => `${n}:8080`).join(' ');
    await everywhere(remaining, apiAddresses, afterLeave, 'no longer lists five-5');
    for (const agent of remaining) {
      const out = await shoal('resolve', 'api', '--prefer', five.id, '--http', agent.hostPort);
      expect(out.code, out.err).toBe(0);
      expect(out.out).not.toBe('five-5:8080\n');
    }
  }, 240_000);
});
