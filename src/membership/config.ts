/**
 * Membership configuration (STYLE.md section 5): every field documented with its unit, trade-off,
 * how to disable it and its default per profile. Values follow hashicorp/memberlist's
 * DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig.
 *
 * Fields are split into the cluster-wide part (`ClusterWideConfig`: timings and sizes every
 * member must share, exchanged as `configFingerprint` in every push-pull and a mismatch refused)
 * and the node-local part (`NodeLocalConfig`: limits and local policy that may differ per node).
 */
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';

/** Settings all members must agree on; a join with different values is refused (`config_mismatch`). */
export interface ClusterWideConfig {
  /**
   * SWIM §3: one probe per protocol period. Shorter detects failures sooner at the cost of more
   * packets (one ping + one ack per node per period). Scaled by Lifeguard awareness (score + 1).
   * @defaultValue LAN 1000, WAN 5000, LOCAL 1000, SIM_MIN 100
   */
  probeIntervalMs: number;
  /**
   * How long to wait for a direct ack before sending indirect probes. Should exceed the 99th
   * percentile round-trip time; must be less than `probeIntervalMs`. Scaled by awareness.
   * @defaultValue LAN 500, WAN 3000, LOCAL 200, SIM_MIN 40
   */
  probeTimeoutMs: number;
  /**
   * SWIM §3.1: how many other members are asked to probe a target that missed its direct ack
   * (`ping-req`). More lowers false positives from one bad path, at k extra packets per failed
   * probe. 0 disables indirect probes.
   * @defaultValue LAN 3, WAN 3, LOCAL 1, SIM_MIN 2
   */
  indirectChecks: number;
  /**
   * SWIM §4.1: each update is retransmitted `retransmitMult * ceil(log10(N + 1))` times
   * (`retransmitLimit`). Higher spreads more reliably under loss, at more bytes per packet.
   * @defaultValue LAN 4, WAN 4, LOCAL 2, SIM_MIN 2
   */
  retransmitMult: number;
  /**
   * Lifeguard §IV-B: the minimum suspicion timeout is
   * `suspicionMult * max(1, log10(N)) * probeIntervalMs` (`suspicionTimeoutMinMs`). Higher gives a
   * suspected member longer to refute (fewer false deaths) but detects real failures later.
   * @defaultValue LAN 4, WAN 6, LOCAL 3, SIM_MIN 3
   */
  suspicionMult: number;
  /**
   * Lifeguard §IV-B: the suspicion timeout starts at `suspicionMaxTimeoutMult` times the minimum
   * and shrinks toward the minimum with independent confirmations. 1 disables the dynamic part.
   * @defaultValue LAN 6, WAN 6, LOCAL 6, SIM_MIN 3
   */
  suspicionMaxTimeoutMult: number;
  /**
   * How often a gossip packet with queued updates goes to `gossipFanout` random members. Shorter
   * spreads faster at more packets per second. 0 disables the gossip tick (piggyback only).
   * @defaultValue LAN 200, WAN 500, LOCAL 100, SIM_MIN 20
   */
  gossipIntervalMs: number;
  /**
   * Members each gossip tick sends to (memberlist's GossipNodes).
   * @defaultValue LAN 3, WAN 4, LOCAL 3, SIM_MIN 2
   */
  gossipFanout: number;
  /**
   * Period of full-state push-pull anti-entropy over the stream channel, scaled up beyond 32
   * members (`pushPullIntervalScaledMs`). Shorter converges faster after partitions, at one
   * O(N)-sized exchange per period. 0 disables periodic push-pull (joins still use it).
   * @defaultValue LAN 30000, WAN 60000, LOCAL 15000, SIM_MIN 2000
   */
  pushPullIntervalMs: number;
  /**
   * Lifeguard §IV-A: the largest multiplier local health may apply to probe interval and probe
   * timeout; the awareness score runs 0..awarenessMultiplierMax-1. 1 disables local health awareness.
   * @defaultValue LAN 8, WAN 8, LOCAL 8, SIM_MIN 4
   */
  awarenessMultiplierMax: number;
  /**
   * How long dead and left members are kept (and reported) before being forgotten (memberlist's
   * GossipToTheDeadTime). Longer keeps stale entries around (and reported, and pinged by
   * reconnect). A forgotten member leaves a tombstone for `TOMBSTONE_RECLAIM_MULT` (10) times
   * this, so a stale view (a node paused that long) cannot bring it back at its old incarnation
   * (tombstones.ts); a pause longer than 11 times this is unsupported. 0 forgets at once and
   * keeps no tombstone.
   * @defaultValue LAN 30000, WAN 60000, LOCAL 15000, SIM_MIN 2000
   */
  deadReclaimMs: number;
  /**
   * Also probe the target over the stream channel (TCP) in parallel with the indirect probes, so a
   * node whose UDP is blocked is not declared dead. false disables it.
   * @defaultValue true in every profile
   */
  tcpFallback: boolean;
  /**
   * Largest labels map, in UTF-8 bytes of keys plus values (`labelsBytes`). Local updates over
   * it are rejected; remote ones ignored and counted. An alive update must fit in a packet.
   * @defaultValue 512 in every profile (memberlist's MetaMaxSize)
   */
  labelsBytesMax: number;
  /**
   * Largest packet this cluster sends (UDP payload), at most `LIMITS.packetBytesMax`.
   * @defaultValue 1400 in every profile
   */
  packetBytesMax: number;
}

