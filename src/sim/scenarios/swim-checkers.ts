/**
 * The swim scenarios' checkers, run after every simulator event (the test plan of the
 * membership issue):
 *
 * (The membership invariants, `checkInvariants` and `checkTransition` of invariants.ts, are
 * checked by every node's driver after every step: a violation fails the run as an assertion.)
 * - `no-suspicion-on-perfect-network`: with no fault at all, nobody is ever suspected (SWIM
 *   §3.1: suspicion needs a missed ack, and a perfect network loses none).
 * - `no-false-death`: without crashes, pauses or partitions (loss, dup, reorder and skew only),
 *   no member is ever declared dead by anyone (Lifeguard §IV: refutation and nacks keep a
 *   healthy member alive under loss).
 * - `crash-detected-within-bound`: without loss, pauses or partitions, every live observer holds
 *   a crashed member dead (or has forgotten it) within `crashDetectionBoundMs` of the crash, or
 *   of the observer's own start when it booted later.
 * - `awareness-only-from-silent-helpers`: with crashes, power losses and pauses as the only
 *   faults (no loss, delay, partition, skew or slow disk) and never more than one node down at once, every helper a prober
 *   asks is alive and nacks in time, so no failed probe of a running node raises its Lifeguard
 *   awareness for a missing nack (`nacksMissed` stays 0; refutations may still raise it). Issue
 *   11 bug 7: nacks that always landed after the probe ended raised it by `indirectChecks` for
 *   every failed probe of a silent member.
 * - `no-resurrection`: no observer ever emits `joined` or `alive` for a subject at an
 *   incarnation at or below one at which the same life of that observer earlier emitted `dead` or
 *   `left` for it, within the tombstone window (`deadReclaimMs + tombstoneLifetimeMs` after that
 *   event; longer is unsupported, membership/tombstones.ts). A known departed member only comes
 *   back above its incarnation (SWIM §4.2), so such an event means the observer forgot the member
 *   and a stale view brought it back without a refute (issue 11 bug 8).
 * - `suspicion-cleared-only-by-refutation`: an observer that holds a member suspect at
 *   incarnation i sees it alive again only at an incarnation above i (SWIM §4.2: suspect
 *   overrides alive at the same incarnation; only the member's own refute clears it). An
 *   equal-incarnation `alive` from a stale push-pull or a late gossip must not cancel the
 *   suspicion, or a dead member could be kept alive by members that had not yet heard it die.
 * - `one-view-within-bound`: after the heal, every node is up and sees exactly the full node set
 *   alive within `healBoundMs`, restarted nodes at an incarnation above their last one before
 *   the crash (SWIM §4.2: a restart must out-vote its earlier life).
 */
import type { Address } from '../../base/address.js';
import type { NodeId } from '../../identity/node-id.js';
import type { MembershipConfig } from '../../membership/config.js';
import { tombstoneLifetimeMs } from '../../membership/tombstones.js';
import type { MemberEventType, State } from '../../membership/types.js';
import { logChecker, type Checker } from '../checkers.js';
import { NODE_DOWN_FAULTS, type FaultKind } from '../faults.js';
import { crashDetectionBoundMs, healBoundMs } from './swim-bounds.js';

/** One simulated member across its lives. */
export interface SwimNodeRecord {
  readonly name: string;
  readonly address: Address;
  readonly id: NodeId;
  up: boolean;
  /** Virtual time of the current life's start. */
  startedAtMs: number;
  crashedAtMs: number | undefined;
  /** The highest incarnation others heard from the life before the last crash (what a restart must beat). */
  incarnationBeforeCrash: number | undefined;
  /** The current life's state; undefined while crashed. */
  state: State | undefined;
}

/** A member event as one observer emitted it. */
export interface MemberObservation {
  readonly observer: string;
  /** Which life of the observer (1 for its first boot, +1 per restart): a restart forgets everything. */
  readonly life: number;
  /** Virtual time of the event. */
  readonly atMs: number;
  readonly subject: NodeId;
  readonly type: MemberEventType;
  readonly incarnation: number;
}

