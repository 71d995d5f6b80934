/**
 * Checkers shared by the `static` and `swim` election scenarios (docs/design/election.md). They
 * judge each node only by what it reports (`leader()`, its fencing term, the input its leader
 * rule reads) against the simulator's ground truth (who is up, paused, partitioned), so the same
 * oracle serves modes with different rules:
 *
 * - `shared-view-one-leader`: members whose leader rule read the same view, and whose view holds
 *   a majority of the cluster, name the same leader (the claim of both modes; failure story 1).
 * - `no-leader-in-minority`: a node cut off from a majority of the cluster (it and the running
 *   nodes that reach it, `ElectionView.reach`, are fewer than a majority) for longer than the
 *   mode's detection bound has no leader (failure stories 2 and 3). Only for quorum configs.
 * - `leader-term-monotonic`: a node's fencing term never decreases, across restarts (persisted).
 * - `leaders-overlap-within-bound`: two running nodes that each report themselves leader at the
 *   same time (an old leader cut off and a successor) do so for at most the mode's documented
 *   overlap bound.
 * Liveness (`describeNoAgreement`): every node up, one leader known by all with one term.
 */
import type { Address } from '../../base/address.js';
import type { NodeId } from '../../identity/node-id.js';
import { majorityOf } from '../../election/quorum.js';
import type { Checker } from '../checkers.js';
import type { SimNetwork } from '../network.js';

/** One simulated node as the election checkers see it; the scenario keeps the closures current. */
export interface ElectionNodeRecord {
  readonly name: string;
  readonly address: Address;
  readonly id: NodeId;
  up: boolean;
  /** The leader the node's core has decided on now (published once its term is durable). */
  leader: () => { id: NodeId; term: number } | undefined;
  /** The node's fencing term as it last published it (a leader event: durable before it goes out). */
  term: () => number;
  /** The leader rule's input as canonical text, and how many members it holds. */
  viewKey: () => string;
  viewSize: () => number;
  /**
   * Whether `no-leader-in-minority` judges this node now: always, except in a scenario whose
   * config only promises it after a condition (swim's `restart-minority`: once the node has
   * seen the whole cluster stable).
   */
  judged: () => boolean;
}

export interface ElectionView {
  readonly nodes: readonly ElectionNodeRecord[];
  readonly network: SimNetwork;
  readonly now: () => number;
  /** Longest time a node may keep a leader after it is cut off from a majority, ms. */
  readonly minorityBoundMs: number;
  /**
   * What connects a node to a peer: `inbound` when its leader rule only hears peers (static's
   * heartbeats: a peer it hears is healthy even if the reverse path is cut), `both` when it
   * needs round trips (SWIM probes and acks).
   */
  readonly reach: 'inbound' | 'both';
  /**
   * Whether the bound restarts when the node itself resumes from a pause. Static must not need
   * it (it detects its own stalls and distrusts the packets that queued meanwhile); SWIM detects
   * failures with its own probes, which do not run while it is paused.
   */
  readonly boundFromResume: boolean;
}

/** The up node that leads in the highest term by its own core: what targeted faults aim at. */
export function currentLeader(view: ElectionView): Address | undefined {
  let best: { address: Address; term: number } | undefined;
  for (const node of view.nodes) {
    const leader = node.up ? node.leader() : undefined;
    if (leader === undefined || leader.id !== node.id) continue;
    if (best === undefined || leader.term > best.term)
      best = { address: node.address, term: leader.term };
  }
  return best?.address;
}

function running(view: ElectionView, node: ElectionNodeRecord): boolean {
  return node.up && !view.network.isPaused(node.address);
}

/**
 * Whether `other` reaches `node` right now, as `view.reach` defines reaching: `inbound`, a
 * direct path from other to node; `both`, round trips directly or through one helper both can
 * reach (SWIM's ping-req: in a ring or bridge partition a member is alive by relay).
 */
function reaches(view: ElectionView, other: ElectionNodeRecord, node: ElectionNodeRecord): boolean {
  if (!running(view, other)) return false;
  if (view.reach === 'inbound') return !view.network.isBlocked(other.address, node.address);
  if (roundTrip(view, other, node)) return true;
  return view.nodes.some(
    (helper) =>
      helper !== node &&
      helper !== other &&
      running(view, helper) &&
      roundTrip(view, node, helper) &&
      roundTrip(view, helper, other),
  );
}

function roundTrip(view: ElectionView, a: ElectionNodeRecord, b: ElectionNodeRecord): boolean {
  return (
    !view.network.isBlocked(a.address, b.address) && !view.network.isBlocked(b.address, a.address)
  );
}

/**
 * Members reading the same majority view name the same leader. Drivers re-evaluate on the clock
 * turn after a view change (swim's `poke`), so a disagreement counts only once it has outlived
 * the instant it was first seen at.
 */
export function sharedViewOneLeader(): Checker<ElectionView> {
  let firstSeenMs: number | undefined;
  return {
    name: 'shared-view-one-leader',
    check(view) {
      const found = disagreement(view);
      if (found === undefined) firstSeenMs = undefined;
      else firstSeenMs ??= view.now();
      return found !== undefined && view.now() > (firstSeenMs ?? Infinity) ? [found] : [];
    },
  };
}

function disagreement(view: ElectionView): string | undefined {
  const majority = majorityOf(view.nodes.length);
  const leaderByView = new Map<string, { id: NodeId; name: string }>();
  for (const node of view.nodes) {
    const leader = running(view, node) ? node.leader() : undefined;
    if (leader === undefined || node.viewSize() < majority) continue;
    const key = node.viewKey();
    const known = leaderByView.get(key);
    if (known === undefined) leaderByView.set(key, { id: leader.id, name: node.name });
    else if (known.id !== leader.id)
      return `${known.name} and ${node.name} share the view [${key}] but lead with ${known.id} and ${leader.id}`;
  }
  return undefined;
}

