/**
 * The Prometheus name and help text of every membership counter (`COUNTER_NAMES`,
 * membership/types.ts) and of the other protocol counters a mode reports in `stats().protocol`.
 * The table is typed over every counter name, so a counter added to the core does not compile
 * until it has a metric here: nothing the node counts stays invisible on `/metrics`. The
 * refusals of issue 12 (docs/security.md, "Counters and log lines") are the `*_refused_total`,
 * `*_invalid_total`, `*_mismatched_total` and `*_conflicts_total` metrics.
 */
import type { CounterName } from '../membership/types.js';

type MetricOf = readonly [metric: string, help: string];

/** Membership (SWIM + Lifeguard) counters, one metric each. */
export const MEMBERSHIP_COUNTER_METRICS: Readonly<Record<CounterName, MetricOf>> = {
  probesSent: ['shoal_probes_sent_total', 'Direct probes (pings) sent (SWIM §3.1).'],
  probesAcked: ['shoal_probes_acked_total', 'Probe rounds answered by an ack in time.'],
  probesFailed: ['shoal_probes_failed_total', 'Probe rounds that ended without any ack.'],
  probesRefused: [
    'shoal_probes_refused_total',
    'Probes failed early because the target refused the stream fallback connection (nothing listening).',
  ],
  indirectProbesSent: [
    'shoal_indirect_probes_sent_total',
    'Indirect probe requests sent (SWIM §3.1, ping-req).',
  ],
  tcpFallbackAcks: [
    'shoal_tcp_fallback_acks_total',
    'Probes answered only over the stream (TCP) fallback: the UDP path to the target loses packets.',
  ],
  nacksReceived: [
    'shoal_nacks_received_total',
    'Nacks from helpers of our indirect probes (Lifeguard §IV-A: they reached us, the target did not answer them).',
  ],
  nacksUnexpected: [
    'shoal_nacks_unexpected_total',
    'Nacks from a member our probe did not ask (noise or a replay), ignored.',
  ],
  nacksMissed: [
    'shoal_nacks_missed_total',
    'Nacks expected but not received by the end of a failed probe (raise the local health score).',
  ],
  acksUnexpected: [
    'shoal_acks_unexpected_total',
    'Acks with a sequence number nobody here waits for: late, duplicated or forged (probe sequences are random), ignored.',
  ],
  relayedProbes: [
    'shoal_relayed_probes_total',
    'Probes sent on behalf of a member that asked (ping-req).',
  ],
  relayedProbesDropped: [
    'shoal_relayed_probes_dropped_total',
    'Ping-reqs dropped because pendingProbesMax relays were already in flight.',
  ],
  refutes: [
    'shoal_refutations_total',
    'Times this node refuted a suspicion of itself with a higher incarnation.',
  ],
  suspicionsStarted: [
    'shoal_suspicions_total',
    'Members this node started suspecting (SWIM §4.2).',
  ],
  suspicionConfirmations: [
    'shoal_suspicion_confirmations_total',
    'Independent accusations that confirmed a suspicion and shortened its timeout (Lifeguard §IV-B).',
  ],
  membersDeclaredDead: [
    'shoal_dead_declarations_total',
    'Members this node declared dead after a suspicion timed out.',
  ],
  updatesApplied: [
    'shoal_updates_applied_total',
    "Membership updates that changed this node's view.",
  ],
  updatesIgnored: [
    'shoal_updates_ignored_total',
    'Membership updates that were stale or already known (no change, no signature check).',
  ],
  updatesDropped: [
    'shoal_updates_dropped_total',
    'Updates dropped from a full broadcast queue (broadcastQueueMax): the oldest news goes first.',
  ],
  labelsRejected: [
    'shoal_labels_rejected_total',
    'Records refused for their labels: over labelsBytesMax, or a reserved label (a leader claim) that does not decode.',
  ],
  membersRejected: [
    'shoal_members_rejected_total',
    'New members refused because the view is at membersMax.',
  ],
  pushPullsSent: ['shoal_push_pulls_sent_total', 'Full state syncs (push-pull) this node started.'],
  pushPullsReceived: [
    'shoal_push_pulls_received_total',
    'Full state syncs (push-pull) received, refused ones included.',
  ],
  configMismatchRejected: [
    'shoal_config_mismatches_total',
    'Push-pulls refused because the sender runs another cluster-wide configuration (answered with config_mismatch).',
  ],
  rejectsReceived: [
    'shoal_rejects_received_total',
    'Refusals received from a member this node tried to join (reject messages, foreign-version frames).',
  ],
  pingsWrongTarget: [
    'shoal_pings_wrong_target_total',
    'Pings for another node id at this address (a previous occupant), not answered.',
  ],
  inputsIgnored: [
    'shoal_membership_inputs_ignored_total',
    'Inputs that arrived while membership was not running (before start, after stop).',
  ],
  loopDelaysHigh: [
    'shoal_loop_delays_high_total',
    'Event-loop delays above loopDelayThresholdMs, counted as local slowness (raise the local health score).',
  ],
  sendFailures: [
    'shoal_send_failures_total',
    'Stream sends the transport reported refused (nothing listening at the address).',
  ],
  membersReaped: [
    'shoal_members_reaped_total',
    'Dead or left members forgotten after deadReclaimMs (a tombstone remains).',
  ],
  pushPullDigestsSent: [
    'shoal_push_pull_digests_sent_total',
    'Periodic anti-entropy rounds this node started with a view digest.',
  ],
  pushPullsInSync: [
    'shoal_push_pulls_in_sync_total',
    'Digest rounds that found both views equal (no full state sent).',
  ],
  resurrectionsRefused: [
    'shoal_resurrections_refused_total',
    'Alive records of a forgotten member at or below its tombstone: a stale view, refused.',
  ],
  leasePingsSent: [
    'shoal_lease_pings_sent_total',
    'Lease pings a swim requireQuorum leader sent to hold its claim.',
  ],
  leaseAcks: ['shoal_lease_acks_total', 'Acks to lease pings.'],
  signaturesInvalid: [
    'shoal_signatures_invalid_total',
    'Records and accusations refused because their signature does not verify (a forgery: docs/security.md).',
  ],
  keysMismatched: [
    'shoal_keys_mismatched_total',
    "Records refused because their public key does not hash to their id, or is not the member's key.",
  ],
  accusationsRefused: [
    'shoal_accusations_refused_total',
    'Suspect and dead accusations refused: the accuser is not a live member, or the incarnation was never signed by the subject.',
  ],
  pingReqsRefused: [
    'shoal_ping_reqs_refused_total',
    'Ping-reqs refused: the requester is not a live member, or the target is not another member.',
  ],
  pushPullsRefused: [
    'shoal_push_pulls_refused_total',
    'Push-pulls refused: no valid record of the sender at the address it claims, or a digest from a non-member.',
  ],
  admissionRefused: [
    'shoal_admission_refused_total',
    'Members and joins the admission policy refuses (not allowed, revoked, no valid certificate).',
  ],
  incarnationsRefused: [
    'shoal_incarnations_refused_total',
    'Records and accusations above INCARNATION_MAX, and refutations this node could not make at it.',
  ],
  identityConflicts: [
    'shoal_identity_conflicts_total',
    "Records of this node signed with its key that it did not sign: another process runs with this node's identity.",
  ],
  recordsSigned: [
    'shoal_records_signed_total',
    'Signatures this node made: its own records (start, refutation, labels, leave) and accusations.',
  ],
  signaturesChecked: [
    'shoal_signatures_checked_total',
    'Signatures of others checked (records and accusations that would change something; cache hits included).',
  ],
  lateWakeups: [
    'shoal_late_wakeups_total',
    'Times the membership core ran at least a probe timeout after its own deadline (a stalled process or a clock step); that time did not count toward any probe or suspicion timeout.',
  ],
};

/** Counters other parts of a mode add to `stats().protocol`. */
export const MODE_COUNTER_METRICS: Readonly<Record<string, MetricOf>> = {
  peerCacheWriteErrors: [
    'shoal_peer_cache_write_errors_total',
    'Failed writes of the peer cache (peers.json); the node goes on without it.',
  ],
};

/** Gauges a mode adds to `stats().protocol`. */
export const MODE_GAUGE_METRICS: Readonly<Record<string, MetricOf>> = {
  swimTermExhausted: [
    'shoal_swim_term_exhausted',
    'Whether the swim leader term reached TERM_MAX (1: this node no longer claims leadership).',
  ],
};
