/**
 * Step tests of the worker's client state machine (docs/design/worker-tier.md, "The worker"),
 * and the protocol contract suite over it.
 */
import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import { workerClientConfig } from '../../src/worker/core/config.js';
import { CLIENT_CORE } from '../../src/worker/core/client/protocol.js';
import { checkInvariants } from '../../src/worker/core/client/invariants.js';
import { initClient, nextDeadline, step } from '../../src/worker/core/client/step.js';
import type {
  ClientEffect,
  ClientInput,
  ClientMutations,
} from '../../src/worker/core/client/types.js';
import type { AssignmentBatch } from '../../src/worker/core/assignments.js';
import { protocolContract } from '../base/contract.js';

const SERVERS = ['s1:3670', 's2:3670', 's3:3670'];

function client(
  mode: 'stream' | 'poll' = 'stream',
  registered = false,
  mutations: ClientMutations = {},
) {
  const state = initClient(
    { config: workerClientConfig(), servers: SERVERS, mode, registered, mutations },
    0,
  );
  const run = (input: ClientInput): ClientEffect[] => {
    const out = step(state, input);
    expect(checkInvariants(state)).toEqual([]);
    return out.effects;
  };
  return { state, run };
}

const calls = (effects: ClientEffect[]) =>
  effects.flatMap((e) =>
    e.kind === 'call' ? [{ id: e.callId, server: e.server, ...e.request }] : [],
  );
const batch = (revision: number): AssignmentBatch => ({
  revision,
  events: [{ type: 'set', service: 'api', role: 'replica', index: 0, spec: {}, generation: 1 }],
});
const delivered = (effects: ClientEffect[]) =>
  effects.flatMap((e) => (e.kind === 'deliver' ? [e.batch.revision] : []));

