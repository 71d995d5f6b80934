/**
 * Worker-tier configuration (docs/design/worker-tier.md, "Configuration"): the one place the
 * defaults live, the formulas that derive the heartbeat TTLs (Nomad's adaptive heartbeats), and
 * the functions that fill and validate both sides' settings.
 *
 * `WorkerServerConfig` is CLUSTER-WIDE: any server may lead, and the leader alone computes TTLs
 * and expiries, so every server should run the same values. `WorkerClientConfig` is per worker.
 *
 * Formulas (each has a table test in test/worker/config.test.ts):
 * - `heartbeatTtlBaseMsFor(n)`: clamp(ceil(n / maxHeartbeatsPerSecond) s, minHeartbeatTtlMs,
 *   maxHeartbeatTtlMs); a worker's TTL is that base plus a stagger in [0, base), so TTLs land in
 *   [base, 2·base) and the leader sees n / (1.5·base) ≈ ⅔ of maxHeartbeatsPerSecond on average.
 * - `failoverHeartbeatTtlMsFor(n)`: 2·n / maxHeartbeatsPerSecond s + 10·minHeartbeatTtlMs
 *   (500 s at 10,000 workers): every worker gets it after a leader change, long enough for all
 *   of them to find the new leader at the rate limit, so none is declared down for the change.
 */
import { ShoalError } from '../../base/errors.js';

export interface WorkerServerConfig {
  /** Shortest heartbeat TTL base, ms: small clusters heartbeat this often at most. @defaultValue 10000 */
  minHeartbeatTtlMs: number;
  /** Longest heartbeat TTL base, ms: down detection of huge clusters is never slower than 2× this plus grace. @defaultValue 600000 */
  maxHeartbeatTtlMs: number;
  /** A worker is down when `now > renewed + ttl + heartbeatGraceMs`: room for a late heartbeat and a retry at another server, ms. @defaultValue 10000 */
  heartbeatGraceMs: number;
  /** The heartbeat rate the leader aims to stay under; the TTL base grows with the worker count to keep it. @defaultValue 50 */
  maxHeartbeatsPerSecond: number;
  /**
   * TTL every tracked worker gets when a server becomes leader, ms. Absent: computed from the
   * worker count (`failoverHeartbeatTtlMsFor`). Set it only above that value; lower risks
   * declaring live workers down after a failover. @defaultValue computed
   */
  failoverHeartbeatTtlMs: number | undefined;
  /** The leader's one sweep runs at most this often, ms: expiries within it are batched. @defaultValue 1000 */
  sweepIntervalMs: number;
  /**
   * A leader whose clock moved this much between two steps (a pause, a VM freeze, a clock step)
   * gives every worker the failover TTL again instead of declaring them all down, ms. @defaultValue 5000
   */
  stallThresholdMs: number;
  /** Most workers tracked; registrations beyond are refused (ERR_WORKER_LIMIT). @defaultValue 20000 */
  workersMax: number;
  /** Longest a long-poll may wait, ms; longer requests are capped. @defaultValue 300000 */
  pollWaitMsMax: number;
  /** A long-poll's wait is shortened by up to this fraction at random, so polls do not synchronise. @defaultValue 0.0625 */
  pollJitterFraction: number;
  /** Leaf certificates signed for workers are valid this long, ms (30 days). @defaultValue 2592000000 */
  leafValidityMs: number;
  /** Tolerated wall-clock skew when checking a token's issued-at and expiry, ms. @defaultValue 60000 */
  tokenSkewMs: number;
  /** Longest token lifetime `tokens.create` accepts, ms (30 days). @defaultValue 2592000000 */
  tokenTtlMsMax: number;
  /**
   * Group commit of registrations: signed registrations propose their txns together (one Raft
   * input, one fsync) once this many are ready... @defaultValue 16
   */
  registrationGroupMin: number;
  /** ...or this long after the first of them was signed, ms (what a lone registration waits). @defaultValue 50 */
  registrationLingerMs: number;
}

export type WorkerServerSettings = { [K in keyof WorkerServerConfig]?: WorkerServerConfig[K] };

