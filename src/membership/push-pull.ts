/**
 * Push-pull anti-entropy over the stream channel (memberlist's pushPull / mergeRemoteState): on
 * join, periodically with one random live member (interval scaled by `pushPullIntervalScaledMs`),
 * and now and then with a dead member's address (`reconnect`) so a healed partition merges again.
 * Every push-pull carries our config fingerprint; a mismatch is answered with a `reject`
 * (`config_mismatch`) and never merged.
 *
 * The periodic round is digest-first (membership.md, "Push-pull digest"): we send our view
 * digest and config digest (`push-pull-digest`, ~60 bytes); a peer that agrees answers with its
 * digest ("in sync", counted `pushPullsInSync` on both sides), a peer that does not answers with
 * its full view and `reply: true`, so both sides merge exactly as in a full push-pull. Join and
 * reconnect stay full (the views differ by construction there).
 *
 * Hostile input (docs/security.md): a push-pull counts only with its sender's own signed record
 * in it, at the address it claims (and the sender admitted, for a join), and every answer goes
 * to that address; a digest counts only from a live member at the address we hold for it. So
 * no push-pull or digest makes us send to an address no member signed.
 */
import type { Address } from '../base/address.js';
import type { Millis } from '../base/time.js';
import type { MemberRecord, Message } from './messages.js';
import { mergeRemoteState } from './apply-update.js';
import { admissionRefusal, refuse, short, verifyRecord } from './security.js';
import { describeFingerprintMismatch } from './config.js';
import { digestHex } from './digest.js';
import { joinSyncDelayMs, pushPullIntervalScaledMs } from './scaling.js';
import type { MemberTable } from './member-table.js';
import { refuseProbe } from './probe.js';
import {
  changeState,
  count,
  isLive,
  randomMembers,
  recordFieldsOf,
  self,
  send,
  type Turn,
} from './state.js';
import type { JoinFailureReason } from './types.js';

type PushPull = Extract<Message, { type: 'push-pull' }>;
type Reject = Extract<Message, { type: 'reject' }>;
type PushPullDigest = Extract<Message, { type: 'push-pull-digest' }>;

/** Our full view. O(N), once per push-pull period, join or reconnect. */
export function localRecords(turn: Turn): MemberRecord[] {
  const members = turn.state.members;
  const out = new Array<MemberRecord>(members.size);
  for (let slot = 0; slot < members.size; slot++) {
    const member = members.at(slot);
    // `joining` is local-only: on the wire we are alive (that is what a join announces).
    const state = member.state === 'joining' ? 'alive' : member.state;
    out[slot] = { ...recordFieldsOf(member), state, accusation: member.accusation };
  }
  return out;
}

export function sendPushPull(turn: Turn, to: Address, join: boolean): void {
  const { state } = turn;
  count(state, 'pushPullsSent');
  send(turn, to, 'stream', {
    type: 'push-pull',
    from: state.selfId,
    fromAddress: self(state).address,
    join,
    reply: true,
    configFingerprint: state.fingerprint,
    members: localRecords(turn),
  });
}

function viewDigestOf(turn: Turn): string {
  return digestHex(turn.state.viewDigest.hi, turn.state.viewDigest.lo);
}

function sendDigest(turn: Turn, to: Address, reply: boolean): void {
  const { state } = turn;
  count(state, 'pushPullDigestsSent');
  send(turn, to, 'stream', {
    type: 'push-pull-digest',
    from: state.selfId,
    fromAddress: self(state).address,
    reply,
    configDigest: state.fingerprintDigest,
    viewDigest: viewDigestOf(turn),
  });
}

/**
 * A peer's digest, as a request (`reply`) or as its "in sync" answer to ours. Equal view and
 * config digests: nothing to merge (a request gets our digest back). Any difference, on either
 * leg: a full push-pull asking for the peer's view, so both sides merge; a config difference is
 * then rejected by the peer's full fingerprint check with a readable detail. This cannot loop: a
 * full push-pull is answered at most once, with `reply: false`.
 */
export function onPushPullDigest(turn: Turn, message: PushPullDigest): void {
  const { state } = turn;
  const sender = state.members.get(message.from);
  if (sender === undefined || !isLive(sender.state) || sender.address !== message.fromAddress) {
    refuse(
      turn,
      'push_pull_refused',
      `push-pull digest from ${short(message.from)} at ${message.fromAddress}: not a live member at that address here`,
    );
    return;
  }
  if (
    message.configDigest === state.fingerprintDigest &&
    message.viewDigest === viewDigestOf(turn)
  ) {
    count(state, 'pushPullsInSync');
    if (message.reply) sendDigest(turn, sender.address, false);
    return;
  }
  sendPushPull(turn, sender.address, false);
}

