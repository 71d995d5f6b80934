/**
 * Raft's configuration (docs/design/raft.md, "Configuration"): every field with its unit,
 * trade-off and default per profile, the derived values and the one function (`raftConfig`)
 * that fills, derives and validates, shared by production and the simulator. Cluster-wide:
 * every member must run the same timings (an election timeout shorter on one node than another
 * node's lease breaks the lease, and a follower that accepts smaller appends than the leader
 * sends refuses them).
 */
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';

/** How a linearizable read is confirmed (thesis §6.4): a heartbeat round, or the leader's lease. */
export type ReadMode = 'read-index' | 'lease';

export interface RaftConfig {
  /**
   * Leader heartbeat period, ms: followers reset their election timer on each, and a heartbeat
   * round confirms a ReadIndex. At most half of electionTimeoutMinMs, so one lost heartbeat is
   * tolerated. Shorter: faster reads and failure detection, more packets (n - 1 per period).
   * @defaultValue LAN 100, WAN 500, LOCAL 50, SIM_MIN 25
   */
  heartbeatIntervalMs: number;
  /**
   * Lower bound of the randomized election timeout, ms (Raft §5.2): a follower that hears no
   * leader this long starts a (pre-)vote. Also the check-quorum period and the leader lease
   * followers grant (they refuse votes this long after hearing a leader). Failover takes about
   * this plus a round of votes.
   * @defaultValue LAN 1000, WAN 5000, LOCAL 250, SIM_MIN 150
   */
  electionTimeoutMinMs: number;
  /**
   * Upper bound of the randomized election timeout, ms. A wider range makes split votes rarer
   * and the worst-case failover slower. @defaultValue LAN 2000, WAN 10000, LOCAL 500, SIM_MIN 300
   */
  electionTimeoutMaxMs: number;
  /**
   * Thesis §9.6 PreVote: a node asks whether it could win before raising its term, so a node cut
   * off and back cannot depose a working leader. Off: classic Raft. @defaultValue true
   */
  preVote: boolean;
  /**
   * Check-quorum (thesis §6.2): a leader that has not heard from a majority within
   * electionTimeoutMinMs steps down, and a follower that heard a leader within that time refuses
   * to vote (the lease that makes lease reads possible). Off: a leader cut off from the cluster
   * keeps the role (but can commit nothing). @defaultValue true
   */
  checkQuorum: boolean;
  /**
   * How linearizable reads are confirmed (thesis §6.4). `read-index`: the leader records its
   * commit index and confirms it still leads with a heartbeat round answered by a majority (one
   * round trip, no clock assumption). `lease`: the leader serves reads while its lease holds,
   * with no round trip; safe only if no member's clock runs faster than another's by more than
   * clockDriftMaxPpm and no clock jumps (docs/design/raft.md, "Lease reads"). Requires
   * checkQuorum. @defaultValue 'read-index'
   */
  readMode: ReadMode;
  /**
   * Lease reads: the largest difference in clock rate between two members, parts per million.
   * The lease is electionTimeoutMinMs shortened by this much (`leaseMsFor`). Unused with
   * read-index. @defaultValue 10000 (1 %)
   */
  clockDriftMaxPpm: number;
  /**
   * Flow control (etcd MaxInflightMsgs): appends sent to a follower in replicate state and not
   * yet answered. More: higher throughput on a long fat pipe, more memory and a bigger burst to
   * resend after a loss. @defaultValue LAN 64, WAN 256, LOCAL 64, SIM_MIN 4
   */
  maxInflightAppends: number;
  /** Most entries in one append (batching of proposals). @defaultValue 1024; SIM_MIN 8 */
  appendEntriesMax: number;
  /**
   * Bytes of entry data in one append, about (one entry always travels, however large); also the
   * largest proposal accepted. At most decodeMessageBytesMax minus 4 KiB. @defaultValue 1 MiB;
   * SIM_MIN 2048
   */
  appendBytesMax: number;
  /**
   * Log compaction (Raft §7): once this many entries are applied past the last snapshot, the
   * state machine is asked for a new one. Fewer: smaller logs and restarts, more snapshot work
   * (each snapshot writes the whole state). The default is etcd's `--snapshot-count`; it holds up
   * to that many entries in memory (about 55 MB at 280-byte commands): docs/design/raft.md,
   * "Snapshots and compaction". @defaultValue 100000; SIM_MIN 48
   */
  snapshotEntries: number;
  /**
   * InstallSnapshot chunk size, bytes: a snapshot travels as a stream of chunks, one in flight.
   * At most decodeMessageBytesMax minus 4 KiB. @defaultValue 512 KiB; SIM_MIN 256
   */
  snapshotChunkBytes: number;
  /** Largest snapshot a follower accepts (it is buffered whole before install), bytes. @defaultValue 256 MiB; SIM_MIN 1 MiB */
  snapshotBytesMax: number;
  /**
   * Most entries a leader holds appended and not yet committed; proposals beyond are refused
   * (`queue-full`), so a leader cut off from its followers cannot grow its log without bound.
   * @defaultValue 10000; SIM_MIN 256
   */
  uncommittedEntriesMax: number;
  /** Most requests (proposals, reads) awaiting an outcome on one node. @defaultValue 10000; SIM_MIN 256 */
  pendingRequestsMax: number;
  /** Most members (voters and learners) in a configuration. @defaultValue 64 */
  membersMax: number;
  /**
   * A voter being added joins as `staging` (a learner) and is promoted once its log is within
   * this many entries of the leader's (thesis §4.2.1: a new server catches up before it votes);
   * `promote` refuses a learner further behind. @defaultValue 1024; SIM_MIN 8
   */
  promotionLagEntries: number;
}

