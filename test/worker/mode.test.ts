/**
 * The `worker` and `worker-server` modes of createNode (INTERFACE.md, "Modes"): options, and a
 * whole tier in process over the real wiring: three worker-server nodes (Raft over loopback,
 * the store a real raft KvService, the workers' listener over gRPC and mTLS) and two worker
 * nodes that register with a token from `node.workers`, get a scaled service's replicas, and
 * stay registered when the Raft leader closes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import type { WorkerServer } from '../../src/worker/server.js';
import { agreedLeader } from '../node/raft-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { Tier } from './harness.js';

let tier: Tier | undefined;
afterEach(async () => {
  await tier?.close();
  tier = undefined;
});

const peers = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];

describe('mode options', () => {
  it.each([
    [{ kind: 'worker-server', peers: peers.slice(0, 2) }, 'mode.peers'],
    [
      { kind: 'worker-server', peers, minHeartbeatTtlMs: 700_000 },
      'minHeartbeatTtlMs (700000) must be below maxHeartbeatTtlMs (600000)',
    ],
    [
      { kind: 'worker-server', peers, failoverHeartbeatTtlMs: 1_000 },
      'failoverHeartbeatTtlMs (1000) must be at least 10 × minHeartbeatTtlMs (100000)',
    ],
    [{ kind: 'worker', servers: [] }, 'mode.servers'],
  ])('%j is refused naming the field', (mode, message) => {
    expect(() => resolveNodeOptions({ name: 'a', dataDir: '/tmp/x', mode })).toThrow(message);
  });
});

describe('worker mode', () => {
  it('registers with the token file and yields its assignments through node.assignments()', async () => {
    const t = (tier = new Tier());
    await t.addServer();
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.caPems.size === 1, 5_000, 'CA published');
    const tokenFile = join(t.dir, 'token');
    writeFileSync(tokenFile, `${t.servers[0]!.createToken({ maxUses: 1 }).token}\n`);
    const node = await createNode({
      name: 'w1',
      dataDir: join(t.dir, 'node'),
      mode: { kind: 'worker', servers: [t.servers[0]!.address], tokenFile },
      labels: { zone: 'a' },
    });
    try {
      await waitFor(() => t.servers[0]!.view.workers.size === 1, 10_000, 'registered');
      await t.servers[0]!.scale('api', 2, {
        spec: { image: 'api:1' },
        placement: { servers: false },
      });
      const seen: string[] = [];
      let sets = 0;
      const signal = AbortSignal.timeout(10_000);
      // The scale may land before or after the stream opens: in the snapshot or in a batch.
      for await (const update of node.assignments({ signal })) {
        seen.push(update.kind);
        sets +=
          update.kind === 'snapshot'
            ? update.assignments.length
            : update.events.filter((e) => e.type === 'set').length;
        if (sets > 0) break;
      }
      expect(seen[0]).toBe('snapshot');
      expect(sets).toBeGreaterThan(0);
      expect([...t.servers[0]!.view.workers.values()][0]?.labels).toEqual({ zone: 'a' });
      expect(node.stats().protocol['workerRegistered']).toBe(1);
    } finally {
      await node.close();
    }
  });
});

describe('worker-server mode', () => {
  it('serves the tier on the raft store: tokens, registration, scale, the reserved prefix, a leader change', async () => {
    const base = mkdtempSync(join(tmpdir(), 'shoal-ws-'));
    const addresses = await freeClusterAddresses(3);
    const nodes: ShoalNode[] = [];
    const workers: ShoalNode[] = [];
    try {
      for (let i = 0; i < 3; i++)
        nodes.push(
          await createNode({
            name: `s${i}`,
            dataDir: join(base, `s${i}`),
            bind: addresses[i] as string,
            mode: {
              kind: 'worker-server',
              peers: addresses,
              workerListen: '127.0.0.1:0',
              minHeartbeatTtlMs: 1_000,
              heartbeatGraceMs: 5_000,
              failoverHeartbeatTtlMs: 10_000,
            },
          }),
        );
      const leader = await agreedLeader(nodes);
      const tiers = nodes.map((n) => n.workers as WorkerServer);
      await waitFor(
        () => tiers.every((t) => t.view.servers.size === 3),
        20_000,
        'every server published its CA and address',
      );
      const tokenFile = join(base, 'token');
      writeFileSync(tokenFile, `${tiers[1]!.createToken({ maxUses: 3 }).token}\n`);
      // Worker i starts at server i: one talks to the Raft leader, two to followers.
      const addressList = tiers.map((t) => t.address);
      for (let i = 0; i < 3; i++)
        workers.push(
          await createNode({
            name: `w${i}`,
            dataDir: join(base, `w${i}`),
            mode: {
              kind: 'worker',
              servers: [...addressList.slice(i), ...addressList.slice(0, i)],
              tokenFile,
            },
          }),
        );
      await waitFor(
        () => tiers.every((t) => t.view.workers.size === 3),
        20_000,
        'the workers registered, on every server',
      );
      // Users cannot write the tier's keys through the node's store.
      await expect(leader.kv.put('\0shoal/worker/worker/x', 'forged')).rejects.toMatchObject({
        code: 'ERR_RESERVED_KEY',
      });
      const leaderTier = leader.workers as WorkerServer;
      await leaderTier.scale('web', 3, { spec: { v: 1 }, placement: { servers: false } });
      await waitFor(
        () => leaderTier.list().every((w) => w.assignments === 1),
        20_000,
        () => `one replica per worker: ${JSON.stringify(leaderTier.list())}`,
      );
      // Heartbeats are never Raft writes: once the writes of registration and scale are done,
      // five heartbeats pass with the commit index unmoved (were each one an entry, never).
      const beats = () => tiers.reduce((n, t) => n + t.counters.heartbeats, 0);
      let quiet = false;
      for (let round = 0; round < 10 && !quiet; round++) {
        const commit = leader.raft.status().commitIndex;
        const h = beats();
        await waitFor(() => beats() >= h + 5, 20_000, 'five more heartbeats');
        quiet = leader.raft.status().commitIndex === commit;
      }
      expect(quiet).toBe(true);
      // The leader closes: a new one takes the deadlines with the failover TTL; nobody is down.
      // The workers on followers keep their streams (served from applied state) and get what
      // the new leader commits on them; the leader's worker moves to its warm standby channel.
      const leaderAddress = (leader.workers as WorkerServer).address;
      const onFollowers = workers.filter(
        (w, i) => [...addressList.slice(i), ...addressList.slice(0, i)][0] !== leaderAddress,
      );
      expect(onFollowers).toHaveLength(2);
      const streamsBefore = onFollowers.map(
        (w) => w.worker!.clientState.counters.calls.assignments,
      );
      await leader.close();
      const rest = nodes.filter((n) => n !== leader);
      const next = await agreedLeader(rest);
      expect(next.id).not.toBe(leader.id);
      const nextTier = next.workers as WorkerServer;
      await waitFor(() => nextTier.leading, 20_000, 'the new leader leads the tier');
      await waitFor(
        () => nextTier.list().every((w) => w.ttlMs !== undefined && w.status === 'registered'),
        20_000,
        () => `both workers tracked by the new leader: ${JSON.stringify(nextTier.list())}`,
      );
      expect(nextTier.stats()['workers_down']).toBe(0);
      await nextTier.scale('web', 3, { spec: { v: 2 }, placement: { servers: false } });
      await waitFor(
        () =>
          workers.every((w) =>
            [...w.worker!.current.values()].some(
              (a) => a.type === 'set' && (a.spec as { v: number }).v === 2,
            ),
          ),
        20_000,
        "every worker got the new leader's spec",
      );
      expect(onFollowers.map((w) => w.worker!.clientState.counters.calls.assignments)).toEqual(
        streamsBefore,
      );
      expect(onFollowers.map((w) => w.worker!.clientState.counters.serverSwitches)).toEqual([0, 0]);
      for (const w of workers) expect(w.stats().protocol['workerDuplicateBatches']).toBe(0);
    } finally {
      await Promise.all([...workers, ...nodes].map((n) => n.close()));
      rmSync(base, { recursive: true, force: true });
    }
  });
});