/**
 * A running node that no majority of the cluster (itself counted) has reached within the last
 * `minorityBoundMs` must have no leader. Reach is sampled after every event; a path found cut is
 * taken to have been open until that event (the fault is an event itself, so this is exact for
 * partitions, pauses and crashes, and never earlier than the truth). A node resumed from a
 * pause runs its overdue timers in later events of the same instant, so a violation counts only
 * once it has outlived the instant it was first seen at.
 */
export function noLeaderInMinority(
  options: { name?: string; boundMs?: number; claimantsOnly?: boolean } = {},
): Checker<ElectionView> {
  const open = new Set<string>();
  const closedAtMs = new Map<string, number>();
  const firstSeenMs = new Map<Address, number>();
  const resumedAtMs = new Map<Address, number>();
  const paused = new Set<Address>();
  const pathKey = (from: ElectionNodeRecord, to: ElectionNodeRecord): string =>
    `${from.address}>${to.address}`;
  const samplePaths = (view: ElectionView, now: number): void => {
    for (const node of view.nodes)
      for (const other of view.nodes) {
        if (other === node) continue;
        const key = pathKey(other, node);
        if (reaches(view, other, node)) open.add(key);
        else if (open.delete(key)) closedAtMs.set(key, now);
      }
  };
  return {
    name: options.name ?? 'no-leader-in-minority',
    check(view) {
      const majority = majorityOf(view.nodes.length);
      const now = view.now();
      const boundMs = options.boundMs ?? view.minorityBoundMs;
      samplePaths(view, now);
      for (const node of view.nodes) {
        // A node that was down (crashed, or not booted yet) counts as paused: a (re)started
        // SWIM node learns its view from another's push-pull, as stale as that member's.
        if (!node.up || view.network.isPaused(node.address)) paused.add(node.address);
        else if (paused.delete(node.address)) resumedAtMs.set(node.address, now);
      }
      for (const node of view.nodes) {
        const reported = running(view, node) && node.judged() ? node.leader() : undefined;
        const leader =
          options.claimantsOnly === true && reported?.id !== node.id ? undefined : reported;
        const justResumed =
          view.boundFromResume && now - (resumedAtMs.get(node.address) ?? -Infinity) <= boundMs;
        const recent = justResumed
          ? view.nodes
          : view.nodes.filter(
              (o) =>
                o === node ||
                open.has(pathKey(o, node)) ||
                now - (closedAtMs.get(pathKey(o, node)) ?? -Infinity) <= boundMs,
            );
        if (leader === undefined || recent.length >= majority) {
          firstSeenMs.delete(node.address);
          continue;
        }
        const since = firstSeenMs.get(node.address) ?? now;
        firstSeenMs.set(node.address, since);
        if (now > since) {
          return [
            `${node.name} has leader ${leader.id} t${leader.term} but only ${recent.map((o) => o.name).join(' ')} reached it in the last ${boundMs} ms (majority ${majority} of ${view.nodes.length})`,
          ];
        }
      }
      return [];
    },
  };
}

export function leaderTermMonotonic(): Checker<ElectionView> {
  const highest = new Map<Address, number>();
  return {
    name: 'leader-term-monotonic',
    check(view) {
      for (const node of view.nodes) {
        if (!node.up) continue;
        // The published term only: the core's own leader runs ahead of the disk until its write.
        const term = node.term();
        const before = highest.get(node.address) ?? 0;
        if (term < before) return [`${node.name}: term went back from ${before} to ${term}`];
        highest.set(node.address, term);
      }
      return [];
    },
  };
}

/** Why the nodes do not (yet) agree on one leader, one of them, with one term; undefined once they do. */
export function describeNoAgreement(view: ElectionView): string | undefined {
  const down = view.nodes.filter((n) => !n.up).map((n) => n.name);
  if (down.length > 0) return `down: ${down.join(' ')}`;
  const first = view.nodes[0]?.leader();
  const agreed =
    first !== undefined &&
    view.nodes.some((n) => n.id === first.id) &&
    view.nodes.every((n) => n.leader()?.id === first.id && n.leader()?.term === first.term);
  if (agreed) return undefined;
  return view.nodes
    .map((n) => {
      const l = n.leader();
      return `${n.name}: ${l === undefined ? 'none' : `${l.id.slice(0, 6)} t${l.term}`} (term ${n.term()})`;
    })
    .join('; ');
}

/**
 * At most `boundMs` during which two running nodes both report themselves leader. Overlap is
 * measured from the first event at which a second leader appears to the first at which only
 * one (or none) remains; a pair that outlives the bound fails the run.
 */
export function leadersOverlap(boundMs: number): Checker<ElectionView> {
  let sinceMs: number | undefined;
  return {
    name: 'leaders-overlap-within-bound',
    check(view) {
      const leaders = view.nodes.filter((n) => {
        if (!running(view, n)) return false;
        return n.leader()?.id === n.id;
      });
      const now = view.now();
      if (leaders.length < 2) {
        sinceMs = undefined;
        return [];
      }
      sinceMs ??= now;
      if (now - sinceMs <= boundMs) return [];
      const who = leaders.map((n) => `${n.name} (t${n.leader()?.term ?? '?'})`).join(' and ');
      return [
        `${who} have both led since t=${sinceMs}ms: ${now - sinceMs} ms, above the overlap bound of ${boundMs} ms`,
      ];
    },
  };
}