export interface SwimView {
  readonly faults: ReadonlySet<FaultKind>;
  readonly config: MembershipConfig;
  readonly nodes: readonly SwimNodeRecord[];
  readonly byId: ReadonlyMap<NodeId, SwimNodeRecord>;
  readonly events: readonly MemberObservation[];
  now(): number;
  /** The nemesis holds this node paused (it runs no events and receives nothing). */
  isPaused(address: Address): boolean;
  /** The scenario adds loss beyond the fault mix's (swim-loss10). */
  readonly extraLoss: boolean;
  /** When the liveness phase began; undefined in the safety phase. */
  healedAtMs: number | undefined;
}

const hasAny = (faults: ReadonlySet<FaultKind>, kinds: readonly FaultKind[]): boolean =>
  kinds.some((k) => faults.has(k));

const nameOf = (view: SwimView, id: NodeId): string => view.byId.get(id)?.name ?? id.slice(0, 8);

function noSuspicionChecker(): Checker<SwimView> {
  return logChecker(
    'no-suspicion-on-perfect-network',
    (v: SwimView) => v.events,
    (o, view) =>
      view.faults.size === 0 && !view.extraLoss && o.type === 'suspect'
        ? `${o.observer} suspected ${nameOf(view, o.subject)}@${o.incarnation} on a perfect network`
        : undefined,
  );
}

function noFalseDeathChecker(): Checker<SwimView> {
  return logChecker(
    'no-false-death',
    (v: SwimView) => v.events,
    (o, view) => {
      if (
        o.type !== 'dead' ||
        hasAny(view.faults, ['crash', 'pause', 'partition', ...NODE_DOWN_FAULTS])
      )
        return undefined;
      return `${o.observer} declared ${nameOf(view, o.subject)}@${o.incarnation} dead, but nothing crashed, paused or partitioned it`;
    },
  );
}

/** The first observer that still holds `down` live past the bound, as a message. */
function lateObserver(view: SwimView, down: SwimNodeRecord, boundMs: number): string | undefined {
  for (const observer of view.nodes) {
    if (!observer.up || observer.state === undefined || down.crashedAtMs === undefined) continue;
    const fromMs = Math.max(down.crashedAtMs, observer.startedAtMs);
    if (view.now() <= fromMs + boundMs) continue;
    const record = observer.state.members.get(down.id);
    if (record !== undefined && (record.state === 'alive' || record.state === 'suspect')) {
      return `${observer.name} still holds ${down.name} ${record.state}@${record.incarnation} ${view.now() - down.crashedAtMs} ms after its crash at t=${down.crashedAtMs}ms (bound ${boundMs} ms from max(crash, observer start t=${observer.startedAtMs}ms))`;
    }
  }
  return undefined;
}

function crashDetectionChecker(): Checker<SwimView> {
  return {
    name: 'crash-detected-within-bound',
    check(view) {
      if (
        view.extraLoss ||
        hasAny(view.faults, ['loss', 'pause', 'partition']) ||
        view.healedAtMs !== undefined
      )
        return [];
      const boundMs = crashDetectionBoundMs(view.config, view.nodes.length);
      for (const down of view.nodes) {
        if (down.up) continue;
        const late = lateObserver(view, down, boundMs);
        if (late !== undefined) return [late];
      }
      return [];
    },
  };
}

function awarenessChecker(): Checker<SwimView> {
  let downMax = 0;
  const stalled = new Set<string>();
  return {
    name: 'awareness-only-from-silent-helpers',
    check(view) {
      // Not with disk faults: a slow write stalls a node the way a pause does.
      const quiet = [...view.faults].every(
        (k) => k === 'crash' || k === 'pause' || k === 'dup' || k === 'power',
      );
      if (!quiet || view.extraLoss) return [];
      let down = 0;
      for (const node of view.nodes) {
        if (node.up && !view.isPaused(node.address)) continue;
        down++;
        // A paused node really is slow: its own score may rise (Lifeguard's point), so it is
        // judged no more; a crashed one starts again at 0.
        if (node.up) stalled.add(node.name);
      }
      downMax = Math.max(downMax, down);
      if (downMax > 1) return [];
      for (const node of view.nodes) {
        if (!node.up || node.state === undefined || stalled.has(node.name)) continue;
        const missed = node.state.counters.nacksMissed;
        if (missed === 0) continue;
        return [
          `${node.name} missed ${missed} nack(s) (awareness ${node.state.awareness}) with at most one node down and no network fault: a helper's nack came too late or was not counted`,
        ];
      }
      return [];
    },
  };
}