export type RaftProfile = 'LAN' | 'WAN' | 'LOCAL' | 'SIM_MIN';

export type RaftSettings = Partial<RaftConfig>;

const MIB = 1024 * 1024;

const COMMON = {
  preVote: true,
  checkQuorum: true,
  readMode: 'read-index',
  clockDriftMaxPpm: 10_000,
  appendEntriesMax: 1024,
  appendBytesMax: MIB,
  snapshotEntries: 100_000,
  snapshotChunkBytes: 512 * 1024,
  snapshotBytesMax: 256 * MIB,
  uncommittedEntriesMax: 10_000,
  pendingRequestsMax: 10_000,
  membersMax: 64,
  promotionLagEntries: 1024,
} as const satisfies Partial<RaftConfig>;

export const RAFT_PROFILES: Readonly<Record<RaftProfile, Readonly<RaftConfig>>> = {
  LAN: {
    ...COMMON,
    heartbeatIntervalMs: 100,
    electionTimeoutMinMs: 1000,
    electionTimeoutMaxMs: 2000,
    maxInflightAppends: 64,
  },
  WAN: {
    ...COMMON,
    heartbeatIntervalMs: 500,
    electionTimeoutMinMs: 5000,
    electionTimeoutMaxMs: 10_000,
    maxInflightAppends: 256,
  },
  LOCAL: {
    ...COMMON,
    heartbeatIntervalMs: 50,
    electionTimeoutMinMs: 250,
    electionTimeoutMaxMs: 500,
    maxInflightAppends: 64,
  },
  SIM_MIN: {
    ...COMMON,
    heartbeatIntervalMs: 25,
    electionTimeoutMinMs: 150,
    electionTimeoutMaxMs: 300,
    maxInflightAppends: 4,
    appendEntriesMax: 8,
    appendBytesMax: 2048,
    snapshotEntries: 48,
    snapshotChunkBytes: 256,
    snapshotBytesMax: MIB,
    uncommittedEntriesMax: 256,
    pendingRequestsMax: 256,
    promotionLagEntries: 8,
  },
};

/** Headroom for the envelope and fixed fields of an append or a snapshot chunk, bytes. */
export const MESSAGE_HEADROOM_BYTES = 4096;

/**
 * The lease a leader may serve reads under after a majority answered a heartbeat it sent at t:
 * until t + electionTimeoutMinMs × (1 − clockDriftMaxPpm / 10^6). Followers refuse votes for
 * electionTimeoutMinMs after they RECEIVE that heartbeat (later than t), on their own clocks.
 */
