/**
 * `swim` mode's joins as the node sees them: whether this node has joined a cluster, why not
 * when it has not, and `node.join(addresses)` answered with how many of the addresses answered.
 *
 * Joined: a node started with seeds (other than its own address) is not joined until another
 * member enters its view (a push-pull with a seed or a member succeeded, either way round);
 * until then it reports no leader (mode-swim.ts withholds the view from the leader core), so a
 * node that cannot reach its seeds never elects itself leader of a one-node cluster. A node
 * started without seeds is a cluster of its own from the start. Once joined it stays joined
 * (members that die later are the failure detector's business, not a join's).
 *
 * Requests: the membership core runs one join attempt at a time and ends it at the first reply,
 * so a request tries its addresses one after another, each in an attempt of its own (as
 * memberlist's Join does), after any attempt in flight (the first join, a seed retry) ended.
 * Every attempt's outcome is published (`JoinEvent`); a failure's detail names what the
 * transport learned meanwhile (a peer that refused our connection, and why).
 */
import type { Address } from '../base/address.js';
import type { NodeId } from '../identity/node-id.js';
import type { JoinFailureReason, MembershipEvent } from '../membership/types.js';
import { describeStreamRefusal } from '../transport/tcp-refusal.js';
import type { StreamRefusal } from '../transport/types.js';
import type { JoinOutcome } from './runtime.js';

/** Most join requests waiting for their turn at once; more are refused at once. */
export const PENDING_JOINS_MAX = 64;
/** Refusals remembered between two attempt outcomes. */
export const REFUSALS_REMEMBERED_MAX = 16;

/** One join attempt's outcome, as the node publishes it (`node.on('join')`). */
export interface JoinEvent {
  kind: 'join';
  /** `start`: the first join through the seeds; `retry`: a later seed retry; `request`: `node.join`. */
  by: 'start' | 'retry' | 'request';
  addresses: string[];
  ok: boolean;
  /** Addresses that answered (ok only). */
  contacted?: number;
  reason?: JoinFailureReason;
  detail?: string;
}

export type JoinStatus =
  { joined: true } | { joined: false; reason: JoinFailureReason | 'joining'; detail: string };

export interface SwimJoinsIo {
  selfId: NodeId;
  /** True while the membership core runs a join attempt. */
  coreBusy(): boolean;
  /** Starts a core join attempt through `addresses`. */
  startAttempt(addresses: Address[]): void;
  /** Runs `fn` on the next clock turn (outside any step: the core's state is then settled). */
  later(fn: () => void): void;
  publish(event: JoinEvent): void;
  /** Called once, when the node joins. */
  onJoined(): void;
}

interface Pending {
  addresses: Address[];
  resolve: (outcome: JoinOutcome) => void;
}

export class SwimJoins {
  private owner: Pending | undefined;
  private readonly queue: Pending[] = [];
  private readonly refusals = new Map<Address, string>();
  private background: 'start' | 'retry' = 'start';
  private current: JoinStatus;
  private ended = false;

  /** `seeds`: the configured seeds other than our own address (cached peers do not count). */
  constructor(
    private readonly io: SwimJoinsIo,
    private readonly seeds: readonly Address[],
  ) {
    this.current =
      seeds.length === 0
        ? { joined: true }
        : { joined: false, reason: 'joining', detail: `joining through ${seeds.join(', ')}` };
  }

  status(): JoinStatus {
    return this.current;
  }

  /** Tries each address in turn; ok with the number that answered, or the failures of all. */
  async request(addresses: readonly Address[]): Promise<JoinOutcome> {
    let contacted = 0;
    const failures: string[] = [];
    let last: JoinOutcome | undefined;
    for (const address of new Set(addresses)) {
      const outcome = await this.attempt([address]);
      if (outcome.ok) contacted++;
      else {
        failures.push(`${address}: ${outcome.reason}: ${outcome.detail}`);
        last = outcome;
      }
      if (!outcome.ok && outcome.reason === 'shutting_down') break;
    }
    if (contacted > 0) return { ok: true, contacted };
    if (last === undefined || last.ok)
      return { ok: false, reason: 'unreachable', detail: 'no address' };
    // One address: its own reason and detail; several: each one's, in order.
    return failures.length === 1
      ? last
      : { ok: false, reason: last.reason, detail: failures.join('; ') };
  }

