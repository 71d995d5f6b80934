/**
 * The `swim` leader driver: re-evaluates the sticky-HRW core (step.ts) on every membership
 * event and when the stabilization window ends, and publishes this node's claim as its
 * `CLAIM_LABEL` label (and, only while it sees a live claim below it, the highest term it has
 * seen as `SEEN_LABEL`) through the MembershipDriver, so both spread by SWIM gossip and push-pull.
 * The highest term seen (own claims and others') is persisted before the claim spreads or the
 * leader is reported, so a restarted node never claims a term it used and never reports a term
 * below one it reported before the crash (the fencing term only increases on a node).
 */
import type { Storage } from '../../base/storage.js';
import { ms, type Clock, type TimerHandle } from '../../base/time.js';
import type { Labels } from '../../codec/messages.js';
import type { NodeId } from '../../identity/node-id.js';
import type { MembershipDriver } from '../../membership/driver.js';
import type { MembershipEvent } from '../../membership/types.js';
import type { MemberTable } from '../../membership/member-table.js';
import { hrwWinnerOf } from './hrw.js';
import { CLAIM_LABEL, SEEN_LABEL, createSwimLeaderState, evaluateView, nextDeadline, parseClaim, type LiveMember, type LiveView, type SwimLeaderConfig, type SwimLeaderState } from './step.js';

export const SWIM_TERM_FILE = 'election/swim-term';

export interface SwimLeaderDriverOptions {
  config: SwimLeaderConfig;
  selfId: NodeId;
  clock: Clock;
  storage: Storage;
  membership: MembershipDriver;
  onLeader: (leader: { id: NodeId; term: number } | undefined, term: number) => void;
}

export class SwimLeaderDriver {
  readonly state: SwimLeaderState;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private userLabels: Labels;
  private persistedTerm: number;
  /** False until the first evaluation published the labels (a restarted node's seen term included). */
  private labelsPublished = false;

  constructor(private readonly opts: SwimLeaderDriverOptions, labels: Labels) {
    const text = opts.storage.read(SWIM_TERM_FILE);
    const persisted = text === undefined ? 0 : Number(new TextDecoder().decode(text)) || 0;
    this.persistedTerm = persisted;
    this.state = createSwimLeaderState(opts.config, opts.selfId, persisted, opts.clock.now());
    this.userLabels = labels;
  }

  leader(): { id: NodeId; term: number } | undefined {
    return this.stopped ? undefined : this.state.leader;
  }

  /** The user's labels with this node's claim added (setLabels must not erase a claim). */
  withClaim(labels: Labels): Labels {
    this.userLabels = labels;
    const out: Record<string, string> = { ...labels };
    delete out[CLAIM_LABEL];
    delete out[SEEN_LABEL];
    if (this.state.claim !== undefined) out[CLAIM_LABEL] = String(this.state.claim);
    if (this.state.contestedTerm !== undefined) out[SEEN_LABEL] = String(this.state.contestedTerm);
    return out;
  }

  /**
   * Feeds one membership event. A `suspect` event neither changes the live set (alive and
   * suspect members are both live) nor carries labels (claims travel as labels), so it cannot
   * change the leader and schedules nothing; every other event may (an `alive` after a suspicion
   * can carry new labels) and schedules a re-evaluation.
   */
  observe(event: MembershipEvent): void {
    if (event.type !== 'suspect') this.poke();
  }

  /**
   * Schedules a re-evaluation on the next clock turn: called from membership events, which
   * arrive while the membership driver is mid-step, so changing labels right then would re-enter it.
   */
  poke(): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimer(ms(0), () => this.reevaluate());
  }

  /** Re-evaluates the leader from the current view. */
  reevaluate(): void {
    if (this.stopped) return;
    const m = this.opts.membership;
    const claimBefore = this.state.claim;
    const contestedBefore = this.state.contestedTerm;
    const changed = evaluateView(this.state, liveView(m.state.members), this.opts.clock.now(), `epoch ${m.state.epoch}`);
    if (this.state.highestTermSeen > this.persistedTerm) this.persistTerm(this.state.highestTermSeen);
    if (!this.labelsPublished || this.state.claim !== claimBefore || this.state.contestedTerm !== contestedBefore) {
      this.labelsPublished = true;
      this.opts.membership.updateLabels(this.withClaim(this.userLabels));
    }
    if (changed) this.opts.onLeader(this.state.leader, this.state.leader?.term ?? this.state.reportedTerm);
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** Write, fsync, rename: durable before the claim spreads or the leader is reported. */
  private persistTerm(term: number): void {
    const s = this.opts.storage;
    s.writeFile(`${SWIM_TERM_FILE}.tmp`, new TextEncoder().encode(String(term)));
    s.fsync(`${SWIM_TERM_FILE}.tmp`);
    s.rename(`${SWIM_TERM_FILE}.tmp`, SWIM_TERM_FILE);
    this.persistedTerm = term;
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const at = nextDeadline(this.state);
    if (at === undefined) return;
    this.timer = this.opts.clock.setTimer(ms(Math.max(1, at - this.opts.clock.now())), () => this.reevaluate());
  }
}

/**
 * The core's view of the membership table, in one pass over its columns: no member is copied,
 * only the few that carry election labels; the HRW winner is scanned only when the core asks.
 */
function liveView(table: MemberTable): LiveView {
  let size = 0;
  const labelled: LiveMember[] = [];
  for (let slot = 0; slot < table.size; slot++) {
    if (!table.isLive(slot)) continue;
    size++;
    const labels = table.labels[slot] as Labels;
    if (labels[CLAIM_LABEL] === undefined && labels[SEEN_LABEL] === undefined) continue;
    labelled.push({ id: table.ids[slot] as NodeId, claimTerm: parseClaim(labels), seenTerm: parseClaim(labels, SEEN_LABEL) });
  }
  const winner = (): NodeId | undefined => {
    const ids: NodeId[] = [];
    for (let slot = 0; slot < table.size; slot++) if (table.isLive(slot)) ids.push(table.ids[slot] as NodeId);
    return hrwWinnerOf(ids);
  };
  return { size, labelled, winner };
}
