/**
 * Key-value configuration (docs/design/kv.md, "Limits"): the one place the defaults live, and
 * the functions that fill and validate them.
 *
 * `KvConfig` is CLUSTER-WIDE: the state machine refuses commands by these limits when it
 * applies them, so every member must run the same values or two replicas could disagree on
 * whether an entry applied. The node checks the same limits before proposing (so an oversized
 * request never enters the log) and includes the config in the cluster fingerprint.
 * `WatchConfig` and `SnapshotConfig` are node-local (watchers and snapshot slicing never touch
 * replicated state). `LessorConfig` matters only on the leader but should be equal everywhere,
 * since any member may lead.
 */
import { ShoalError } from '../base/errors.js';

export interface KvConfig {
  /** Longest key, bytes. etcd has no key limit of its own (only the request's). @defaultValue 32768 */
  keyBytesMax: number;
  /** Longest value, bytes. Equal to the request limit by default, as in etcd. @defaultValue 1572864 */
  valueBytesMax: number;
  /** Longest encoded command, bytes: etcd's --max-request-bytes (1.5 MiB). @defaultValue 1572864 */
  requestBytesMax: number;
  /** Most compares, or operations in one branch, of one txn level: etcd's --max-txn-ops. @defaultValue 128 */
  txnOpsMax: number;
  /** Deepest txn nesting (a txn inside a txn's branch is depth 2). etcd has none; this bounds decoding. @defaultValue 16 */
  txnDepthMax: number;
  /** Most leases alive at once. @defaultValue 100000 */
  leasesMax: number;
  /** Shortest lease TTL, ms: a shorter grant is raised to it, as etcd's minimum TTL (1.5 election timeouts, rounded up to seconds). @defaultValue 2000 */
  leaseTtlMsMin: number;
  /** Longest lease TTL, ms: etcd's MaxLeaseTTL (9e9 s). @defaultValue 9000000000000 */
  leaseTtlMsMax: number;
  /** Most client sessions kept; the least recently used is evicted first. @defaultValue 10000 */
  sessionsMax: number;
  /** Most bytes of recorded results over all sessions; least recently used evicted first. @defaultValue 67108864 */
  sessionsBytesMax: number;
  /** Largest single result a session keeps; a larger one is dropped (a retry gets ERR_SESSION_EXPIRED). @defaultValue 1048576 */
  sessionResultBytesMax: number;
  /** Longest client id, bytes of UTF-8. @defaultValue 64 */
  clientIdBytesMax: number;
  /** Keys physically compacted per applied command (amortized compaction). @defaultValue 1000 */
  compactionSliceKeys: number;
}

export const KV_DEFAULTS: Readonly<KvConfig> = {
  keyBytesMax: 32 * 1024,
  valueBytesMax: 1.5 * 1024 * 1024,
  requestBytesMax: 1.5 * 1024 * 1024,
  txnOpsMax: 128,
  txnDepthMax: 16,
  leasesMax: 100_000,
  leaseTtlMsMin: 2_000,
  leaseTtlMsMax: 9_000_000_000_000,
  sessionsMax: 10_000,
  sessionsBytesMax: 64 * 1024 * 1024,
  sessionResultBytesMax: 1024 * 1024,
  clientIdBytesMax: 64,
  compactionSliceKeys: 1_000,
};

export interface WatchConfig {
  /** Most watchers on this node. @defaultValue 10000 */
  watchersMax: number;
  /**
   * Events buffered per watcher before it falls behind. A watcher whose buffer is full stops
   * receiving live events and later catches up from history (etcd's unsynced watchers); it is
   * cancelled only if compaction overtakes it. @defaultValue 1024
   */
  watcherQueueEventsMax: number;
  /** Most history entries one catch-up call scans (bounds the time of one call). @defaultValue 10000 */
  watchCatchUpScanMax: number;
}

export const WATCH_DEFAULTS: Readonly<WatchConfig> = {
  watchersMax: 10_000,
  watcherQueueEventsMax: 1_024,
  watchCatchUpScanMax: 10_000,
};

export interface SnapshotConfig {
  /** Bytes per snapshot chunk: each chunk is one blocking slice of work. @defaultValue 262144 */
  snapshotChunkBytes: number;
}

export const SNAPSHOT_DEFAULTS: Readonly<SnapshotConfig> = { snapshotChunkBytes: 256 * 1024 };

export interface LessorConfig {
  /** Leases with a TTL above this get their remaining TTL checkpointed through the log this often, ms (etcd: 5 min). @defaultValue 300000 */
  checkpointIntervalMs: number;
  /** An expired lease whose revoke has not applied is proposed again after this long, ms (etcd: 3 s). @defaultValue 3000 */
  revokeRetryMs: number;
  /** Most leases returned for revoking by one call (etcd revokes at most 1000 per second). @defaultValue 1000 */
  revokeBatchMax: number;
}

export const LESSOR_DEFAULTS: Readonly<LessorConfig> = {
  checkpointIntervalMs: 300_000,
  revokeRetryMs: 3_000,
  revokeBatchMax: 1_000,
};

/** Fills `defaults` with `settings` and checks every field is a positive safe integer. */
function filled<T extends object>(what: string, defaults: Readonly<T>, settings: Partial<T>): T {
  const out = { ...defaults } as T;
  for (const name of Object.keys(defaults) as (keyof T)[]) {
    const value = settings[name];
    if (value !== undefined) out[name] = value;
    const final = out[name];
    if (typeof final !== 'number' || !Number.isSafeInteger(final) || final < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `invalid ${what} config: ${String(name)} (${String(final)}) must be a positive integer`,
      );
  }
  return out;
}

function fail(what: string, text: string): never {
  throw new ShoalError('ERR_INVALID_CONFIG', `invalid ${what} config: ${text}`);
}

/** Fills defaults and validates; throws ERR_INVALID_CONFIG naming both fields of a broken rule. */
export function kvConfig(settings: Partial<KvConfig> = {}): KvConfig {
  const config = filled('kv', KV_DEFAULTS, settings);
  if (config.keyBytesMax >= config.requestBytesMax)
    fail(
      'kv',
      `keyBytesMax (${config.keyBytesMax}) must be less than requestBytesMax (${config.requestBytesMax})`,
    );
  if (config.valueBytesMax > config.requestBytesMax)
    fail(
      'kv',
      `valueBytesMax (${config.valueBytesMax}) must not exceed requestBytesMax (${config.requestBytesMax})`,
    );
  if (config.leaseTtlMsMin > config.leaseTtlMsMax)
    fail(
      'kv',
      `leaseTtlMsMin (${config.leaseTtlMsMin}) must not exceed leaseTtlMsMax (${config.leaseTtlMsMax})`,
    );
  if (config.sessionResultBytesMax > config.sessionsBytesMax)
    fail(
      'kv',
      `sessionResultBytesMax (${config.sessionResultBytesMax}) must not exceed sessionsBytesMax (${config.sessionsBytesMax})`,
    );
  return config;
}

export function watchConfig(settings: Partial<WatchConfig> = {}): WatchConfig {
  return filled('watch', WATCH_DEFAULTS, settings);
}

export function snapshotConfig(settings: Partial<SnapshotConfig> = {}): SnapshotConfig {
  return filled('snapshot', SNAPSHOT_DEFAULTS, settings);
}

export function lessorConfig(settings: Partial<LessorConfig> = {}): LessorConfig {
  return filled('lessor', LESSOR_DEFAULTS, settings);
}
