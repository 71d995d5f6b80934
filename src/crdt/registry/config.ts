/**
 * Registry replication configuration (STYLE.md section 5): timings of the data plane's gossip and
 * digest-first push-pull, the departure withdrawal delay, the HLC drift bound, and the named
 * limits on rows, bytes, tombstones and queues. Profiles follow membership's (LAN, WAN, LOCAL,
 * SIM_MIN). Cluster-wide: `clockDriftMaxMs` and the row limits (a member with smaller limits
 * refuses partitions others accept); the rest is node-local.
 */
import { ShoalError } from '../../base/errors.js';
import { LIMITS } from '../../base/limits.js';

export interface RegistryConfig {
  /**
   * How often queued deltas are gossiped to `gossipFanout` random live members, as datagrams.
   * Shorter spreads writes sooner at more packets. 0 disables the data plane's own gossip (deltas
   * then travel only piggybacked by the wiring, `deltas` input, and by push-pull).
   * @defaultValue LAN 200, WAN 500, LOCAL 100, SIM_MIN 20
   */
  gossipIntervalMs: number;
  /** Members each gossip round sends to. @defaultValue LAN 3, WAN 4, LOCAL 3, SIM_MIN 2 */
  gossipFanout: number;
  /**
   * Eager pushes a member may send between two gossip rounds. A local write, or a delta received
   * that taught us something, is pushed at once (not at the next round) to `gossipFanout` random
   * live members, with whatever else is queued and not yet sent (one datagram, `deltaBytesMax`),
   * infection style: every member forwards a delta eagerly at most once, and the sends count
   * against `retransmitLimit`, so the rounds only finish the retransmissions. The bound keeps a
   * burst from flooding: past it, new deltas wait for the next round (which refills it), so a
   * member sends at most `(1 + eagerPushesMax) × gossipFanout` gossip datagrams per
   * `gossipIntervalMs`. 0 turns eager pushes off. Only with `gossipCarrier: 'own'`.
   * @defaultValue 4 (every profile)
   */
  eagerPushesMax: number;
  /**
   * Who carries a gossip round's deltas. `own`: the registry sends `data-gossip` datagrams to
   * `gossipFanout` random live members. `piggyback`: it emits one `piggyback` effect with the
   * deltas as a standalone payload (`encodeDeltaPayload`, at most `deltaBytesMax` bytes) for the
   * wiring to attach to membership's next packets; receivers step it as a `deltas` input. Either
   * way each round counts `gossipFanout` sends against the retransmit limit. The wiring
   * (node/data-plane-carrier.ts) sends the copies that found no membership packet alone after
   * `gossipIntervalMs`. Measured (docs/design/data-plane.md, "Piggyback carrier"): at the same
   * interval piggyback saves 12-13% of the bytes and doubles the time to reach every member.
   * @defaultValue 'own'
   */
  gossipCarrier: 'own' | 'piggyback';
  /**
   * Each delta is gossiped `retransmitMult * ceil(log10(N + 1))` times (`retransmitLimit`), as
   * membership's updates are (SWIM §4.1). @defaultValue LAN 4, WAN 4, LOCAL 2, SIM_MIN 2
   */
  retransmitMult: number;
  /**
   * How often a member runs digest-first push-pull with one random live member: an 8-byte digest
   * first, summaries and partitions only when the digests differ. Repairs lost gossip and gaps.
   * 0 disables it (not recommended: then a lost delta is repaired only by the next write).
   * @defaultValue LAN 5000, WAN 15000, LOCAL 2000, SIM_MIN 200
   */
  pushPullIntervalMs: number;
  /**
   * How long the partition of a member declared dead is kept before it is withdrawn (a member
   * that refutes in time keeps its rows without republishing). Queries never return a dead or
   * left member's rows meanwhile. A member that leaves is withdrawn at once.
   * @defaultValue LAN 10000, WAN 30000, LOCAL 5000, SIM_MIN 300
   */
  withdrawDelayMs: number;
  /**
   * Kulkarni et al. 2014: largest lead over local wall time a received HLC timestamp may have;
   * data carrying one further ahead is refused and counted. Cluster-wide.
   * @defaultValue 10000 (every profile)
   */
  clockDriftMaxMs: number;
  /** Rows (processes plus services) one node may advertise. @defaultValue 1024 */
  rowsPerNodeMax: number;
  /** Largest encoded row (key and value), bytes. @defaultValue 1024 */
  rowBytesMax: number;
  /** Longest key, service name, type, status, tag or capability, bytes. @defaultValue 255 */
  fieldBytesMax: number;
  /** Most tags of a service or capabilities of a process. @defaultValue 32 */
  listItemsMax: number;
  /** Most partitions held (owners), self included. @defaultValue 10000 */
  partitionsMax: number;
  /** Most tombstones kept; past it the oldest is dropped (counted). @defaultValue 1024 */
  tombstonesMax: number;
  /** Most deltas queued for gossip; past it the most-sent is dropped (counted). @defaultValue 1024 */
  deltaQueueMax: number;
  /**
   * Largest delta that is gossiped (encoded bytes); a larger one spreads by push-pull only.
   * Must leave room for the envelope in `LIMITS.packetBytesMax`. @defaultValue 1200
   */
  deltaBytesMax: number;
  /**
   * Largest push-pull `data-state` message; partitions past it wait for the next round. Must hold
   * the largest partition (rowsPerNodeMax × rowBytesMax plus PARTITION_OVERHEAD_BYTES).
   * @defaultValue 2097152
   */
  pushPullBytesMax: number;
}

