/**
 * Step tests of the leader-side liveness tracker (docs/design/worker-tier.md, "Liveness"; Nomad
 * nomad/heartbeat.go), and the protocol contract suite over it.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { ms } from '../../src/base/time.js';
import { workerServerConfig, type WorkerServerSettings } from '../../src/worker/core/config.js';
import { LIVENESS_CORE } from '../../src/worker/core/liveness/protocol.js';
import { checkInvariants } from '../../src/worker/core/liveness/invariants.js';
import { initLiveness, nextDeadline, step } from '../../src/worker/core/liveness/step.js';
import type {
  LivenessEffect,
  LivenessInput,
  LivenessState,
} from '../../src/worker/core/liveness/types.js';
import { protocolContract } from '../base/contract.js';

const wid = (i: number): string => i.toString(16).padStart(32, '0');

function tracker(settings: WorkerServerSettings = {}, workers = 3) {
  const state = initLiveness({ config: workerServerConfig(settings) }, 0);
  const rng = new Rng(7);
  const run = (input: LivenessInput): LivenessEffect[] => {
    const out = step(state, input, { rng });
    expect(checkInvariants(state)).toEqual([]);
    return out.effects;
  };
  run({
    kind: 'records',
    now: ms(0),
    changes: Array.from({ length: workers }, (_, i) => ({
      id: wid(i + 1),
      status: 'registered' as const,
      modRevision: 10 + i,
    })),
  });
  return { state, run };
}

/** Ticks at every deadline up to `untilMs`; returns every effect. */
function runUntil(
  state: LivenessState,
  run: (i: LivenessInput) => LivenessEffect[],
  untilMs: number,
) {
  const effects: LivenessEffect[] = [];
  for (let at = nextDeadline(state); at !== undefined && at <= untilMs; at = nextDeadline(state))
    effects.push(...run({ kind: 'tick', now: ms(at) }));
  return effects;
}

const marks = (effects: LivenessEffect[]) => effects.filter((e) => e.kind === 'mark');

