/**
 * The nemesis (issue 14): faults on real processes and real links, one at a time, each held for
 * a while and then undone, on a schedule drawn from a seed.
 *
 * Kinds (`--nemesis`): `kill` (SIGKILL the leader, one random member or a majority, restart
 * after 1-5 s), `pause` (SIGSTOP the leader or a random member for 0.5-5 s, then SIGCONT),
 * `partition-leader` (cut the leader off from every other member), `majority-minority` (cut a
 * random minority off), `bridge` (two halves joined by one member), `mixed` (each fault drawn
 * from the five), and `none`. Partitions are held 2-8 s; between faults the cluster runs
 * undisturbed for 1-3 s; no fault starts in the last RECOVERY_MS of a run, so every history ends
 * with a healed cluster that should serve again.
 *
 * `planNemesis` is pure (the seed fixes every choice it can make in advance); "the leader" is
 * resolved when the fault starts, from the members' own views. `runNemesis` executes a plan: a
 * partition is verified by the network's probes right after it is made and again after the heal
 * (ERR_JEPSEN_NEMESIS if the network disagrees), and a restart that does not come back in time
 * fails the run the same way. `healEverything` (in `finally`) resumes, restarts and heals
 * whatever a failed step left behind.
 */
import { ShoalError } from '../../src/base/errors.js';
import type { Rng } from '../../src/base/rng.js';
import { bridge, isolate, majorityMinority, type Link } from './grudge.js';
import { majorityLeader, type JepsenSystem } from './system.js';

