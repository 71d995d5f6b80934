/**
 * How a raft member's writes travel (src/node/raft-kv-proposals.ts), on a scripted route and the
 * simulator's clock: a write is answered when its entry applies here (matched by its session);
 * every retry carries the same session, so a write applies at most once however often it is
 * sent (Raft thesis §6.3); ERR_NO_LEADER when nothing was sent, ERR_TIMEOUT after something
 * was; a lane whose session the store evicted is replaced; the pending limit at limit - 1,
 * limit, limit + 1.
 */
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { decodeCommand } from '../../src/kv/codec.js';
import { kvConfig } from '../../src/kv/config.js';
import { revision, type ApplyOutput, type KvError, type KvOp } from '../../src/kv/types.js';
import { sessionKey } from '../../src/node/raft-kv-machine.js';
import { Proposals } from '../../src/node/raft-kv-proposals.js';
import type { RpcOutcome } from '../../src/node/raft-rpc.js';
import { SimClock } from '../../src/sim/clock.js';

const config = kvConfig();
const PUT: KvOp = {
  kind: 'put',
  request: { key: new TextEncoder().encode('k'), value: new Uint8Array(1) },
};
const PUT_OUTPUT: ApplyOutput = {
  result: { kind: 'put', revision: revision(2) },
  events: [],
  leaseChanges: [],
  duplicate: false,
};
const EXPIRED: ApplyOutput = {
  result: { kind: 'error', code: 'ERR_SESSION_EXPIRED', message: 'evicted' } as KvError,
  events: [],
  leaseChanges: [],
  duplicate: false,
};

/** A route whose attempts the test answers by hand. */
const LEADER_WAIT_MS = 300;

