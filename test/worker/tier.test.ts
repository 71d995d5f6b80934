/**
 * The worker tier end to end, in one process: WorkerServers over one KvDouble (the replicated
 * store until raft mode lands) and Workers over real gRPC with mTLS on loopback. Every wait is
 * bounded and polls a condition; the timings are FAST_SERVER's (TTL base 300 ms, grace 300 ms).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { workerApi } from '../../src/worker/api.js';
import { prefixes } from '../../src/worker/core/layout.js';
import { unverifiedCredentials } from '../../src/worker/tls.js';
import type { Worker } from '../../src/worker/worker.js';
import { waitFor } from '../helpers/wait.js';
import { Tier } from './harness.js';

let tier: Tier | undefined;
afterEach(async () => {
  await tier?.close();
  tier = undefined;
});

const registered = (t: Tier, n: number) => () =>
  t.workers.filter((w) => w.clientState.phase === 'registered').length >= n;
const phases = (t: Tier) => () =>
  t.workers
    .map(
      (w) =>
        `${w.clientState.phase} ${JSON.stringify(w.clientState.counters.failures)} ${w.stopReason ?? ''}`,
    )
    .join('; ');

describe('worker tier over gRPC and mTLS', () => {
  it('registers workers with a token, refuses the use beyond its maximum, and heartbeats without writing the store', async () => {
    const t = (tier = new Tier());
    await t.addServer();
    await t.addServer();
    t.setLeader(0);
    await waitFor(
      () => t.servers.every((s) => s.view.servers.size === 2),
      5_000,
      'both servers published',
    );
    const { token } = t.servers[1]!.createToken({ maxUses: 3, labels: { zone: 'a' } });
    for (let i = 0; i < 4; i++) await t.addWorker(token);
    await waitFor(registered(t, 3), 10_000, () => `three workers registered: ${phases(t)()}`);
    const fourth = t.workers[3]!;
    await waitFor(() => fourth.stopReason !== undefined, 10_000, 'the fourth registration refused');
    expect(fourth.stopReason).toMatch(/used-up/);
    expect(t.servers[0]!.view.workers.size).toBe(3);
    for (const w of t.servers[0]!.view.workers.values()) expect(w.labels).toEqual({ zone: 'a' });
    // Heartbeats (through the follower too: workers start at server 0 or 1 by list order) add no store write.
    await waitFor(
      () => t.workers.slice(0, 3).every((w) => w.clientState.lastAckMs !== undefined),
      5_000,
      'heartbeats acked',
    );
    const writes = t.kv.applied.length;
    const beats = t.servers[0]!.counters.heartbeats + t.servers[1]!.counters.heartbeats;
    await waitFor(
      () => t.servers[0]!.counters.heartbeats + t.servers[1]!.counters.heartbeats >= beats + 6,
      10_000,
      'six more heartbeats',
    );
    expect(t.kv.applied.length).toBe(writes);
  });

  it("scales a service across servers and workers, never all on the leader, and moves a dead worker's replicas", async () => {
    const t = (tier = new Tier());
    for (let i = 0; i < 3; i++) await t.addServer();
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.servers.size === 3, 5_000, 'servers published');
    const { token } = t.servers[0]!.createToken({ maxUses: 5 });
    for (let i = 0; i < 5; i++) await t.addWorker(token);
    await waitFor(registered(t, 5), 10_000, () => `five workers registered: ${phases(t)()}`);
    await t.servers[2]!.scale('api', 8, {
      spec: { image: 'api:1' },
      roles: ['primary', 'replica'],
    });
    const placed = () => t.servers[0]!.state('api').placed === 8;
    await waitFor(placed, 5_000, 'eight replicas placed');
    const holders = new Set(t.servers[0]!.state('api').nodes.map((n) => n.nodeId));
    expect(holders.size).toBeGreaterThan(1);
    // Every worker sees its own assignments, with the full spec.
    await waitFor(
      () => t.workers.reduce((n, w) => n + w.current.size, 0) >= 8 - 3 * 1,
      5_000,
      () => `workers hold ${t.workers.map((w) => w.current.size).join(',')}`,
    );
    for (const w of t.workers)
      for (const a of w.current.values())
        expect(a).toMatchObject({ type: 'set', spec: { image: 'api:1' } });
    // Kill two workers that hold replicas: they go down and their replicas move within a bound.
    const victims = t.workers.filter((w) => w.current.size > 0).slice(0, 2);
    for (const v of victims) await v.close();
    const ids = victims.map((v) => v.id);
    await waitFor(
      () => ids.every((id) => t.servers[0]!.view.workers.get(id)?.status === 'down'),
      10_000,
      () =>
        `victims down: ${JSON.stringify(t.servers[0]!.list().filter((w) => ids.includes(w.id)))} ${JSON.stringify(t.servers[0]!.stats())}`,
    );
    await waitFor(
      () => {
        const s = t.servers[0]!.state('api');
        return s.placed === 8 && s.nodes.every((n) => !ids.includes(n.nodeId));
      },
      10_000,
      () =>
        JSON.stringify(
          t.servers[0]!.state('api').nodes.map((n) => [n.nodeId.slice(0, 6), n.indices]),
        ),
    );
  });

  it('a leader change declares no live worker down (failover TTL), and long-polls resume without gaps', async () => {
    const t = (tier = new Tier());
    for (let i = 0; i < 3; i++) await t.addServer();
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.servers.size === 3, 5_000, 'servers published');
    const { token } = t.servers[0]!.createToken({ maxUses: 4 });
    for (let i = 0; i < 4; i++) await t.addWorker(token, { mode: i % 2 === 0 ? 'poll' : 'stream' });
    await waitFor(registered(t, 4), 10_000, () => `four workers registered: ${phases(t)()}`);
    await t.servers[0]!.scale('db', 4, { spec: { v: 1 }, placement: { servers: false } });
    await waitFor(() => t.workers.every((w) => w.current.size === 1), 10_000, 'one replica each');
    for (let round = 1; round <= 3; round++) {
      t.setLeader(round % 3);
      await t.servers[round % 3]!.scale('db', 4, {
        spec: { v: round + 1 },
        placement: { servers: false },
      });
      await waitFor(
        () =>
          t.workers.every((w) =>
            [...w.current.values()].every(
              (a) => a.type === 'set' && (a.spec as { v: number }).v === round + 1,
            ),
          ),
        10_000,
        `every worker runs spec v${round + 1}`,
      );
    }
    // Let several TTLs pass under the last leader: nobody is down.
    const beats = t.servers.reduce((n, s) => n + s.counters.heartbeats, 0);
    await waitFor(
      () => t.servers.reduce((n, s) => n + s.counters.heartbeats, 0) >= beats + 12,
      10_000,
      'more heartbeats',
    );
    for (const w of t.servers[0]!.view.workers.values()) expect(w.status).toBe('registered');
    for (const w of t.workers) expect(w.clientState.counters.duplicateBatches).toBe(0);
  });

  it("a worker whose server dies moves onto its warm standby channel and resumes from its last revision; a follower's stream is untouched", async () => {
    const t = (tier = new Tier());
    for (let i = 0; i < 3; i++) await t.addServer();
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.servers.size === 3, 5_000, 'servers published');
    const { token } = t.servers[0]!.createToken({ maxUses: 2 });
    const addresses = t.servers.map((s) => s.address);
    // The mover starts at server 0 (which dies), the stayer at server 1 (a follower).
    const mover = await t.addWorker(token, { servers: addresses });
    const stayer = await t.addWorker(token, { servers: [...addresses.slice(1), addresses[0]!] });
    await waitFor(registered(t, 2), 10_000, () => `two workers registered: ${phases(t)()}`);
    // Every update each worker hands the application, in order.
    const seen = new Map<Worker, { kind: string; revision: number }[]>();
    const abort = new AbortController();
    const readers = [mover, stayer].map(async (w) => {
      const list: { kind: string; revision: number }[] = [];
      seen.set(w, list);
      for await (const u of w.assignments({ signal: abort.signal }))
        list.push({ kind: u.kind, revision: u.revision });
    });
    const runs = (v: number) => () =>
      [mover, stayer].every(
        (w) =>
          w.current.size === 1 &&
          [...w.current.values()].every(
            (a) => a.type === 'set' && (a.spec as { v: number }).v === v,
          ),
      );
    await t.servers[0]!.scale('db', 2, { spec: { v: 1 }, placement: { servers: false } });
    await waitFor(runs(1), 10_000, 'every worker runs spec v1');
    await waitFor(
      () => mover.standbyCounters.warmed === 1 && stayer.standbyCounters.warmed === 1,
      10_000,
      'standby channels made',
    );
    const stayerStreams = stayer.clientState.counters.calls.assignments;
    // Server 0 crashes; server 1 leads and commits while the mover is on its way.
    t.servers[0]!.halt();
    t.setLeader(1);
    for (let v = 2; v <= 4; v++) {
      await t.servers[1]!.scale('db', 2, { spec: { v }, placement: { servers: false } });
      await waitFor(runs(v), 10_000, () => `every worker runs spec v${v}: ${phases(t)()}`);
    }
    expect(mover.clientState.counters.serverSwitches).toBe(1);
    expect(mover.standbyCounters.moves).toBe(1);
    expect(mover.standbyCounters.movesWarm).toBe(1);
    expect(stayer.clientState.counters.serverSwitches).toBe(0);
    expect(stayer.clientState.counters.calls.assignments).toBe(stayerStreams);
    abort.abort();
    await Promise.all(readers);
    // No revision missed or repeated: after its snapshot each worker got exactly the store's
    // revisions that touched its assignments, in order.
    for (const w of [mover, stayer]) {
      const list = seen.get(w)!;
      expect(list[0]?.kind).toBe('snapshot');
      const from = list[0]!.revision;
      const range = prefixes.assignmentsOf(w.id);
      const watch = t.kv.watch({
        key: range.key,
        rangeEnd: range.rangeEnd,
        fromRevision: from + 1,
      });
      const store: number[] = [];
      for await (const batch of watch.batches) {
        if (batch.kind !== 'events') break;
        for (const e of batch.events) if (store.at(-1) !== e.revision) store.push(e.revision);
        if (store.at(-1)! >= w.lastRevision) break;
      }
      watch.cancel();
      expect(list.slice(1).map((u) => u.revision)).toEqual(store);
      expect(store.length).toBeGreaterThanOrEqual(3);
      expect(w.clientState.counters.duplicateBatches).toBe(0);
    }
  });

  it('refuses every call but TrustBundle and Register without a worker certificate', async () => {
    const t = (tier = new Tier());
    await t.addServer();
    t.setLeader(0);
    const Api = workerApi();
    const client = new Api(t.servers[0]!.address, unverifiedCredentials()) as unknown as Record<
      string,
      (...a: unknown[]) => void
    > &
      grpc.Client;
    const call = (method: string) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        client[method]?.({}, (err: grpc.ServiceError | null) => resolve(err)),
      );
    expect(await call('trustBundle')).toBeNull();
    expect((await call('heartbeat'))?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await call('renew'))?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await call('register'))?.code).toBe(grpc.status.PERMISSION_DENIED);
    client.close();
  });
});
