/**
 * `static` mode configuration (docs/design/election.md, "static"): the one place its defaults
 * live, and the one function (`staticConfig`) that resolves a mode's fields into a validated
 * config, used by production and the simulator alike. Cluster-wide: every member should use
 * the same timings and peer list.
 */
import { ShoalError } from '../../base/errors.js';

export interface StaticConfig {
  /** A peer unheard this long is unhealthy, ms. Trade-off: lower fails over faster but flaps on loss. @defaultValue 1000 */
  failureThresholdMs: number;
  /** Heartbeat period, ms; at most failureThresholdMs / 2, so one lost heartbeat is tolerated. @defaultValue 200 */
  heartbeatIntervalMs: number;
  /** No leader without a majority of the peers in sight (self counted). @defaultValue true for 3 or more peers */
  requireQuorum: boolean;
}

export const STATIC_DEFAULTS = { failureThresholdMs: 1_000, heartbeatIntervalMs: 200 } as const;

/** A quorum needs at least three peers to mean anything: with two, either side of a cut would lose its leader. */
export const STATIC_QUORUM_PEERS_MIN = 3;

/** The fields a user may set; the rest come from `STATIC_DEFAULTS` and the peer count. */
export interface StaticSettings {
  failureThresholdMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  requireQuorum?: boolean | undefined;
}

/** Resolves and validates; throws ERR_INVALID_CONFIG naming both fields of a broken rule. */
export function staticConfig(settings: StaticSettings, peerCount: number): StaticConfig {
  const config: StaticConfig = {
    failureThresholdMs: settings.failureThresholdMs ?? STATIC_DEFAULTS.failureThresholdMs,
    heartbeatIntervalMs: settings.heartbeatIntervalMs ?? STATIC_DEFAULTS.heartbeatIntervalMs,
    requireQuorum: settings.requireQuorum ?? peerCount >= STATIC_QUORUM_PEERS_MIN,
  };
  return validateStaticConfig(config);
}

export function validateStaticConfig(config: StaticConfig): StaticConfig {
  const fail = (text: string): never => {
    throw new ShoalError('ERR_INVALID_CONFIG', `invalid static config: ${text}`);
  };
  for (const name of ['failureThresholdMs', 'heartbeatIntervalMs'] as const) {
    const value = config[name];
    if (!Number.isSafeInteger(value) || value < 1)
      fail(`${name} (${String(value)}) must be a positive integer`);
  }
  if (config.heartbeatIntervalMs * 2 > config.failureThresholdMs) {
    fail(
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be at most half of failureThresholdMs (${config.failureThresholdMs})`,
    );
  }
  return config;
}