/** Limits and local policy; may differ between members. */
export interface NodeLocalConfig {
  /**
   * Most members this node tracks (self included). New members beyond it are ignored and counted;
   * a join that would exceed it is refused with `too_many_members`.
   * @defaultValue 65536 in every profile; SIM_MIN 64
   */
  membersMax: number;
  /**
   * Most queued updates; when full, the most-transmitted entries are dropped first (and counted).
   * @defaultValue 4096 in every profile; SIM_MIN 32
   */
  broadcastQueueMax: number;
  /**
   * Most indirect probes this node relays for others at once; further `ping-req`s are dropped and
   * counted. @defaultValue 1024 in every profile; SIM_MIN 16
   */
  pendingProbesMax: number;
  /**
   * How long a join waits for any push-pull reply before reporting failure (memberlist's TCPTimeout).
   * @defaultValue LAN 10000, WAN 30000, LOCAL 1000, SIM_MIN 500
   */
  joinTimeoutMs: number;
  /**
   * Upper bound on a graceful leave: `left-done` is emitted when the `left` update was sent
   * `LEAVE_TRANSMITS_MIN` times or this deadline passes, whichever is first.
   * @defaultValue LAN 2000, WAN 5000, LOCAL 1000, SIM_MIN 200
   */
  leavePropagateMs: number;
  /**
   * How often a random dead member's address is tried with a push-pull, so a healed partition
   * merges again without operator help. 0 disables it.
   * @defaultValue LAN 30000, WAN 60000, LOCAL 15000, SIM_MIN 1000
   */
  reconnectIntervalMs: number;
  /**
   * Lifeguard §IV-A extension: a `loop-delay` input at or above this raises the awareness score
   * by one (an overloaded event loop delays acks). 0 disables it.
   * @defaultValue LAN 500, WAN 3000, LOCAL 200, SIM_MIN 40 (the probe timeout)
   */
  loopDelayThresholdMs: number;
  /**
   * A newly queued update (a join, a suspicion, a death, a refute) triggers a gossip round this
   * long after the previous round instead of waiting for the next regular tick: each hop of the
   * epidemic then costs about this long instead of up to `gossipIntervalMs`. Every update is still
   * sent `retransmitLimit` times, so churn costs no more update transmissions, only emptier
   * packets (in a 100-node join storm, about twice the packets for a quarter less time to full
   * views); a steady cluster has nothing queued and sends nothing. Equal to `gossipIntervalMs`
   * (or more: the regular tick comes first) disables it. Node-local: members may differ.
   * @defaultValue LAN 50, WAN 125, LOCAL 25, SIM_MIN 5 (a quarter of gossipIntervalMs)
   */
  newsGossipDelayMs: number;
  /**
   * Bytes of each packet reserved for the envelope and message fields other than updates; the
   * piggyback budget is `packetBytesMax - packetEnvelopeBytes`.
   * @defaultValue 160 in every profile
   */
  packetEnvelopeBytes: number;
  /**
   * Security refusals (a forged record, an accusation from a stranger, ...; docs/security.md) are
   * all counted, but reported as a `security` effect (a log line) at most once per reason per
   * this interval, with the number suppressed since: a flood of forgeries costs one line per
   * reason per interval. 0 reports every refusal.
   * @defaultValue 10000 in every profile; SIM_MIN 1000
   */
  securityLogIntervalMs: number;
}

export type MembershipConfig = ClusterWideConfig & NodeLocalConfig;

/**
 * The most an alive update carries besides its labels: kind, id, incarnation (~30), a name of up
 * to 128 bytes and an address of up to 255 (with their lengths), the public key (32), the flags,
 * a certificate (8 + 8 + 64) and the signature (64), rounded up.
 */