describe('liveness tracker', () => {
  it('only the leader answers heartbeats; a follower refuses with not-leader (the shell forwards)', () => {
    const { run } = tracker();
    expect(run({ kind: 'heartbeat', now: ms(5), id: wid(1), requestId: 1 })).toEqual([
      {
        kind: 'reply',
        requestId: 1,
        id: wid(1),
        outcome: { kind: 'refused', reason: 'not-leader' },
      },
    ]);
  });

  it('a new leader gives every worker the failover TTL: no mark before lead + failover + grace', () => {
    // 3 workers: failover = 2·3/50 s (120 ms) + 10·10 s = 100,120 ms; grace 10 s.
    const { state, run } = tracker();
    run({ kind: 'lead', now: ms(1_000), term: 2 });
    const deadline = 1_000 + 100_120 + 10_000;
    for (const w of state.workers.values()) expect(w.deadlineMs).toBe(deadline);
    // Ticks every sweep (one timer for all workers), nothing marked up to the deadline itself.
    expect(marks(runUntil(state, run, deadline))).toEqual([]);
    // Expired once now > deadline: marked down at the first sweep after it, compared on the record's revision.
    const after = marks(runUntil(state, run, deadline + 1_000));
    expect(after.map((e) => e.kind === 'mark' && [e.id, e.status, e.expectRevision])).toEqual([
      [wid(1), 'down', 10],
      [wid(2), 'down', 11],
      [wid(3), 'down', 12],
    ]);
  });

  it('one sweep timer: the next deadline is the next sweep, never one timer per worker', () => {
    const { state, run } = tracker({}, 200);
    run({ kind: 'lead', now: ms(0), term: 1 });
    expect(nextDeadline(state)).toBe(1_000);
    run({ kind: 'tick', now: ms(1_000) });
    expect(nextDeadline(state)).toBe(2_000);
    expect(state.deadlines.size).toBe(200);
  });

  it('sweeps deadlines in time order whatever their digit count (not as strings)', () => {
    const { state, run } = tracker({}, 2);
    run({ kind: 'lead', now: ms(0), term: 1 }); // both at 0 + 100,080 + 10,000 (6 digits)
    runUntil(state, run, 40_000);
    run({ kind: 'heartbeat', now: ms(40_000), id: wid(1), requestId: 1 }); // 60,000..80,000 (5 digits)
    const first = state.workers.get(wid(1))?.deadlineMs as number;
    expect(first).toBeLessThan(80_000);
    expect(state.workers.get(wid(2))?.deadlineMs).toBe(110_080);
    // As text "110080" sorts before "6xxxx": a string-ordered index would sweep worker 2 first.
    expect(state.deadlines.minKey()).toEqual([first, wid(1)]);
    const marked = marks(runUntil(state, run, 81_000));
    expect(marked.map((e) => e.kind === 'mark' && e.id)).toEqual([wid(1)]);
  });

  it('a heartbeat renews for a TTL in [base, 2·base) and the reply carries it', () => {
    const { state, run } = tracker({}, 1_000);
    run({ kind: 'lead', now: ms(0), term: 1 });
    const base = 20_000; // 1,000 workers at 50/s
    const ttls: number[] = [];
    for (let i = 1; i <= 1_000; i++) {
      const [reply] = run({ kind: 'heartbeat', now: ms(500), id: wid(i), requestId: i });
      if (reply?.kind !== 'reply' || reply.outcome.kind !== 'ok') throw new Error('no ttl');
      ttls.push(reply.outcome.ttlMs);
      expect(state.workers.get(wid(i))?.deadlineMs).toBe(500 + reply.outcome.ttlMs + 10_000);
    }
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(base);
    expect(Math.max(...ttls)).toBeLessThan(2 * base);
    const mean = ttls.reduce((a, b) => a + b, 0) / ttls.length;
    expect(mean).toBeGreaterThan(1.4 * base);
    expect(mean).toBeLessThan(1.6 * base);
  });

  it('heartbeats are not writes: a heartbeat only answers, it never marks a live worker', () => {
    const { run } = tracker();
    run({ kind: 'lead', now: ms(0), term: 1 });
    for (let t = 1; t < 20; t++) {
      const effects = run({ kind: 'heartbeat', now: ms(t * 1_000), id: wid(1), requestId: t });
      expect(effects.map((e) => e.kind)).toEqual(['reply']);
    }
  });

  it('a stalled leader (clock jumped past stallThresholdMs) renews everyone instead of expiring them', () => {
    const { state, run } = tracker();
    run({ kind: 'lead', now: ms(0), term: 1 });
    run({ kind: 'heartbeat', now: ms(10), id: wid(1), requestId: 1 });
    // Paused for 10 minutes: every deadline has passed when it wakes.
    const effects = run({ kind: 'tick', now: ms(600_000) });
    expect(marks(effects)).toEqual([]);
    expect(state.counters.stalls).toBe(1);
    for (const w of state.workers.values()) expect(w.deadlineMs).toBe(600_000 + 100_120 + 10_000);
  });

  it('a heartbeat from a down worker asks to mark it registered again, once', () => {
    const { state, run } = tracker();
    run({ kind: 'lead', now: ms(0), term: 1 });
    run({
      kind: 'records',
      now: ms(1),
      changes: [{ id: wid(2), status: 'down', modRevision: 40 }],
    });
    expect(state.workers.get(wid(2))?.deadlineMs).toBeUndefined();
    const first = run({ kind: 'heartbeat', now: ms(2), id: wid(2), requestId: 1 });
    expect(marks(first)).toEqual([
      {
        kind: 'mark',
        id: wid(2),
        status: 'registered',
        reason: 'heartbeat after down',
        expectRevision: 40,
      },
    ]);
    expect(marks(run({ kind: 'heartbeat', now: ms(3), id: wid(2), requestId: 2 }))).toEqual([]);
    run({
      kind: 'records',
      now: ms(4),
      changes: [{ id: wid(2), status: 'registered', modRevision: 41 }],
    });
    expect(state.workers.get(wid(2))?.deadlineMs).toBeDefined();
  });

  it('a refused mark is asked again at the next sweep', () => {
    const { state, run } = tracker({}, 1);
    run({ kind: 'lead', now: ms(0), term: 1 });
    const expiry = 100_020 + 10_000;
    const first = marks(runUntil(state, run, expiry + 1_000));
    expect(first).toHaveLength(1);
    run({ kind: 'marked', now: ms(expiry + 1_100), id: wid(1), applied: false });
    const again = marks(runUntil(state, run, expiry + 3_000));
    expect(again).toHaveLength(1);
  });

  it('records older than the known revision are ignored and counted', () => {
    const { state, run } = tracker();
    run({ kind: 'records', now: ms(1), changes: [{ id: wid(1), status: 'down', modRevision: 5 }] });
    expect(state.workers.get(wid(1))?.status).toBe('registered');
    expect(state.counters.staleRecords).toBe(1);
  });

  it('revoked or removed workers are forgotten; unknown workers are refused', () => {
    const { state, run } = tracker();
    run({ kind: 'lead', now: ms(0), term: 1 });
    run({
      kind: 'records',
      now: ms(1),
      changes: [{ id: wid(1), status: 'revoked', modRevision: 50 }],
    });
    run({ kind: 'records', now: ms(1), changes: [{ id: wid(2), removed: true, modRevision: 51 }] });
    expect(state.live).toBe(1);
    const [reply] = run({ kind: 'heartbeat', now: ms(2), id: wid(1), requestId: 9 });
    expect(reply).toMatchObject({ outcome: { kind: 'refused', reason: 'unknown-worker' } });
  });

  it('losing leadership drops every deadline', () => {
    const { state, run } = tracker();
    run({ kind: 'lead', now: ms(0), term: 1 });
    run({ kind: 'unlead', now: ms(5) });
    expect(state.deadlines.size).toBe(0);
    expect(nextDeadline(state)).toBeUndefined();
  });
});

describe('liveness satisfies the protocol contract', () => {
  protocolContract({
    core: LIVENESS_CORE,
    config: () => ({
      config: workerServerConfig({
        minHeartbeatTtlMs: 100,
        heartbeatGraceMs: 50,
        stallThresholdMs: 50,
        sweepIntervalMs: 20,
      }),
    }),
    persisted: () => undefined,
    randomInput: (rng, _state, now): LivenessInput => {
      const id = wid(1 + rng.int(6));
      const roll = rng.int(20);
      if (roll === 0) return { kind: 'lead', now, term: 1 + rng.int(3) };
      if (roll === 1) return { kind: 'unlead', now };
      if (roll < 6)
        return {
          kind: 'records',
          now,
          changes: [
            rng.chance(1, 6)
              ? { id, removed: true, modRevision: rng.int(100) }
              : {
                  id,
                  status: rng.pick(['registered', 'down', 'drained', 'revoked'] as const),
                  modRevision: rng.int(100),
                },
          ],
        };
      if (roll < 8) return { kind: 'marked', now, id, applied: rng.chance(1, 2) };
      return { kind: 'heartbeat', now, id, requestId: rng.int(1_000) };
    },
    sampleInputs: [{ kind: 'persisted', now: ms(0), records: [] }],
    sampleEffects: [
      { kind: 'reply', requestId: 1, id: wid(1), outcome: { kind: 'ok', ttlMs: 10 } },
      { kind: 'mark', id: wid(1), status: 'down', reason: 'x', expectRevision: 3 },
    ],
  });
});