export function leaseMsFor(config: RaftConfig): number {
  return Math.floor(
    (config.electionTimeoutMinMs * (1_000_000 - config.clockDriftMaxPpm)) / 1_000_000,
  );
}

/** A follower's forwarded read unanswered this long fails (`timeout`): two of the longest election timeouts. */
export function readTimeoutMsFor(config: RaftConfig): number {
  return 2 * config.electionTimeoutMaxMs;
}

/** A leadership transfer not done this long is abandoned (etcd: one election timeout). */
export function transferTimeoutMsFor(config: RaftConfig): number {
  return config.electionTimeoutMaxMs;
}

/** A snapshot chunk unanswered this long is sent again. */
export function snapshotResendMsFor(config: RaftConfig): number {
  return config.electionTimeoutMinMs;
}

/** A profile with `settings` applied, validated; throws ERR_INVALID_CONFIG naming the fields. */
export function raftConfig(settings: RaftSettings = {}, profile: RaftProfile = 'LAN'): RaftConfig {
  const config: RaftConfig = { ...RAFT_PROFILES[profile] };
  for (const [key, value] of Object.entries(settings) as [keyof RaftConfig, unknown][])
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  return validateRaftConfig(config);
}

function fail(text: string): never {
  throw new ShoalError('ERR_INVALID_CONFIG', `invalid raft config: ${text}`);
}

const INT_RANGES: readonly [keyof RaftConfig, number, number][] = [
  ['heartbeatIntervalMs', 1, 3_600_000],
  ['electionTimeoutMinMs', 2, 3_600_000],
  ['electionTimeoutMaxMs', 2, 3_600_000],
  ['clockDriftMaxPpm', 0, 500_000],
  ['maxInflightAppends', 1, 65_536],
  ['appendEntriesMax', 1, LIMITS.decodeListCountMax],
  ['appendBytesMax', 1, LIMITS.decodeMessageBytesMax - MESSAGE_HEADROOM_BYTES],
  ['snapshotEntries', 1, Number.MAX_SAFE_INTEGER],
  ['snapshotChunkBytes', 1, LIMITS.decodeMessageBytesMax - MESSAGE_HEADROOM_BYTES],
  ['snapshotBytesMax', 1, Number.MAX_SAFE_INTEGER],
  ['uncommittedEntriesMax', 1, Number.MAX_SAFE_INTEGER],
  ['pendingRequestsMax', 1, 1_000_000],
  ['membersMax', 1, 1024],
  ['promotionLagEntries', 0, Number.MAX_SAFE_INTEGER],
];

/** Checks ranges and cross-field rules, naming both fields of a broken rule. */
export function validateRaftConfig(config: RaftConfig): RaftConfig {
  for (const [key, min, max] of INT_RANGES) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
      fail(`${key} (${String(value)}) must be an integer in ${min}..${max}`);
  }
  for (const key of ['preVote', 'checkQuorum'] as const)
    if (typeof config[key] !== 'boolean')
      fail(`${key} (${String(config[key])}) must be true or false`);
  if (config.readMode !== 'read-index' && config.readMode !== 'lease')
    fail(`readMode (${String(config.readMode)}) must be 'read-index' or 'lease'`);
  if (config.electionTimeoutMaxMs < config.electionTimeoutMinMs)
    fail(
      `electionTimeoutMaxMs (${config.electionTimeoutMaxMs}) must be at least electionTimeoutMinMs (${config.electionTimeoutMinMs})`,
    );
  if (config.heartbeatIntervalMs * 2 > config.electionTimeoutMinMs)
    fail(
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be at most half of electionTimeoutMinMs (${config.electionTimeoutMinMs})`,
    );
  if (config.readMode === 'lease' && !config.checkQuorum)
    fail(
      `readMode (lease) requires checkQuorum (false): without it followers grant votes while a leader's lease runs`,
    );
  if (config.snapshotChunkBytes > config.snapshotBytesMax)
    fail(
      `snapshotChunkBytes (${config.snapshotChunkBytes}) must be at most snapshotBytesMax (${config.snapshotBytesMax})`,
    );
  return config;
}