export const WORKER_SERVER_DEFAULTS: Readonly<WorkerServerConfig> = {
  minHeartbeatTtlMs: 10_000,
  maxHeartbeatTtlMs: 600_000,
  heartbeatGraceMs: 10_000,
  maxHeartbeatsPerSecond: 50,
  failoverHeartbeatTtlMs: undefined,
  sweepIntervalMs: 1_000,
  stallThresholdMs: 5_000,
  workersMax: 20_000,
  pollWaitMsMax: 300_000,
  pollJitterFraction: 0.0625,
  leafValidityMs: 30 * 24 * 3_600_000,
  tokenSkewMs: 60_000,
  tokenTtlMsMax: 30 * 24 * 3_600_000,
  registrationGroupMin: 16,
  registrationLingerMs: 50,
};

/** The TTL base for `workers` tracked workers (Nomad's RateScaledInterval, clamped), ms. */
export function heartbeatTtlBaseMsFor(
  workers: number,
  config: Pick<
    WorkerServerConfig,
    'minHeartbeatTtlMs' | 'maxHeartbeatTtlMs' | 'maxHeartbeatsPerSecond'
  >,
): number {
  const scaledMs = Math.ceil(workers / config.maxHeartbeatsPerSecond) * 1000;
  return Math.min(config.maxHeartbeatTtlMs, Math.max(config.minHeartbeatTtlMs, scaledMs));
}

/**
 * A worker's TTL: the base plus a stagger drawn from [0, base) by `draw` (an Rng's `int`), so
 * TTLs land in [base, 2·base) and expiries of workers that registered together spread out.
 */
export function staggeredTtlMs(baseMs: number, draw: (bound: number) => number): number {
  return baseMs + draw(baseMs);
}

/** Nomad's rule for the failover TTL: 2·n / rate seconds plus 10 minimum TTLs, ms. */
export function failoverHeartbeatTtlMsFor(
  workers: number,
  config: Pick<
    WorkerServerConfig,
    'minHeartbeatTtlMs' | 'maxHeartbeatsPerSecond' | 'failoverHeartbeatTtlMs'
  >,
): number {
  if (config.failoverHeartbeatTtlMs !== undefined) return config.failoverHeartbeatTtlMs;
  return (
    Math.ceil((2 * workers * 1000) / config.maxHeartbeatsPerSecond) + 10 * config.minHeartbeatTtlMs
  );
}

/** Expiry rule: a worker renewed at `renewedMs` with `ttlMs` is down once `now > renewed + ttl + grace`. */
export function isExpired(
  nowMs: number,
  renewedMs: number,
  ttlMs: number,
  graceMs: number,
): boolean {
  return nowMs > renewedMs + ttlMs + graceMs;
}

function fail(what: string, text: string): never {
  throw new ShoalError('ERR_INVALID_CONFIG', `invalid ${what} config: ${text}`);
}

