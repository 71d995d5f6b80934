/**
 * The worker tier as real processes (issue 15): three `shoal agent --mode worker-server` (Raft
 * over loopback, the workers' gRPC listener with mTLS) and five `shoal agent --mode worker`,
 * driven through the CLI (`shoal token create`) and the HTTP API (`/v1/workers`, `/v1/scale`).
 * Two workers are killed (SIGKILL): the leader marks them down and their replicas move to the
 * live workers within a bound. Then the Raft leader is killed: a new leader takes the deadlines
 * with the failover TTL and no live worker is marked down. Every wait is a condition with a
 * bound; every process is this test's own, ended by PID.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { shoal } from '../helpers/run-cli.js';
import { agentStarted, killChildren, spawnShoal, type Child } from '../helpers/shoal-process.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const SERVERS = 3;
const WORKERS = 5;
/** TTL base 1 s (TTLs in [1, 2) s), grace 5 s: a dead worker is down within about 8 s. */
const TIER_OPTIONS = [
  'modeOptions:',
  '  minHeartbeatTtlMs: 1000',
  '  heartbeatGraceMs: 5000',
  '  failoverHeartbeatTtlMs: 10000',
].join('\n');

interface WorkerRow {
  id: string;
  name: string;
  status: string;
  ttlMs?: number;
  assignments: number;
}

async function get<T>(http: string, path: string): Promise<T | undefined> {
  try {
    const answer = await fetch(`http://${http}${path}`, { signal: AbortSignal.timeout(5_000) });
    return answer.ok ? ((await answer.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

const base = mkdtempSync(join(tmpdir(), 'shoal-tier-proc-'));
afterAll(() => {
  killChildren();
  rmSync(base, { recursive: true, force: true });
});

describe('worker tier as processes (3 servers, 5 workers, gRPC + mTLS)', () => {
  it('moves the replicas of killed workers and keeps every live worker up across a leader kill', async () => {
    const ports = await freeClusterAddresses(SERVERS * 3 + WORKERS);
    const raft = ports.slice(0, SERVERS);
    const httpOf = ports.slice(SERVERS, SERVERS * 2);
    const listen = ports.slice(SERVERS * 2, SERVERS * 3);
    const workerHttp = ports.slice(SERVERS * 3);
    const configFile = join(base, 'tier.yaml');
    writeFileSync(configFile, `${TIER_OPTIONS}\n`);
    const servers: Child[] = [];
    for (let i = 0; i < SERVERS; i++)
      servers.push(
        spawnShoal([
          'agent',
          '--config',
          configFile,
          '--mode',
          'worker-server',
          '--name',
          `s${i}`,
          '--bind',
          raft[i] as string,
          '--http',
          httpOf[i] as string,
          '--peers',
          ...raft,
          '--worker-listen',
          listen[i] as string,
          '--data-dir',
          join(base, `s${i}`),
          '--profile',
          'local',
          '--cluster-id',
          'tier',
          '--log-level',
          'info',
        ]),
      );
    const started = await Promise.all(servers.map((s) => agentStarted(s, 60_000)));
    const ids = started.map((s) => s.id);
    let leader = -1;
    await waitForAsync(
      async () => {
        const answers = await Promise.all(
          httpOf.map((h) => get<{ leader: string | null }>(h, '/v1/leader')),
        );
        const agreed = new Set(answers.map((a) => a?.leader ?? null));
        const id = [...agreed][0];
        leader = agreed.size === 1 && id !== null && id !== undefined ? ids.indexOf(id) : -1;
        return leader >= 0;
      },
      60_000,
      'one Raft leader all servers follow',
    );
    const leaderHttp = httpOf[leader] as string;
    await waitForAsync(
      async () => (await get<{ workers: WorkerRow[] }>(leaderHttp, '/v1/workers')) !== undefined,
      30_000,
      'the leader serves /v1/workers',
    );
    const created = await shoal(
      'token',
      'create',
      '--max-uses',
      String(WORKERS),
      '--ttl',
      '1h',
      '--http',
      leaderHttp,
    );
    expect(created.code, created.err).toBe(0);
    const tokenFile = join(base, 'worker.token');
    writeFileSync(tokenFile, created.out);
    const workers: Child[] = [];
    for (let i = 0; i < WORKERS; i++)
      workers.push(
        spawnShoal([
          'agent',
          '--mode',
          'worker',
          '--name',
          `w${i}`,
          '--http',
          workerHttp[i] as string,
          '--servers',
          ...listen,
          '--token-file',
          tokenFile,
          '--data-dir',
          join(base, `w${i}`),
          '--cluster-id',
          'tier',
        ]),
      );
    await Promise.all(workers.map((w) => agentStarted(w, 60_000)));
    const rows = async (http: string): Promise<WorkerRow[]> =>
      (await get<{ workers: WorkerRow[] }>(http, '/v1/workers'))?.workers ?? [];
    await waitForAsync(
      async () =>
        (await rows(leaderHttp)).filter((w) => w.status === 'registered').length === WORKERS,
      60_000,
      'five workers registered',
    );
    const scaled = await fetch(`http://${leaderHttp}/v1/scale/web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replicas: WORKERS, placement: { servers: false } }),
    });
    expect(scaled.status).toBe(200);
    await waitForAsync(
      async () => (await rows(leaderHttp)).every((w) => w.assignments === 1),
      60_000,
      'one replica on each worker',
    );
    // Kill two workers: they go down and their replicas move to the three live ones.
    const killed = new Set(['w0', 'w1']);
    for (const i of [0, 1]) workers[i]?.process.kill('SIGKILL');
    let last: WorkerRow[] = [];
    await waitForAsync(
      async () => {
        last = await rows(leaderHttp);
        const dead = last.filter((w) => killed.has(w.name));
        const live = last.filter((w) => !killed.has(w.name));
        return (
          dead.every((w) => w.status === 'down' && w.assignments === 0) &&
          live.every((w) => w.status === 'registered') &&
          live.reduce((n, w) => n + w.assignments, 0) === WORKERS
        );
      },
      60_000,
      'the killed workers down and their replicas moved to the live ones',
    );
    // Kill the Raft leader: a new leader tracks the live workers and marks none down.
    servers[leader]?.process.kill('SIGKILL');
    const rest = httpOf.filter((_, i) => i !== leader);
    let next = '';
    await waitForAsync(
      async () => {
        for (const h of rest) {
          const answer = await get<{ leading: boolean }>(h, '/v1/workers');
          if (answer?.leading === true) next = h;
        }
        return next !== '';
      },
      60_000,
      'a new leader leads the tier',
    );
    await waitForAsync(
      async () => {
        last = await rows(next);
        return last.filter((w) => !killed.has(w.name)).every((w) => w.ttlMs !== undefined);
      },
      30_000,
      'the new leader tracks the live workers',
    );
    // Longer than a whole TTL plus grace (2 s + 5 s): every live worker has heartbeated the new
    // leader by then or would be marked down; the check is that none is.
    const until = Date.now() + 10_000;
    await waitFor(() => Date.now() >= until, 15_000, 'ten seconds under the new leader');
    last = await rows(next);
    expect(last.filter((w) => !killed.has(w.name)).map((w) => w.status)).toEqual([
      'registered',
      'registered',
      'registered',
    ]);
    expect(last.filter((w) => !killed.has(w.name)).reduce((n, w) => n + w.assignments, 0)).toBe(
      WORKERS,
    );
  }, 400_000);
});
