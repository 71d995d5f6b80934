/**
 * The nemesis without processes: the plan is a function of the seed and respects its timing
 * (ranges, nothing in the recovery window), and the executor (over a fake system and network on
 * a virtual clock) applies and undoes each fault, verifies every partition, aims at the leader
 * the members report, and leaves nothing broken when a step fails.
 */
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import {
  FAULT_KINDS,
  NEMESIS_TIMING,
  RECOVERY_MS,
  planNemesis,
  runNemesis,
  type NemesisContext,
  type NemesisNetwork,
  type NemesisStep,
} from './nemesis.js';
import type { JepsenSystem } from './system.js';

const RANGES = {
  kill: NEMESIS_TIMING.killDownMs,
  pause: NEMESIS_TIMING.pauseMs,
  'partition-leader': NEMESIS_TIMING.partitionMs,
  'majority-minority': NEMESIS_TIMING.partitionMs,
  bridge: NEMESIS_TIMING.partitionMs,
} as const;

describe('planNemesis', () => {
  it('is a function of the seed', () => {
    expect(planNemesis('mixed', 60_000, 3, new Rng(5))).toEqual(
      planNemesis('mixed', 60_000, 3, new Rng(5)),
    );
    expect(planNemesis('mixed', 60_000, 3, new Rng(5))).not.toEqual(
      planNemesis('mixed', 60_000, 3, new Rng(6)),
    );
  });

  it.each(FAULT_KINDS)(
    '%s: holds in range, quiet gaps between, nothing in the recovery window',
    (kind) => {
      for (let seed = 0; seed < 30; seed++) {
        const steps = planNemesis(kind, 60_000, 3, new Rng(seed));
        expect(steps.length).toBeGreaterThanOrEqual(4);
        let end = 0;
        for (const step of steps) {
          expect(step.fault.kind).toBe(kind);
          const [min, max] = RANGES[kind];
          expect(step.holdMs).toBeGreaterThanOrEqual(min);
          expect(step.holdMs).toBeLessThanOrEqual(max);
          expect(step.atMs - end).toBeGreaterThanOrEqual(NEMESIS_TIMING.quietMs[0]);
          expect(step.atMs - end).toBeLessThanOrEqual(NEMESIS_TIMING.quietMs[1]);
          end = step.atMs + step.holdMs;
        }
        expect(end).toBeLessThanOrEqual(60_000 - RECOVERY_MS);
      }
    },
  );

  it('mixed draws every kind over a few runs; none plans nothing; a short run keeps a quarter for recovery', () => {
    const kinds = new Set<string>();
    for (let seed = 0; seed < 5; seed++)
      for (const step of planNemesis('mixed', 60_000, 3, new Rng(seed))) kinds.add(step.fault.kind);
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
    expect(planNemesis('none', 60_000, 3, new Rng(1))).toEqual([]);
    for (const step of planNemesis('pause', 8_000, 3, new Rng(2)))
      expect(step.atMs + step.holdMs).toBeLessThanOrEqual(6_000);
  });

  it('kill targets the leader, one member or a majority; pause the leader or one member', () => {
    const killTargets = new Set<string>();
    const pauseTargets = new Set<string>();
    for (let seed = 0; seed < 10; seed++) {
      for (const { fault } of planNemesis('kill', 60_000, 3, new Rng(seed)))
        if (fault.kind === 'kill')
          killTargets.add('leader' in fault.target ? 'leader' : `${fault.target.members.length}`);
      for (const { fault } of planNemesis('pause', 60_000, 3, new Rng(seed)))
        if (fault.kind === 'pause')
          pauseTargets.add('leader' in fault.target ? 'leader' : `${fault.target.members.length}`);
    }
    expect([...killTargets].sort()).toEqual(['1', '2', 'leader']);
    expect([...pauseTargets].sort()).toEqual(['1', 'leader']);
  });
});