/** Every field but the fractions in `except` (and unset optional ones) must be a positive safe integer. */
function positiveInts(what: string, config: object, except: readonly string[]): void {
  for (const [name, value] of Object.entries(config)) {
    if (except.includes(name) || value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      fail(what, `${name} (${String(value)}) must be a positive integer`);
  }
}

/** Fills defaults and validates; throws ERR_INVALID_CONFIG naming both fields of a broken rule. */
export function workerServerConfig(settings: WorkerServerSettings = {}): WorkerServerConfig {
  const config: WorkerServerConfig = { ...WORKER_SERVER_DEFAULTS };
  for (const name of Object.keys(WORKER_SERVER_DEFAULTS) as (keyof WorkerServerConfig)[]) {
    const value = settings[name];
    if (value !== undefined) (config as unknown as Record<string, unknown>)[name] = value;
  }
  const what = 'worker-server';
  positiveInts(what, config, ['pollJitterFraction']);
  if (!(config.pollJitterFraction >= 0 && config.pollJitterFraction < 1))
    fail(what, `pollJitterFraction (${config.pollJitterFraction}) must be in [0, 1)`);
  if (config.minHeartbeatTtlMs >= config.maxHeartbeatTtlMs)
    fail(
      what,
      `minHeartbeatTtlMs (${config.minHeartbeatTtlMs}) must be below maxHeartbeatTtlMs (${config.maxHeartbeatTtlMs})`,
    );
  if (config.heartbeatGraceMs > config.minHeartbeatTtlMs * 10)
    fail(
      what,
      `heartbeatGraceMs (${config.heartbeatGraceMs}) must be at most 10 × minHeartbeatTtlMs (${config.minHeartbeatTtlMs})`,
    );
  const floorMs = failoverHeartbeatTtlMsFor(0, { ...config, failoverHeartbeatTtlMs: undefined });
  if (config.failoverHeartbeatTtlMs !== undefined && config.failoverHeartbeatTtlMs < floorMs)
    fail(
      what,
      `failoverHeartbeatTtlMs (${config.failoverHeartbeatTtlMs}) must be at least 10 × minHeartbeatTtlMs (${floorMs})`,
    );
  if (config.stallThresholdMs > config.heartbeatGraceMs)
    fail(
      what,
      `stallThresholdMs (${config.stallThresholdMs}) must be at most heartbeatGraceMs (${config.heartbeatGraceMs})`,
    );
  if (config.sweepIntervalMs > config.heartbeatGraceMs)
    fail(
      what,
      `sweepIntervalMs (${config.sweepIntervalMs}) must be at most heartbeatGraceMs (${config.heartbeatGraceMs})`,
    );
  return config;
}

export interface WorkerClientConfig {
  /** First retry delay after a failed call, ms; doubled per failure up to retryBackoffMaxMs. @defaultValue 250 */
  retryBackoffMinMs: number;
  /** Longest retry delay, ms. Keep it well below the server's heartbeatGraceMs. @defaultValue 4000 */
  retryBackoffMaxMs: number;
  /** A call without an answer this long counts as failed, ms. @defaultValue 5000 */
  callTimeoutMs: number;
  /** How long one long-poll asks the server to wait, ms (the server caps it). @defaultValue 60000 */
  pollWaitMs: number;
  /** Renew the certificate when less than this fraction of its validity is left. @defaultValue 0.33 */
  renewFraction: number;
  /**
   * Most updates buffered for an application that does not read `assignments()`; past it the
   * oldest is dropped and counted (`dropped`); the worker's `current` map stays complete. @defaultValue 10000
   */
  deliveryQueueMax: number;
}

export type WorkerClientSettings = { [K in keyof WorkerClientConfig]?: WorkerClientConfig[K] };

export const WORKER_CLIENT_DEFAULTS: Readonly<WorkerClientConfig> = {
  retryBackoffMinMs: 250,
  retryBackoffMaxMs: 4_000,
  callTimeoutMs: 5_000,
  pollWaitMs: 60_000,
  renewFraction: 0.33,
  deliveryQueueMax: 10_000,
};

export function workerClientConfig(settings: WorkerClientSettings = {}): WorkerClientConfig {
  const config: WorkerClientConfig = { ...WORKER_CLIENT_DEFAULTS };
  for (const name of Object.keys(WORKER_CLIENT_DEFAULTS) as (keyof WorkerClientConfig)[]) {
    const value = settings[name];
    if (value !== undefined) config[name] = value;
  }
  const what = 'worker';
  positiveInts(what, config, ['renewFraction']);
  if (!(config.renewFraction > 0 && config.renewFraction < 1))
    fail(what, `renewFraction (${config.renewFraction}) must be in (0, 1)`);
  if (config.retryBackoffMinMs > config.retryBackoffMaxMs)
    fail(
      what,
      `retryBackoffMinMs (${config.retryBackoffMinMs}) must not exceed retryBackoffMaxMs (${config.retryBackoffMaxMs})`,
    );
  return config;
}

/** The retry delay after `failures` consecutive failures: min·2^(failures-1), capped, ms. */
export function retryBackoffMsFor(failures: number, config: WorkerClientConfig): number {
  if (failures <= 0) return 0;
  const exp = Math.min(failures - 1, 30);
  return Math.min(config.retryBackoffMaxMs, config.retryBackoffMinMs * 2 ** exp);
}