/** Where one observer's life last saw a subject depart: the floor a return must beat. */
interface Departure {
  incarnation: number;
  atMs: number;
}

function noResurrectionChecker(): Checker<SwimView> {
  const departures = new Map<string, Departure>();
  return logChecker(
    'no-resurrection',
    (v: SwimView) => v.events,
    (o, view) => {
      const key = `${o.observer}#${o.life}>${o.subject}`;
      const floor = departures.get(key);
      if (o.type === 'dead' || o.type === 'left') {
        departures.set(key, {
          incarnation: Math.max(o.incarnation, floor?.incarnation ?? 0),
          atMs: o.atMs,
        });
        return undefined;
      }
      if ((o.type !== 'joined' && o.type !== 'alive') || floor === undefined) return undefined;
      const windowMs = view.config.deadReclaimMs + tombstoneLifetimeMs(view.config);
      if (o.incarnation > floor.incarnation || o.atMs - floor.atMs >= windowMs) return undefined;
      return `${o.observer} sees ${nameOf(view, o.subject)} ${o.type}@${o.incarnation}, not above the incarnation ${floor.incarnation} it saw it depart at ${o.atMs - floor.atMs} ms earlier (t=${floor.atMs}ms): a forgotten member came back from a stale view without a refute`;
    },
  );
}

/** What keeps the cluster from one view (first problem found), or undefined when converged. */
export function describeSplitView(view: SwimView): string | undefined {
  for (const observer of view.nodes) {
    if (!observer.up || observer.state === undefined) return `${observer.name} is not running`;
    for (const subject of view.nodes) {
      const record = observer.state.members.get(subject.id);
      if (record === undefined) return `${observer.name} does not know ${subject.name}`;
      if (record.state !== 'alive' && record.id !== observer.id)
        return `${observer.name} sees ${subject.name} ${record.state}@${record.incarnation}`;
      const before = subject.incarnationBeforeCrash;
      if (before !== undefined && record.incarnation <= before) {
        return `${observer.name} sees restarted ${subject.name} at incarnation ${record.incarnation}, not above ${before} of its previous life`;
      }
    }
    const extra = observer.state.liveCount - view.nodes.length;
    if (extra !== 0)
      return `${observer.name} counts ${observer.state.liveCount} live members for ${view.nodes.length} nodes`;
  }
  return undefined;
}

function healChecker(): Checker<SwimView> {
  return {
    name: 'one-view-within-bound',
    check(view) {
      if (view.healedAtMs === undefined) return [];
      const boundMs = healBoundMs(view.config, view.nodes.length);
      if (view.now() <= view.healedAtMs + boundMs) return [];
      const split = describeSplitView(view);
      return split === undefined
        ? []
        : [
            `no single view ${view.now() - view.healedAtMs} ms after the heal (bound ${boundMs} ms): ${split}`,
          ];
    },
  };
}

/** Fresh checkers for one run (they keep per-run state). */
function suspicionClearedByRefuteChecker(): Checker<SwimView> {
  const suspected = new Map<string, number>();
  return logChecker(
    'suspicion-cleared-only-by-refutation',
    (v: SwimView) => v.events,
    (o, view) => {
      const key = `${o.observer}#${o.life}>${o.subject}`;
      if (o.type === 'suspect') {
        suspected.set(key, o.incarnation);
        return undefined;
      }
      const floor = suspected.get(key);
      suspected.delete(key);
      if (o.type !== 'alive' || floor === undefined || o.incarnation > floor) return undefined;
      return `${o.observer} sees ${nameOf(view, o.subject)} alive@${o.incarnation} while it held it suspect@${floor}: only a refutation (a higher incarnation) clears a suspicion`;
    },
  );
}

export function swimCheckers(): Checker<SwimView>[] {
  return [
    noSuspicionChecker(),
    noFalseDeathChecker(),
    crashDetectionChecker(),
    awarenessChecker(),
    noResurrectionChecker(),
    suspicionClearedByRefuteChecker(),
    healChecker(),
  ];
}