export const ALIVE_UPDATE_OVERHEAD_BYTES = 600;

/** Sends of the `left` update after which a graceful leave is considered propagated. */
export const LEAVE_TRANSMITS_MIN = 3;

/** Every cluster-wide key, in fingerprint order. The `satisfies` check keeps it complete. */
export const CLUSTER_WIDE_KEYS = [
  'probeIntervalMs',
  'probeTimeoutMs',
  'indirectChecks',
  'retransmitMult',
  'suspicionMult',
  'suspicionMaxTimeoutMult',
  'gossipIntervalMs',
  'gossipFanout',
  'pushPullIntervalMs',
  'awarenessMultiplierMax',
  'deadReclaimMs',
  'tcpFallback',
  'labelsBytesMax',
  'packetBytesMax',
] as const satisfies readonly (keyof ClusterWideConfig)[];
type MissingKey = Exclude<keyof ClusterWideConfig, (typeof CLUSTER_WIDE_KEYS)[number]>;
const ALL_KEYS_LISTED: MissingKey extends never ? true : false = true;

const LOCAL_DEFAULTS = {
  membersMax: 65_536,
  broadcastQueueMax: 4096,
  pendingProbesMax: 1024,
  packetEnvelopeBytes: 160,
  securityLogIntervalMs: 10_000,
};
const SHARED_DEFAULTS = {
  tcpFallback: true,
  labelsBytesMax: 512,
  packetBytesMax: LIMITS.packetBytesMax,
};

export const PROFILES = {
  LAN: {
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    gossipIntervalMs: 200,
    gossipFanout: 3,
    pushPullIntervalMs: 30_000,
    awarenessMultiplierMax: 8,
    deadReclaimMs: 30_000,
    ...SHARED_DEFAULTS,
    ...LOCAL_DEFAULTS,
    joinTimeoutMs: 10_000,
    leavePropagateMs: 2000,
    reconnectIntervalMs: 30_000,
    loopDelayThresholdMs: 500,
    newsGossipDelayMs: 50,
  },
  WAN: {
    probeIntervalMs: 5000,
    probeTimeoutMs: 3000,
    indirectChecks: 3,
    retransmitMult: 4,
    suspicionMult: 6,
    suspicionMaxTimeoutMult: 6,
    gossipIntervalMs: 500,
    gossipFanout: 4,
    pushPullIntervalMs: 60_000,
    awarenessMultiplierMax: 8,
    deadReclaimMs: 60_000,
    ...SHARED_DEFAULTS,
    ...LOCAL_DEFAULTS,
    joinTimeoutMs: 30_000,
    leavePropagateMs: 5000,
    reconnectIntervalMs: 60_000,
    loopDelayThresholdMs: 3000,
    newsGossipDelayMs: 125,
  },
  LOCAL: {
    probeIntervalMs: 1000,
    probeTimeoutMs: 200,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 6,
    gossipIntervalMs: 100,
    gossipFanout: 3,
    pushPullIntervalMs: 15_000,
    awarenessMultiplierMax: 8,
    deadReclaimMs: 15_000,
    ...SHARED_DEFAULTS,
    ...LOCAL_DEFAULTS,
    joinTimeoutMs: 1000,
    leavePropagateMs: 1000,
    reconnectIntervalMs: 15_000,
    loopDelayThresholdMs: 200,
    newsGossipDelayMs: 25,
  },
  SIM_MIN: {
    probeIntervalMs: 100,
    probeTimeoutMs: 40,
    indirectChecks: 2,
    retransmitMult: 2,
    suspicionMult: 3,
    suspicionMaxTimeoutMult: 3,
    gossipIntervalMs: 20,
    gossipFanout: 2,
    pushPullIntervalMs: 2000,
    awarenessMultiplierMax: 4,
    deadReclaimMs: 2000,
    ...SHARED_DEFAULTS,
    ...LOCAL_DEFAULTS,
    membersMax: 64,
    broadcastQueueMax: 32,
    pendingProbesMax: 16,
    joinTimeoutMs: 500,
    leavePropagateMs: 200,
    reconnectIntervalMs: 1000,
    loopDelayThresholdMs: 40,
    newsGossipDelayMs: 5,
    securityLogIntervalMs: 1000,
  },
} as const satisfies Record<string, MembershipConfig>;

export type ProfileName = keyof typeof PROFILES;

/** A fresh copy of a profile with `overrides` applied, validated. */
export function membershipConfig(
  profile: ProfileName,
  overrides: Partial<MembershipConfig> = {},
): MembershipConfig {
  const config: MembershipConfig = { ...PROFILES[profile], ...overrides };
  validateConfig(config);
  return config;
}