/** Sends a join push-pull to every address (ours excluded); the first reply completes the join. */
export function startJoin(turn: Turn, addresses: readonly Address[]): void {
  const { state } = turn;
  const own = self(state).address;
  const targets = [...new Set(addresses)].filter((a) => a !== own);
  if (targets.length === 0) {
    finishJoin(turn, {
      kind: 'join-result',
      ok: false,
      reason: 'unreachable',
      detail: 'no join address other than our own',
    });
    return;
  }
  const pending = state.join?.pending ?? new Set<Address>();
  for (const address of targets) pending.add(address);
  state.join = { pending, deadlineMs: (turn.now + state.config.joinTimeoutMs) as Millis };
  for (const address of targets) sendPushPull(turn, address, true);
}

/** Ends a join attempt; we become alive either way (a node whose seeds fail is a cluster of one). */
export function finishJoin(
  turn: Turn,
  result:
    | { kind: 'join-result'; ok: true; contacted: number }
    | { kind: 'join-result'; ok: false; reason: JoinFailureReason; detail: string },
): void {
  turn.state.join = undefined;
  const me = self(turn.state);
  if (me.state === 'joining') changeState(turn, me, 'alive');
  turn.effects.push(result);
}

/**
 * The sender's own record in its push-pull, verified, at the address the push-pull claims: what
 * makes an answer to `fromAddress` safe. Undefined (refused, counted) otherwise.
 */
function senderRecord(turn: Turn, message: PushPull): MemberRecord | undefined {
  const record = message.members.find((m) => m.id === message.from);
  const what = `push-pull from ${short(message.from)} at ${message.fromAddress}`;
  if (record === undefined || record.address !== message.fromAddress) {
    refuse(
      turn,
      'push_pull_refused',
      `${what}: it carries no record of its sender at that address`,
    );
    return undefined;
  }
  const kind = record.state === 'left' ? 'left' : 'alive';
  return verifyRecord(turn, kind, record, turn.state.members.get(record.id)) ? record : undefined;
}

function sendReject(turn: Turn, to: Address, reason: Reject['reason'], detail: string): void {
  send(turn, to, 'stream', { type: 'reject', from: turn.state.selfId, reason, detail });
}

export function onPushPull(turn: Turn, message: PushPull): void {
  const { state } = turn;
  count(state, 'pushPullsReceived');
  const sender = senderRecord(turn, message);
  if (sender === undefined) return;
  if (message.configFingerprint !== state.fingerprint) {
    count(state, 'configMismatchRejected');
    return sendReject(
      turn,
      message.fromAddress,
      'config_mismatch',
      describeFingerprintMismatch(state.fingerprint, message.configFingerprint),
    );
  }
  const denied = admissionRefusal(state, sender);
  if (denied !== undefined) {
    refuse(turn, 'admission_refused', `push-pull from ${short(sender.id)}: ${denied}`);
    if (!message.join) return;
    return sendReject(
      turn,
      message.fromAddress,
      'not_admitted',
      `the node at ${self(state).address} does not admit ${sender.id}: ${denied}`,
    );
  }
  if (
    message.join &&
    !state.members.has(message.from) &&
    state.members.size >= state.config.membersMax
  ) {
    count(state, 'membersRejected');
    return sendReject(
      turn,
      message.fromAddress,
      'too_many_members',
      `this cluster is at membersMax (${state.config.membersMax}) members`,
    );
  }
  mergeRemoteState(turn, message.members, message.from);
  if (message.reply) {
    send(turn, message.fromAddress, 'stream', {
      type: 'push-pull',
      from: state.selfId,
      fromAddress: self(state).address,
      join: false,
      reply: false,
      configFingerprint: state.fingerprint,
      members: localRecords(turn),
    });
  } else if (state.join !== undefined) {
    finishJoin(turn, { kind: 'join-result', ok: true, contacted: state.members.size - 1 });
    scheduleJoinSync(turn);
  }
}

/**
 * Brings the first periodic push-pull forward to `joinSyncDelayMs` after a successful join
 * (memberlist waits a full interval). Found in a simulated join storm through random members:
 * without it some views completed only at the periodic push-pull (30 s and more) because a
 * contact's view was incomplete at the join. Disabled with the periodic push-pull.
 */
function scheduleJoinSync(turn: Turn): void {
  const { state } = turn;
  const { gossipIntervalMs, probeIntervalMs, retransmitMult } = state.config;
  // Without a gossip tick, updates ride on probes only: one send opportunity per probe period.
  const tickMs = gossipIntervalMs > 0 ? gossipIntervalMs : probeIntervalMs;
  const atMs = turn.now + joinSyncDelayMs(tickMs, retransmitMult, state.members.size);
  if (atMs < state.nextPushPullAtMs) state.nextPushPullAtMs = atMs as Millis;
  // Full, not digest-first: the member it reaches may not know us yet, and a digest counts only
  // from a member (onPushPullDigest); a full push-pull carries our signed record.
  state.joinSyncDue = true;
}