export const FAULT_KINDS = [
  'kill',
  'pause',
  'partition-leader',
  'majority-minority',
  'bridge',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const NEMESIS_KINDS = [...FAULT_KINDS, 'mixed', 'none'] as const;
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

/** Timing of the schedule: [min, max] ranges drawn uniformly, in ms. */
export const NEMESIS_TIMING = {
  quietMs: [1_000, 3_000],
  killDownMs: [1_000, 5_000],
  pauseMs: [500, 5_000],
  partitionMs: [2_000, 8_000],
} as const;
/** No fault is planned to end within this long of the end of a run (a quarter of a shorter run). */
export const RECOVERY_MS = 5_000;

/** The recovery window of a run of `durationMs`: RECOVERY_MS, or a quarter of a short run. */
export function recoveryMs(durationMs: number): number {
  return Math.min(RECOVERY_MS, durationMs / 4);
}

/** Who a process fault hits: the leader when it starts, or members fixed by the plan. */
export type Target = { readonly leader: true } | { readonly members: readonly number[] };

export type Fault =
  | { readonly kind: 'kill'; readonly target: Target }
  | { readonly kind: 'pause'; readonly target: Target }
  | { readonly kind: 'partition-leader' }
  | {
      readonly kind: 'majority-minority';
      readonly minority: readonly number[];
      readonly links: readonly Link[];
    }
  | { readonly kind: 'bridge'; readonly bridge: number; readonly links: readonly Link[] };

export interface NemesisStep {
  /** Planned start, from the start of the run (a late previous step pushes it back). */
  readonly atMs: number;
  readonly holdMs: number;
  readonly fault: Fault;
}

function draw(rng: Rng, [min, max]: readonly [number, number]): number {
  return rng.range(min, max);
}

function planFault(kind: FaultKind, members: number, rng: Rng): { fault: Fault; holdMs: number } {
  switch (kind) {
    case 'kill': {
      const choice = rng.int(3);
      const target: Target =
        choice === 0
          ? { leader: true }
          : {
              members: rng
                .shuffle(Array.from({ length: members }, (_, i) => i))
                .slice(0, choice === 1 ? 1 : Math.floor(members / 2) + 1)
                .sort((a, b) => a - b),
            };
      return { fault: { kind, target }, holdMs: draw(rng, NEMESIS_TIMING.killDownMs) };
    }
    case 'pause': {
      const target: Target = rng.chance(1, 2) ? { leader: true } : { members: [rng.int(members)] };
      return { fault: { kind, target }, holdMs: draw(rng, NEMESIS_TIMING.pauseMs) };
    }
    case 'partition-leader':
      return { fault: { kind }, holdMs: draw(rng, NEMESIS_TIMING.partitionMs) };
    case 'majority-minority':
      return {
        fault: { kind, ...majorityMinority(members, rng) },
        holdMs: draw(rng, NEMESIS_TIMING.partitionMs),
      };
    case 'bridge': {
      const split = bridge(members, rng);
      return {
        fault: { kind, bridge: split.bridge, links: split.links },
        holdMs: draw(rng, NEMESIS_TIMING.partitionMs),
      };
    }
  }
}

/** The faults of one run of `durationMs` on `members` members; empty for `none`. */
export function planNemesis(
  kind: NemesisKind,
  durationMs: number,
  members: number,
  rng: Rng,
): NemesisStep[] {
  const steps: NemesisStep[] = [];
  if (kind === 'none') return steps;
  const lastEndMs = durationMs - recoveryMs(durationMs);
  let t = 0;
  for (;;) {
    t += draw(rng, NEMESIS_TIMING.quietMs);
    const faultKind = kind === 'mixed' ? rng.pick(FAULT_KINDS) : kind;
    const { fault, holdMs } = planFault(faultKind, members, rng);
    if (t + holdMs > lastEndMs) return steps;
    steps.push({ atMs: t, holdMs, fault });
    t += holdMs;
  }
}

/** One fault as it happened, on the history's clock. */
export interface NemesisEvent {
  readonly kind: FaultKind;
  /** Members killed or paused; the cut-off side of a partition (the leader, the minority); a bridge's bridge member. */
  readonly members: readonly number[];
  readonly links: readonly Link[];
  readonly startMs: number;
  endMs?: number;
  /** How the leader was found, when the fault aimed at it. */
  readonly note?: string;
}

/** What the nemesis cuts links with (NetnsNetwork). */
export interface NemesisNetwork {
  cut(a: number, b: number): Promise<void>;
  healAll(): Promise<void>;
  cutLinks(): [number, number][];
  verify(port: number): Promise<void>;
}

export interface NemesisContext {
  readonly system: JepsenSystem;
  readonly network: NemesisNetwork;
  readonly members: number;
  /** For choices made at run time (a random member when no leader is known). */
  readonly rng: Rng;
  /** The history's clock. */
  readonly nowMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** State a failed step may leave behind, undone by healEverything. */
interface Damage {
  readonly killed: Set<number>;
  readonly paused: Set<number>;
}

async function resolveLeader(ctx: NemesisContext): Promise<{ leader: number; note: string }> {
  const views = await ctx.system.leaderViews();
  const majority = majorityLeader(views);
  if (majority !== undefined) return { leader: majority, note: 'leader by majority' };
  const named = views.filter((v): v is number => v !== undefined);
  if (named.length > 0) return { leader: named[0] as number, note: 'leader by one view' };
  return { leader: ctx.rng.int(ctx.members), note: 'no leader known: random member' };
}

function nemesisError(what: string, err: unknown): ShoalError {
  return new ShoalError(
    'ERR_JEPSEN_NEMESIS',
    `${what}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

async function partition(
  ctx: NemesisContext,
  kind: FaultKind,
  side: readonly number[],
  links: readonly Link[],
  holdMs: number,
  note?: string,
): Promise<NemesisEvent> {
  for (const [a, b] of links) await ctx.network.cut(a, b);
  const event: NemesisEvent = {
    kind,
    members: side,
    links,
    startMs: ctx.nowMs(),
    ...(note === undefined ? {} : { note }),
  };
  await Promise.all([ctx.sleep(holdMs), ctx.network.verify(ctx.system.peerPort)]);
  await ctx.network.healAll();
  event.endMs = ctx.nowMs();
  await ctx.network.verify(ctx.system.peerPort);
  return event;
}

async function processFault(
  ctx: NemesisContext,
  fault: Extract<Fault, { kind: 'kill' | 'pause' }>,
  holdMs: number,
  damage: Damage,
): Promise<NemesisEvent> {
  const resolved = 'leader' in fault.target ? await resolveLeader(ctx) : undefined;
  const members =
    'members' in fault.target
      ? [...fault.target.members]
      : [(resolved as { leader: number }).leader];
  const base = {
    kind: fault.kind,
    members,
    links: [],
    ...(resolved === undefined ? {} : { note: resolved.note }),
  };
  if (fault.kind === 'pause') {
    for (const m of members) {
      damage.paused.add(m);
      ctx.system.signal(m, 'SIGSTOP');
    }
    const event: NemesisEvent = { ...base, startMs: ctx.nowMs() };
    await ctx.sleep(holdMs);
    for (const m of members) {
      ctx.system.signal(m, 'SIGCONT');
      damage.paused.delete(m);
    }
    event.endMs = ctx.nowMs();
    return event;
  }
  for (const m of members) damage.killed.add(m);
  await Promise.all(members.map((m) => ctx.system.kill(m)));
  const event: NemesisEvent = { ...base, startMs: ctx.nowMs() };
  await ctx.sleep(holdMs);
  await Promise.all(
    members.map(async (m) => {
      try {
        await ctx.system.restart(m);
      } catch (err) {
        throw nemesisError(`member ${m} did not come back after a kill`, err);
      }
      damage.killed.delete(m);
    }),
  );
  event.endMs = ctx.nowMs();
  return event;
}

async function runStep(
  ctx: NemesisContext,
  step: NemesisStep,
  damage: Damage,
): Promise<NemesisEvent> {
  const { fault, holdMs } = step;
  switch (fault.kind) {
    case 'kill':
    case 'pause':
      return processFault(ctx, fault, holdMs, damage);
    case 'partition-leader': {
      const { leader, note } = await resolveLeader(ctx);
      return partition(ctx, fault.kind, [leader], isolate(leader, ctx.members), holdMs, note);
    }
    case 'majority-minority':
      return partition(ctx, fault.kind, fault.minority, fault.links, holdMs);
    case 'bridge':
      return partition(ctx, fault.kind, [fault.bridge], fault.links, holdMs);
  }
}

/**
 * Runs `steps` from `startMs` (the history clock's time of the run's start), never starting a
 * fault whose hold would end after `lastEndMs` (a slow restart can make the schedule slip);
 * returns the faults as they happened. Whatever the outcome, everything is resumed, restarted
 * and healed before it returns or throws.
 */
export async function runNemesis(
  ctx: NemesisContext,
  steps: readonly NemesisStep[],
  startMs: number,
  lastEndMs: number,
  onEvent: (event: NemesisEvent) => void = () => undefined,
): Promise<NemesisEvent[]> {
  const events: NemesisEvent[] = [];
  const damage: Damage = { killed: new Set(), paused: new Set() };
  let failure: unknown;
  try {
    for (const step of steps) {
      const waitMs = startMs + step.atMs - ctx.nowMs();
      if (waitMs > 0) await ctx.sleep(waitMs);
      if (ctx.nowMs() + step.holdMs > lastEndMs) break;
      const event = await runStep(ctx, step, damage);
      events.push(event);
      onEvent(event);
    }
  } catch (err) {
    failure = err;
  }
  try {
    await healEverything(ctx, damage);
  } catch (err) {
    failure ??= err; // the step's own failure says more
  }
  if (failure !== undefined) throw failure;
  return events;
}

/**
 * Resumes paused members, restarts killed ones and heals every link, then verifies the network;
 * each part is tried even when an earlier one fails, and the first failure is thrown at the end.
 */
async function healEverything(ctx: NemesisContext, damage: Damage): Promise<void> {
  const failures: unknown[] = [];
  for (const m of damage.paused) ctx.system.signal(m, 'SIGCONT');
  damage.paused.clear();
  for (const m of damage.killed) {
    try {
      await ctx.system.restart(m);
    } catch (err) {
      failures.push(nemesisError(`member ${m} did not come back after the run`, err));
    }
  }
  damage.killed.clear();
  try {
    if (ctx.network.cutLinks().length > 0) await ctx.network.healAll();
    await ctx.network.verify(ctx.system.peerPort);
  } catch (err) {
    failures.push(err);
  }
  if (failures.length > 0) throw failures[0];
}