describe('worker client', () => {
  it('registers, then heartbeats at once and opens the stream with a snapshot from revision 1', () => {
    const { run } = client();
    const first = run({ kind: 'tick', now: ms(0) });
    expect(calls(first)).toEqual([{ id: 1, server: 's1:3670', kind: 'register' }]);
    const after = run({ kind: 'registered', now: ms(10), callId: 1, renewAtMs: 1_000_000 });
    expect(calls(after)).toEqual([
      { id: 2, server: 's1:3670', kind: 'heartbeat' },
      {
        id: 3,
        server: 's1:3670',
        kind: 'assignments',
        mode: 'stream',
        fromRevision: 1,
        snapshot: true,
      },
    ]);
    expect(after).toContainEqual({ kind: 'report-status', server: 's1:3670' });
  });

  it('heartbeats again one TTL after each ack (the TTL the ack carries)', () => {
    const { state, run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) });
    run({ kind: 'heartbeat-ok', now: ms(20), callId: 1, ttlMs: 37_000 });
    expect(nextDeadline(state)).toBe(37_020);
    expect(calls(run({ kind: 'tick', now: ms(37_020) }))).toEqual([
      { id: 3, server: 's1:3670', kind: 'heartbeat' },
    ]);
  });

  it('moves round-robin to the next server with exponential backoff when one is unavailable', () => {
    const { state, run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) }); // heartbeat #1, stream #2 on s1
    const failed = run({ kind: 'failed', now: ms(5), callId: 1, failure: { kind: 'unavailable' } });
    expect(failed).toContainEqual({ kind: 'cancel', callId: 2 });
    expect(calls(failed)).toEqual([]);
    expect(nextDeadline(state)).toBe(5 + 250);
    let now = 255;
    const seen: [string, number][] = [];
    for (let i = 0; i < 5; i++) {
      const started = calls(run({ kind: 'tick', now: ms(now) }));
      const hb = started.find((c) => c.kind === 'heartbeat');
      if (hb === undefined) throw new Error('no heartbeat restarted');
      seen.push([hb.server, now]);
      run({ kind: 'failed', now: ms(now), callId: hb.id, failure: { kind: 'timeout' } });
      now = nextDeadline(state) as number;
    }
    expect(seen.map(([s]) => s)).toEqual(['s2:3670', 's3:3670', 's1:3670', 's2:3670', 's3:3670']);
    // Backoff doubles per failure: 250, 500, 1000, 2000, 4000 (capped at retryBackoffMaxMs).
    const gaps = seen.slice(1).map(([, t], i) => t - (seen[i] as [string, number])[1]);
    expect(gaps).toEqual([500, 1_000, 2_000, 4_000]);
  });

  it('delivers each revision once and in order, whatever the servers resend', () => {
    const { state, run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) }); // stream #2
    const first = run({
      kind: 'assignments',
      now: ms(1),
      callId: 2,
      snapshot: { revision: 4, assignments: [] },
      batches: [batch(5), batch(7)],
      end: false,
    });
    expect(first[0]).toMatchObject({ kind: 'deliver-snapshot' });
    expect(delivered(first)).toEqual([5, 7]);
    expect(
      delivered(
        run({
          kind: 'assignments',
          now: ms(2),
          callId: 2,
          batches: [batch(7), batch(6), batch(9)],
          end: false,
        }),
      ),
    ).toEqual([9]);
    expect(state.counters.duplicateBatches).toBe(2);
    // A reconnect resumes from lastRevision + 1, without a snapshot.
    const again = calls(
      run({ kind: 'failed', now: ms(3), callId: 2, failure: { kind: 'unavailable' } }),
    );
    expect(again).toEqual([]);
    const resumed = calls(run({ kind: 'tick', now: ms(253) })).find(
      (c) => c.kind === 'assignments',
    );
    expect(resumed).toMatchObject({ server: 's2:3670', fromRevision: 10, snapshot: false });
  });

  it('asks for a snapshot again when the history it resumes from was compacted', () => {
    const { run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) });
    run({
      kind: 'assignments',
      now: ms(1),
      callId: 2,
      snapshot: { revision: 4, assignments: [] },
      batches: [],
      end: false,
    });
    const restarted = calls(
      run({ kind: 'failed', now: ms(2), callId: 2, failure: { kind: 'compacted' } }),
    );
    expect(restarted).toEqual([
      {
        id: 3,
        server: 's1:3670',
        kind: 'assignments',
        mode: 'stream',
        fromRevision: 5,
        snapshot: true,
      },
    ]);
  });

  it('long-polls: each answer ends the call and the next poll starts after the last revision', () => {
    const { run } = client('poll', true);
    const first = calls(run({ kind: 'tick', now: ms(0) }));
    expect(first[1]).toMatchObject({
      kind: 'assignments',
      mode: 'poll',
      fromRevision: 1,
      snapshot: true,
    });
    const next = calls(
      run({
        kind: 'assignments',
        now: ms(9),
        callId: 2,
        snapshot: { revision: 3, assignments: [] },
        batches: [batch(8)],
        end: true,
      }),
    );
    expect(next).toEqual([
      {
        id: 3,
        server: 's1:3670',
        kind: 'assignments',
        mode: 'poll',
        fromRevision: 9,
        snapshot: false,
      },
    ]);
  });

  it('a final registration refusal stops the client with the reason', () => {
    const { state, run } = client();
    run({ kind: 'tick', now: ms(0) });
    const effects = run({
      kind: 'failed',
      now: ms(1),
      callId: 1,
      failure: { kind: 'refused', reason: 'expired' },
    });
    expect(effects).toContainEqual({ kind: 'stopped', reason: 'registration refused: expired' });
    expect(nextDeadline(state)).toBeUndefined();
  });

  it('no leader yet: the heartbeat retries at the same server with backoff', () => {
    const { state, run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) });
    run({ kind: 'failed', now: ms(1), callId: 1, failure: { kind: 'no-leader' } });
    expect(state.serverIndex).toBe(0);
    expect(calls(run({ kind: 'tick', now: ms(251) }))).toEqual([
      { id: 3, server: 's1:3670', kind: 'heartbeat' },
    ]);
  });

  it('a lost certificate or record (unauthenticated) registers again, keeping lastRevision', () => {
    const { state, run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) });
    run({
      kind: 'assignments',
      now: ms(1),
      callId: 2,
      snapshot: { revision: 6, assignments: [] },
      batches: [],
      end: false,
    });
    run({ kind: 'failed', now: ms(2), callId: 1, failure: { kind: 'unauthenticated' } });
    expect(state.phase).toBe('unregistered');
    expect(calls(run({ kind: 'tick', now: ms(252) }))).toEqual([
      { id: 3, server: 's1:3670', kind: 'register' },
    ]);
    expect(state.lastRevision).toBe(6);
  });

  it('answers to calls already given up on are ignored and counted', () => {
    const { state, run } = client('stream', true);
    run({ kind: 'tick', now: ms(0) });
    run({ kind: 'failed', now: ms(1), callId: 1, failure: { kind: 'unavailable' } });
    expect(
      delivered(
        run({ kind: 'assignments', now: ms(2), callId: 2, batches: [batch(3)], end: false }),
      ),
    ).toEqual([]);
    expect(state.counters.lateAnswers).toBe(1);
  });

  it('mutant resumeWithoutDedup delivers a revision twice (what the simulator must catch)', () => {
    const { run } = client('stream', true, { resumeWithoutDedup: true });
    run({ kind: 'tick', now: ms(0) });
    run({
      kind: 'assignments',
      now: ms(1),
      callId: 2,
      snapshot: { revision: 4, assignments: [] },
      batches: [batch(5)],
      end: false,
    });
    expect(
      delivered(
        run({ kind: 'assignments', now: ms(2), callId: 2, batches: [batch(5)], end: false }),
      ),
    ).toEqual([5]);
  });
});