function harness(options: { pendingMax?: number; timeoutMs?: number } = {}) {
  const clock = new SimClock();
  let leader: string | undefined = 'n1@1';
  const sent: { data: Uint8Array; answer: (o: RpcOutcome) => void }[] = [];
  const proposals = new Proposals({
    route: {
      leaderKey: () => leader,
      send: (data) => new Promise((resolve) => sent.push({ data, answer: resolve })),
    },
    clock,
    config,
    clientIdPrefix: 'm.b',
    timeoutMs: options.timeoutMs ?? 5_000,
    retryDelayMs: 100,
    leaderWaitMs: LEADER_WAIT_MS,
    pendingMax: options.pendingMax ?? 100,
  });
  const keyOf = (data: Uint8Array): string => {
    const decoded = decodeCommand(data, config);
    if (!decoded.ok || decoded.value.session === undefined) throw new Error('no session');
    return sessionKey(decoded.value.session);
  };
  const run = (ms: number) => clock.runUntil(clock.now() + ms, { eventsMax: 10_000 });
  return {
    clock,
    proposals,
    sent,
    keyOf,
    run,
    setLeader: (key: string | undefined) => (leader = key),
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('writes of a raft member', () => {
  it('is answered with the output of its entry applying here, matched by its session', async () => {
    const h = harness();
    const write = h.proposals.submit(PUT);
    expect(h.sent).toHaveLength(1);
    const key = h.keyOf(h.sent[0]?.data as Uint8Array);
    expect(key).toBe(sessionKey({ clientId: 'm.b.1', seq: 1 }));
    h.proposals.onResult('someone-else\u00001', PUT_OUTPUT);
    h.proposals.onResult(key, PUT_OUTPUT);
    expect(await write).toBe(PUT_OUTPUT);
    // The lane is free again: the next write takes the next seq of the same session.
    void h.proposals.submit(PUT).catch(() => undefined);
    expect(h.keyOf(h.sent[1]?.data as Uint8Array)).toBe(sessionKey({ clientId: 'm.b.1', seq: 2 }));
  });

  it('every retry carries the same bytes (one session, one seq: it applies at most once)', async () => {
    const h = harness();
    const write = h.proposals.submit(PUT);
    h.sent[0]?.answer({ kind: 'refused', reason: 'not-leader', message: 'moved' });
    await flush();
    h.run(100);
    expect(h.sent).toHaveLength(2);
    h.setLeader('n2@2');
    h.proposals.onLeaderChange();
    expect(h.sent).toHaveLength(3);
    h.sent[1]?.answer({ kind: 'refused', reason: 'dropped', message: 'overwritten' });
    h.sent[2]?.answer({ kind: 'refused', reason: 'timeout', message: 'lost' });
    await flush();
    h.run(100);
    expect(h.sent.length).toBeGreaterThan(3);
    const first = h.sent[0]?.data as Uint8Array;
    for (const attempt of h.sent) expect(attempt.data).toEqual(first);
    h.proposals.onResult(h.keyOf(first), PUT_OUTPUT);
    expect(await write).toBe(PUT_OUTPUT);
    expect(h.proposals.counters.retries).toBe(h.sent.length - 1);
  });

  it('ERR_NO_LEADER when no leader comes within leaderWaitMs, or none was reached by the deadline', async () => {
    const h = harness({ timeoutMs: 1_000 });
    h.setLeader(undefined);
    const none = h.proposals.submit(PUT);
    h.run(LEADER_WAIT_MS - 1);
    expect(h.proposals.pending).toBe(1);
    h.run(1);
    await expect(none).rejects.toMatchObject({ code: 'ERR_NO_LEADER' });
    expect(h.sent).toHaveLength(0);
    h.setLeader('n1@1');
    const write = h.proposals.submit(PUT);
    h.setLeader(undefined);
    h.sent[0]?.answer({ kind: 'refused', reason: 'no-leader', message: 'none' });
    await flush();
    h.run(1_000);
    // Something was sent: it may have applied, so the answer is a timeout, not "no leader".
    await expect(write).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('a write that comes during an election waits for the new leader and is sent to it (as etcd holds it; failing at once made etcd clients re-dial)', async () => {
    const h = harness();
    h.setLeader(undefined);
    const write = h.proposals.submit(PUT);
    h.run(LEADER_WAIT_MS / 2);
    expect(h.sent).toHaveLength(0);
    h.setLeader('n2@2');
    h.proposals.onLeaderChange();
    expect(h.sent).toHaveLength(1);
    h.run(LEADER_WAIT_MS); // past leaderWaitMs: it was sent, so it waits for its result
    h.proposals.onResult(h.keyOf(h.sent[0]?.data as Uint8Array), PUT_OUTPUT);
    expect(await write).toBe(PUT_OUTPUT);
  });

  it('a write whose leader never answers ends ERR_TIMEOUT at its deadline, not before', async () => {
    const h = harness({ timeoutMs: 2_000 });
    let settled = false;
    const write = h.proposals.submit(PUT).finally(() => (settled = true));
    h.run(1_999);
    await flush();
    expect(settled).toBe(false);
    h.run(1);
    await expect(write).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('too-large is final; an abort is ERR_ABORTED', async () => {
    const h = harness();
    const big = h.proposals.submit(PUT);
    h.sent[0]?.answer({ kind: 'refused', reason: 'too-large', message: '2 MiB' });
    await expect(big).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' });
    const controller = new AbortController();
    const aborted = h.proposals.submit(PUT, { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('a lane the store evicted is replaced and the write sent again on a new session', async () => {
    const h = harness();
    const write = h.proposals.submit(PUT);
    const first = h.keyOf(h.sent[0]?.data as Uint8Array);
    h.proposals.onResult(first, EXPIRED);
    expect(h.sent).toHaveLength(2);
    const second = h.keyOf(h.sent[1]?.data as Uint8Array);
    expect(second).toBe(sessionKey({ clientId: 'm.b.2', seq: 1 }));
    h.proposals.onResult(second, PUT_OUTPUT);
    expect(await write).toBe(PUT_OUTPUT);
    expect(h.proposals.counters.lanesReplaced).toBe(1);
  });

  it('after a snapshot hid the entries, an expired session may hide an applied write: ERR_TIMEOUT', async () => {
    const h = harness();
    const write = h.proposals.submit(PUT);
    h.proposals.onRestored();
    expect(h.sent).toHaveLength(2);
    h.proposals.onResult(h.keyOf(h.sent[0]?.data as Uint8Array), EXPIRED);
    await expect(write).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('pendingMax: writes up to the limit wait, one more fails ERR_QUEUE_FULL at once', () => {
    const h = harness({ pendingMax: 3 });
    for (let i = 0; i < 3; i++) void h.proposals.submit(PUT).catch(() => undefined);
    expect(h.proposals.pending).toBe(3);
    let err: unknown;
    try {
      void h.proposals.submit(PUT);
    } catch (e) {
      err = e;
    }
    expect(hasErrorCode(err, 'ERR_QUEUE_FULL')).toBe(true);
    h.proposals.close();
    expect(h.proposals.pending).toBe(0);
  });

  it('a write the store refuses before it can enter the log never takes a seq', async () => {
    const h = harness();
    const huge: KvOp = {
      kind: 'put',
      request: {
        key: new TextEncoder().encode('k'),
        value: new Uint8Array(config.valueBytesMax + 1),
      },
    };
    expect(() => h.proposals.submit(huge)).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_LARGE' }),
    );
    void h.proposals.submit(PUT).catch(() => undefined);
    expect(h.keyOf(h.sent[0]?.data as Uint8Array)).toBe(sessionKey({ clientId: 'm.b.1', seq: 1 }));
  });
});