/** Bytes of a data-state's envelope plus one partition's header (owner, epoch, seq, counts). */
export const PARTITION_OVERHEAD_BYTES = 1024;

const COMMON = {
  gossipCarrier: 'own' as const,
  eagerPushesMax: 4,
  clockDriftMaxMs: 10_000,
  rowsPerNodeMax: 1024,
  rowBytesMax: 1024,
  fieldBytesMax: 255,
  listItemsMax: 32,
  partitionsMax: 10_000,
  tombstonesMax: 1024,
  deltaQueueMax: 1024,
  deltaBytesMax: 1200,
  pushPullBytesMax: 2 << 20,
};

export const REGISTRY_PROFILES = {
  lan: {
    ...COMMON,
    gossipIntervalMs: 200,
    gossipFanout: 3,
    retransmitMult: 4,
    pushPullIntervalMs: 5_000,
    withdrawDelayMs: 10_000,
  },
  wan: {
    ...COMMON,
    gossipIntervalMs: 500,
    gossipFanout: 4,
    retransmitMult: 4,
    pushPullIntervalMs: 15_000,
    withdrawDelayMs: 30_000,
  },
  local: {
    ...COMMON,
    gossipIntervalMs: 100,
    gossipFanout: 3,
    retransmitMult: 2,
    pushPullIntervalMs: 2_000,
    withdrawDelayMs: 5_000,
  },
  simMin: {
    ...COMMON,
    gossipIntervalMs: 20,
    gossipFanout: 2,
    retransmitMult: 2,
    pushPullIntervalMs: 200,
    withdrawDelayMs: 300,
  },
} as const satisfies Record<string, RegistryConfig>;

/** SWIM §4.1's retransmit limit: retransmitMult * ceil(log10(n + 1)), at least 1. */
export function retransmitLimitFor(retransmitMult: number, memberCount: number): number {
  return Math.max(1, retransmitMult * Math.ceil(Math.log10(memberCount + 1)));
}

function checkInt(
  config: RegistryConfig,
  name: keyof RegistryConfig,
  min: number,
  max: number,
): void {
  const value = config[name] as number;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `registry ${name} (${value}) must be an integer in [${min}, ${max}]`,
    );
}

/** A profile with overrides, validated; throws ERR_INVALID_CONFIG naming the field(s). */
export function registryConfig(
  profile: keyof typeof REGISTRY_PROFILES = 'lan',
  settings: Partial<RegistryConfig> = {},
): RegistryConfig {
  const config: RegistryConfig = { ...REGISTRY_PROFILES[profile], ...settings };
  const day = 86_400_000;
  if (config.gossipCarrier !== 'own' && config.gossipCarrier !== 'piggyback')
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `registry gossipCarrier (${JSON.stringify(config.gossipCarrier)}) must be 'own' or 'piggyback'`,
    );
  checkInt(config, 'gossipIntervalMs', 0, day);
  checkInt(config, 'gossipFanout', 1, 64);
  checkInt(config, 'eagerPushesMax', 0, 1024);
  checkInt(config, 'retransmitMult', 1, 64);
  checkInt(config, 'pushPullIntervalMs', 0, day);
  checkInt(config, 'withdrawDelayMs', 0, day);
  checkInt(config, 'clockDriftMaxMs', 0, day);
  checkInt(config, 'rowsPerNodeMax', 1, 1_000_000);
  checkInt(config, 'rowBytesMax', 64, LIMITS.decodeMessageBytesMax);
  checkInt(config, 'fieldBytesMax', 1, LIMITS.decodeStringBytesMax);
  checkInt(config, 'listItemsMax', 0, 4096);
  checkInt(config, 'partitionsMax', 1, 1_000_000);
  checkInt(config, 'tombstonesMax', 1, 1_000_000);
  checkInt(config, 'deltaQueueMax', 1, 1_000_000);
  checkInt(config, 'deltaBytesMax', 64, LIMITS.packetBytesMax);
  checkInt(config, 'pushPullBytesMax', 1024, LIMITS.decodeMessageBytesMax);
  if (config.fieldBytesMax > config.rowBytesMax)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `registry fieldBytesMax (${config.fieldBytesMax}) must not exceed rowBytesMax (${config.rowBytesMax})`,
    );
  const partitionBytes = config.rowsPerNodeMax * config.rowBytesMax + PARTITION_OVERHEAD_BYTES;
  if (partitionBytes > config.pushPullBytesMax)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `registry rowsPerNodeMax (${config.rowsPerNodeMax}) × rowBytesMax (${config.rowBytesMax}) + ${PARTITION_OVERHEAD_BYTES} must fit pushPullBytesMax (${config.pushPullBytesMax}): a partition must fit one data-state`,
    );
  return config;
}