describe('worker client satisfies the protocol contract', () => {
  protocolContract({
    core: CLIENT_CORE,
    config: () => ({
      config: workerClientConfig({
        retryBackoffMinMs: 5,
        retryBackoffMaxMs: 40,
        callTimeoutMs: 30,
        pollWaitMs: 50,
      }),
      servers: SERVERS,
      mode: 'poll' as const,
      registered: false,
    }),
    persisted: () => undefined,
    randomInput: (rng, state, now): ClientInput => {
      const inFlight = [state.register, state.heartbeat, state.stream, state.renew].filter(
        (c) => c !== undefined,
      );
      const call = inFlight.length > 0 && rng.chance(4, 5) ? rng.pick(inFlight) : undefined;
      const callId = call?.id ?? rng.int(50);
      const roll = rng.int(12);
      if (roll === 0) return { kind: 'stop', now };
      if (roll < 4)
        return {
          kind: 'failed',
          now,
          callId,
          failure: rng.pick([
            { kind: 'unavailable' },
            { kind: 'timeout' },
            { kind: 'no-leader' },
            { kind: 'unknown-worker' },
            { kind: 'unauthenticated' },
            { kind: 'compacted' },
            { kind: 'refused', reason: 'expired' },
          ] as const),
        };
      if (call?.kind === 'register')
        return { kind: 'registered', now, callId, renewAtMs: now + 500 };
      if (call?.kind === 'renew') return { kind: 'renewed', now, callId, renewAtMs: now + 500 };
      if (call?.kind === 'heartbeat')
        return { kind: 'heartbeat-ok', now, callId, ttlMs: 20 + rng.int(40) };
      const base = state.lastRevision;
      return {
        kind: 'assignments',
        now,
        callId,
        ...(rng.chance(1, 4) ? { snapshot: { revision: base + rng.int(3), assignments: [] } } : {}),
        batches: [batch(Math.max(1, base - 1 + rng.int(4)))],
        end: rng.chance(1, 2),
      };
    },
    sampleInputs: [{ kind: 'persisted', now: ms(0), records: [] }],
    sampleEffects: [
      { kind: 'call', callId: 1, server: 's1', request: { kind: 'renew' } },
      { kind: 'cancel', callId: 1 },
      { kind: 'deliver', batch: batch(3) },
      { kind: 'deliver-snapshot', snapshot: { revision: 2, assignments: [] } },
      { kind: 'report-status', server: 's1' },
      { kind: 'stopped', reason: 'x' },
    ],
  });
});