  /** A member event of the membership core: another member in view means joined. */
  onMember(event: MembershipEvent): void {
    if (this.current.joined || event.type !== 'joined' || event.member.id === this.io.selfId)
      return;
    this.current = { joined: true };
    this.io.onJoined();
  }

  /** The core's `join-result`, for the attempt in flight. */
  onResult(outcome: JoinOutcome): void {
    const owner = this.owner;
    const enriched = this.enrich(outcome, owner?.addresses);
    this.refusals.clear();
    this.owner = undefined;
    const by = owner === undefined ? this.background : 'request';
    if (owner === undefined) this.background = 'retry';
    if (!enriched.ok && !this.current.joined)
      this.current = { joined: false, reason: enriched.reason, detail: enriched.detail };
    this.io.publish({
      kind: 'join',
      by,
      addresses: owner?.addresses ?? [...this.seeds],
      ...(enriched.ok
        ? { ok: true, contacted: enriched.contacted }
        : { ok: false, reason: enriched.reason, detail: enriched.detail }),
    });
    owner?.resolve(enriched);
    this.schedulePump();
  }

  /** The core refused to start the request's attempt (the node is leaving). */
  onRejected(detail: string): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.owner = undefined;
    owner.resolve({ ok: false, reason: 'shutting_down', detail });
    this.schedulePump();
  }

  /** A stream connection to `to` was refused (with the acceptor's reason, if it gave one). */
  noteRefusal(to: Address, refusal: StreamRefusal | undefined): void {
    if (this.refusals.size < REFUSALS_REMEMBERED_MAX || this.refusals.has(to))
      this.refusals.set(to, describeStreamRefusal(refusal));
  }

  /** The node stopped: every waiting request gets its answer now. */
  end(): void {
    this.ended = true;
    const stopped: JoinOutcome = { ok: false, reason: 'shutting_down', detail: 'node stopped' };
    const waiting = [...(this.owner === undefined ? [] : [this.owner]), ...this.queue.splice(0)];
    this.owner = undefined;
    for (const pending of waiting) pending.resolve(stopped);
  }

  private attempt(addresses: Address[]): Promise<JoinOutcome> {
    if (this.ended)
      return Promise.resolve({ ok: false, reason: 'shutting_down', detail: 'node stopped' });
    if (this.queue.length >= PENDING_JOINS_MAX)
      return Promise.resolve({
        ok: false,
        reason: 'unreachable',
        detail: `more than ${PENDING_JOINS_MAX} join requests are waiting; try again later`,
      });
    return new Promise((resolve) => {
      this.queue.push({ addresses, resolve });
      this.schedulePump();
    });
  }

  /** `pump` on the next clock turn: results arrive mid-step, when a new input would be deferred. */
  private schedulePump(): void {
    if (this.queue.length > 0) this.io.later(() => this.pump());
  }

  /** Starts the next request's attempt once no attempt is in flight. */
  private pump(): void {
    if (this.ended || this.owner !== undefined || this.queue.length === 0) return;
    if (this.io.coreBusy()) return;
    this.owner = this.queue.shift() as Pending;
    // Refusals from before (a late one of an earlier attempt) say nothing about this attempt.
    this.refusals.clear();
    this.io.startAttempt(this.owner.addresses);
  }

  /**
   * A failure's detail, with what the peers that refused our connection said: for a request,
   * only its own addresses (a refusal of another peer, a member probed over the stream fallback,
   * says nothing about it); for a seed retry, any (the core also retries cached peers).
   */
  private enrich(outcome: JoinOutcome, tried: readonly Address[] | undefined): JoinOutcome {
    if (outcome.ok) return outcome;
    const said = [...this.refusals]
      .filter(([to]) => tried === undefined || tried.includes(to))
      .map(([to, why]) => `${to} refused our connection: ${why}`);
    if (said.length > 0) return { ...outcome, detail: `${outcome.detail} (${said.join('; ')})` };
    if (outcome.reason !== 'unreachable' || !outcome.detail.startsWith('no push-pull reply'))
      return outcome;
    return {
      ...outcome,
      detail: `${outcome.detail}: the address may be down or firewalled, or its gossip key setting differs from ours`,
    };
  }
}