/**
 * A reject ends a pending join with its reason. It is not authenticated (nothing in it is a
 * member's record), so without a keyring a forged one can end a join attempt early; the node
 * retries its seeds (`retrySeeds`), and a forged reject changes no member (docs/security.md).
 * It is not matched against the addresses the join went to: a seed named by DNS answers from
 * the address it advertises, and its reason must still reach the operator.
 */
export function onReject(turn: Turn, message: Reject): void {
  onRefused(turn, message.reason, message.detail);
}

/** A refusal (a `reject`, or the driver's `refused` input): fails a pending join with its reason; counted either way. */
export function onRefused(turn: Turn, reason: JoinFailureReason, detail: string): void {
  count(turn.state, 'rejectsReceived');
  if (turn.state.join === undefined) return;
  finishJoin(turn, { kind: 'join-result', ok: false, reason, detail });
}

/**
 * A stream connection to `to` was refused: a join address that cannot be reached is crossed off,
 * and a probe whose stream fallback went to `to` fails now (`refuseProbe`).
 */
export function onSendFailed(turn: Turn, to: Address): void {
  const { state } = turn;
  count(state, 'sendFailures');
  const probe = state.probe;
  if (
    probe !== undefined &&
    probe.indirectSent &&
    state.config.tcpFallback &&
    probe.targetAddress === to
  )
    refuseProbe(turn);
  const join = state.join;
  if (join === undefined || !join.pending.delete(to) || join.pending.size > 0) return;
  finishJoin(turn, {
    kind: 'join-result',
    ok: false,
    reason: 'unreachable',
    detail: 'every join address failed to connect',
  });
}

export function maybeExpireJoin(turn: Turn): void {
  const join = turn.state.join;
  if (join === undefined || join.deadlineMs > turn.now) return;
  finishJoin(turn, {
    kind: 'join-result',
    ok: false,
    reason: 'unreachable',
    detail: `no push-pull reply within joinTimeoutMs (${turn.state.config.joinTimeoutMs})`,
  });
}

/** The longest wait between seed retries: `max(joinTimeoutMs, reconnectIntervalMs)`. */
export function seedRetryMaxMs(config: {
  joinTimeoutMs: number;
  reconnectIntervalMs: number;
}): number {
  return Math.max(config.joinTimeoutMs, config.reconnectIntervalMs);
}

/**
 * Joins every configured seed that is not a live member of our view, backing off from
 * `joinTimeoutMs`, doubling up to `seedRetryMaxMs`. Nodes started together need not start in
 * order, and two groups that formed apart (booted on opposite sides of a partition) merge once a
 * seed answers: `reconnect` only re-tries members we once knew, so it cannot merge views that
 * never met. Cost: one address scan per retry, at most one join attempt in flight.
 */
export function retrySeeds(turn: Turn): void {
  const { state, now } = turn;
  const targets = seedsOutsideView(state.members, state.seeds);
  const maxMs = seedRetryMaxMs(state.config);
  if (targets.length === 0) {
    state.nextSeedRetryAtMs = (now + maxMs) as Millis;
    return;
  }
  state.nextSeedRetryAtMs = (now + state.seedRetryDelayMs) as Millis;
  state.seedRetryDelayMs = Math.min(state.seedRetryDelayMs * 2, maxMs);
  startJoin(turn, targets);
}

/** The seeds no live member (alive or suspect) has as address: one scan of the address column, stopping once every seed is found. */
function seedsOutsideView(members: MemberTable, seeds: readonly Address[]): Address[] {
  const missing = new Set(seeds);
  for (let slot = 0; slot < members.size && missing.size > 0; slot++) {
    const address = members.addresses[slot] as Address;
    if (missing.has(address) && isLive(members.at(slot).state)) missing.delete(address);
  }
  return seeds.filter((address) => missing.has(address));
}

/** Periodic anti-entropy with one random live member, digest first. */
export function periodicPushPull(turn: Turn): void {
  const { state } = turn;
  state.nextPushPullAtMs = (turn.now +
    pushPullIntervalScaledMs(state.config.pushPullIntervalMs, state.liveCount)) as Millis;
  const [peer] = randomMembers(
    turn,
    1,
    (m) => m.id !== state.selfId && (m.state === 'alive' || m.state === 'suspect'),
  );
  if (peer === undefined) return;
  if (state.joinSyncDue) sendPushPull(turn, peer.address, false);
  else sendDigest(turn, peer.address, true);
  state.joinSyncDue = false;
}

/** Tries one random dead member's address, so a healed partition merges without help. */
export function reconnect(turn: Turn): void {
  const { state } = turn;
  state.nextReconnectAtMs = (turn.now + state.config.reconnectIntervalMs) as Millis;
  const dead = [...state.departed].filter((id) => state.members.get(id)?.state === 'dead');
  if (dead.length === 0) return;
  const member = state.members.get(turn.rng.pick(dead));
  if (member !== undefined) sendPushPull(turn, member.address, false);
}
