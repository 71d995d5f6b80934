/**
 * The registration storm's two mechanisms (docs/design/worker-tier.md, "The registration
 * storm"), over real gRPC with mTLS on loopback and the KvDouble: group commit (signed
 * registrations propose their txns in ONE turn of the event loop, which the Raft layer steps as
 * one input and one fsync) and channels shared by a load generator's workers (the certificate-
 * less bundle fetch and pinned registration; the mTLS channel stays each worker's own). No
 * timing is asserted: the group waits for its size (the linger is set far beyond the test).
 */
import type * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { TxnRequest } from '../../src/kv/types.js';
import { workerServerConfig } from '../../src/worker/core/config.js';
import { progressIntervalMsFor } from '../../src/worker/server.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_SERVER, Tier } from './harness.js';

let tier: Tier | undefined;
afterEach(async () => {
  await tier?.close();
  tier = undefined;
});

const decoder = new TextDecoder();
/** A registration txn: its first compare is on the worker's token-use key (core/txns.ts). */
const isRegistration = (request: TxnRequest): boolean => {
  const key = request.compare[0]?.key;
  return key !== undefined && decoder.decode(key).includes('/token-use/');
};

/** Records, for every registration txn the store receives, the event-loop turn it came in. */
function turnsOfRegistrations(t: Tier): number[] {
  const turns: number[] = [];
  let turn = 0;
  let ticking = false;
  const txn = t.kv.txn.bind(t.kv);
  t.kv.txn = (request: TxnRequest) => {
    if (!ticking) {
      ticking = true;
      setImmediate(() => {
        turn++;
        ticking = false;
      });
    }
    if (isRegistration(request)) turns.push(turn);
    return txn(request);
  };
  return turns;
}

const registered = (t: Tier, n: number) => () =>
  t.workers.filter((w) => w.clientState.phase === 'registered').length >= n;

describe('registration storm', () => {
  it('proposes a group of signed registrations in one turn (group commit)', async () => {
    const t = (tier = new Tier());
    // The group goes at 4 signed registrations; the linger (10 min) never fires in this test.
    await t.addServer({ ...FAST_SERVER, registrationGroupMin: 4, registrationLingerMs: 600_000 });
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.servers.size === 1, 5_000, 'server published');
    const turns = turnsOfRegistrations(t);
    const { token } = t.servers[0]!.createToken({ maxUses: 8 });
    // Long call deadlines: a worker waiting for its group must not retry (a retry signs again).
    const client = { callTimeoutMs: 120_000 };
    for (let i = 0; i < 3; i++) await t.addWorker(token, { client });
    await waitFor(
      () => t.servers[0]!.counters.registering === 3,
      20_000,
      () => `three registrations signed and waiting: ${t.servers[0]!.counters.registering}`,
    );
    // Three wait for a fourth: nothing was proposed yet.
    expect(turns).toEqual([]);
    expect(t.servers[0]!.counters.registrationGroups).toBe(0);
    await t.addWorker(token, { client });
    await waitFor(registered(t, 4), 30_000, 'four workers registered');
    expect(turns).toHaveLength(4);
    expect(new Set(turns).size).toBe(1);
    expect(t.servers[0]!.counters.registrationGroups).toBe(1);
    expect(t.servers[0]!.stats()['registration_groups']).toBe(1);
  });

  it('a worker alone is proposed when the linger passes, not held for a group', async () => {
    const t = (tier = new Tier());
    await t.addServer({ ...FAST_SERVER, registrationGroupMin: 64, registrationLingerMs: 1 });
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.servers.size === 1, 5_000, 'server published');
    const { token } = t.servers[0]!.createToken({ maxUses: 1 });
    await t.addWorker(token, { client: { callTimeoutMs: 120_000 } });
    await waitFor(registered(t, 1), 30_000, 'the lone worker registered');
    expect(t.servers[0]!.counters.registrationGroups).toBe(1);
  });

  it('workers sharing certificate-less channels register, each with its own mTLS channel', async () => {
    const t = (tier = new Tier());
    await t.addServer();
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.servers.size === 1, 5_000, 'server published');
    const { token } = t.servers[0]!.createToken({ maxUses: 3 });
    const shared = new Map<string, grpc.Client>();
    for (let i = 0; i < 3; i++) await t.addWorker(token, { sharedChannels: shared });
    await waitFor(registered(t, 3), 20_000, 'three workers registered');
    // One unverified channel (bundle) and one pinned channel (registration) for all three.
    expect([...shared.keys()].map((k) => k.split('|')[1]).sort()).toEqual(['open', 'pinned']);
    // Each worker heartbeats over its own certificate: the server knows three callers.
    await waitFor(
      () => t.workers.every((w) => w.clientState.lastAckMs !== undefined),
      20_000,
      'every worker heartbeat acked',
    );
    expect(new Set(t.workers.map((w) => w.id)).size).toBe(3);
    expect(t.servers[0]!.view.workers.size).toBe(3);
    for (const c of shared.values()) c.close();
  });

  it('sends progress notifications no more often than the heartbeat budget allows', () => {
    const config = workerServerConfig();
    // Few workers: every 30 s; 10,000 at 50 heartbeats/s: every TTL base (200 s), 50 messages/s.
    expect(progressIntervalMsFor(10, config)).toBe(30_000);
    expect(progressIntervalMsFor(10_000, config)).toBe(200_000);
    expect(10_000 / (progressIntervalMsFor(10_000, config) / 1000)).toBeLessThanOrEqual(
      config.maxHeartbeatsPerSecond,
    );
  });
});