/** The cluster-wide part of a config. */
export function clusterWideOf(config: MembershipConfig): ClusterWideConfig {
  const out: Record<string, unknown> = {};
  for (const key of CLUSTER_WIDE_KEYS) out[key] = config[key];
  return out as unknown as ClusterWideConfig;
}

/**
 * A readable canonical string over the cluster-wide fields (`v1;key=value;...`). Two members
 * agree iff their fingerprints are equal; `describeFingerprintMismatch` names the differing fields.
 */
export function configFingerprint(clusterWide: ClusterWideConfig): string {
  return ['v1', ...CLUSTER_WIDE_KEYS.map((key) => `${key}=${String(clusterWide[key])}`)].join(';');
}

/** Operator-readable difference between two fingerprints: `probeIntervalMs: ours 1000, theirs 5000; ...`. */
export function describeFingerprintMismatch(ours: string, theirs: string): string {
  const parse = (text: string): Map<string, string> =>
    new Map(
      text.split(';').map((part) => {
        const eq = part.indexOf('=');
        return eq < 0 ? ['version', part] : [part.slice(0, eq), part.slice(eq + 1)];
      }),
    );
  const a = parse(ours);
  const b = parse(theirs);
  const keys = new Set([...a.keys(), ...b.keys()]);
  const diffs = [...keys]
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: ours ${a.get(k) ?? '(absent)'}, theirs ${b.get(k) ?? '(absent)'}`);
  return `cluster-wide membership settings differ (${diffs.slice(0, 8).join('; ')}); use the same profile and overrides on every member`;
}

function fail(message: string): never {
  throw new ShoalError('ERR_INVALID_CONFIG', `invalid membership config: ${message}`);
}

function checkInt(
  config: MembershipConfig,
  key: keyof MembershipConfig,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${key} (${String(value)}) must be an integer in ${min}..${max}`);
  }
}

function checkLess(
  config: MembershipConfig,
  a: keyof MembershipConfig,
  b: keyof MembershipConfig,
): void {
  if (!(config[a] < config[b]))
    fail(`${a} (${String(config[a])}) must be less than ${b} (${String(config[b])})`);
}

/** Checks ranges and cross-field rules; throws ShoalError ERR_INVALID_CONFIG naming the field(s). */
export function validateConfig(config: MembershipConfig): void {
  void ALL_KEYS_LISTED;
  for (const key of [
    'probeIntervalMs',
    'probeTimeoutMs',
    'retransmitMult',
    'suspicionMult',
    'suspicionMaxTimeoutMult',
    'awarenessMultiplierMax',
    'membersMax',
    'broadcastQueueMax',
    'joinTimeoutMs',
    'leavePropagateMs',
  ] as const) {
    checkInt(config, key, 1);
  }
  for (const key of [
    'indirectChecks',
    'gossipIntervalMs',
    'pushPullIntervalMs',
    'deadReclaimMs',
    'labelsBytesMax',
    'pendingProbesMax',
    'reconnectIntervalMs',
    'loopDelayThresholdMs',
    'packetEnvelopeBytes',
    'newsGossipDelayMs',
    'securityLogIntervalMs',
  ] as const) {
    checkInt(config, key, 0);
  }
  checkInt(config, 'gossipFanout', 1, 64);
  checkInt(config, 'awarenessMultiplierMax', 1, 64);
  checkInt(config, 'packetBytesMax', 256, LIMITS.packetBytesMax);
  if (typeof config.tcpFallback !== 'boolean')
    fail(`tcpFallback (${String(config.tcpFallback)}) must be true or false`);
  checkLess(config, 'probeTimeoutMs', 'probeIntervalMs');
  checkLess(config, 'packetEnvelopeBytes', 'packetBytesMax');
  // An alive update carries the labels plus id, name, address, key, certificate and signature;
  // it must fit the piggyback budget.
  if (
    config.labelsBytesMax + ALIVE_UPDATE_OVERHEAD_BYTES >
    config.packetBytesMax - config.packetEnvelopeBytes
  ) {
    fail(
      `labelsBytesMax (${config.labelsBytesMax}) plus ${ALIVE_UPDATE_OVERHEAD_BYTES} bytes of signed update header must fit in packetBytesMax (${config.packetBytesMax}) minus packetEnvelopeBytes (${config.packetEnvelopeBytes})`,
    );
  }
  if (config.indirectChecks >= config.membersMax) {
    fail(
      `indirectChecks (${config.indirectChecks}) must be less than membersMax (${config.membersMax})`,
    );
  }
}