/** A system and a network in memory, on a virtual clock; every call is logged. */
function fakeWorld(
  options: { leader?: number; restartFails?: number; verifyFails?: boolean } = {},
) {
  const log: string[] = [];
  let now = 0;
  const cuts = new Set<string>();
  const down = new Set<number>();
  const paused = new Set<number>();
  const system: JepsenSystem = {
    name: 'fake',
    unavailable: () => undefined,
    peerPort: 1,
    start: async () => undefined,
    stop: async () => undefined,
    endpoints: () => [],
    pids: () => [],
    leaderViews: async () =>
      [0, 1, 2].map((i) => (down.has(i) || paused.has(i) ? undefined : options.leader)),
    kill: async (i) => {
      log.push(`kill ${i}`);
      down.add(i);
    },
    restart: async (i) => {
      log.push(`restart ${i}`);
      if (options.restartFails === i) throw new Error('did not come back');
      down.delete(i);
    },
    signal: (i, signal) => {
      log.push(`${signal} ${i}`);
      if (signal === 'SIGSTOP') paused.add(i);
      else paused.delete(i);
    },
  };
  const network: NemesisNetwork = {
    cut: async (a, b) => {
      log.push(`cut ${a}-${b}`);
      cuts.add(`${a}-${b}`);
    },
    healAll: async () => {
      log.push('heal');
      cuts.clear();
    },
    cutLinks: () => [...cuts].map((k) => k.split('-').map(Number) as [number, number]),
    verify: async () => {
      log.push(`verify ${cuts.size}`);
      if (options.verifyFails === true && cuts.size > 0) throw new Error('the cut leaks');
    },
  };
  const ctx: NemesisContext = {
    system,
    network,
    members: 3,
    rng: new Rng(1),
    nowMs: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  return { ctx, log, state: { cuts, down, paused } };
}

const step = (fault: NemesisStep['fault'], atMs = 1_000, holdMs = 2_000): NemesisStep => ({
  atMs,
  holdMs,
  fault,
});

describe('runNemesis', () => {
  it('applies each fault, holds it, undoes it; partitions are verified cut and then healed', async () => {
    const { ctx, log, state } = fakeWorld({ leader: 2 });
    const events = await runNemesis(
      ctx,
      [
        step({ kind: 'partition-leader' }, 1_000),
        step({ kind: 'kill', target: { members: [0, 1] } }, 5_000),
        step({ kind: 'pause', target: { leader: true } }, 9_000),
        step({ kind: 'bridge', bridge: 1, links: [[0, 2]] }, 13_000),
      ],
      0,
      60_000,
    );
    expect(log).toEqual([
      'cut 0-2',
      'cut 1-2',
      'verify 2',
      'heal',
      'verify 0',
      'kill 0',
      'kill 1',
      'restart 0',
      'restart 1',
      'SIGSTOP 2',
      'SIGCONT 2',
      'cut 0-2',
      'verify 1',
      'heal',
      'verify 0',
      'verify 0', // the final check that everything is healed
    ]);
    expect(events.map((e) => [e.kind, e.members, e.startMs, e.endMs])).toEqual([
      ['partition-leader', [2], 1_000, 3_000],
      ['kill', [0, 1], 5_000, 7_000],
      ['pause', [2], 9_000, 11_000],
      ['bridge', [1], 13_000, 15_000],
    ]);
    expect(events[0]?.note).toBe('leader by majority');
    expect(state.cuts.size + state.down.size + state.paused.size).toBe(0);
  });

  it('without a leader known it aims at a random member and says so', async () => {
    const { ctx } = fakeWorld({});
    const [event] = await runNemesis(
      ctx,
      [step({ kind: 'pause', target: { leader: true } })],
      0,
      60_000,
    );
    expect(event?.note).toBe('no leader known: random member');
    expect(event?.members).toHaveLength(1);
  });

  it('never starts a fault whose hold would end after the last end it is given', async () => {
    const { ctx, log } = fakeWorld({ leader: 0 });
    const events = await runNemesis(
      ctx,
      [step({ kind: 'kill', target: { leader: true } }, 9_000, 2_000)],
      0,
      10_000,
    );
    expect(events).toEqual([]);
    expect(log).toEqual(['verify 0']);
  });

  it('a cut that does not verify fails the run, and the links are healed', async () => {
    const { ctx, state } = fakeWorld({ leader: 1, verifyFails: true });
    const error = await runNemesis(ctx, [step({ kind: 'partition-leader' })], 0, 60_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(error)).toMatch(/the cut leaks/);
    expect(state.cuts.size).toBe(0);
  });

  it('a member that does not come back fails the run with ERR_JEPSEN_NEMESIS, and the links are still healed', async () => {
    const { ctx, log, state } = fakeWorld({ leader: 0, restartFails: 1 });
    const error = await runNemesis(
      ctx,
      [step({ kind: 'kill', target: { members: [1] } })],
      0,
      60_000,
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(hasErrorCode(error, 'ERR_JEPSEN_NEMESIS')).toBe(true);
    expect(String(error)).toMatch(/member 1 did not come back after a kill/);
    expect(log.filter((l) => l === 'restart 1')).toHaveLength(2); // once in the step, once in the final heal
    expect(log.at(-1)).toBe('verify 0');
    expect(state.cuts.size).toBe(0);
  });
});
