/**
 * raft-lite configuration (docs/design/election.md, "raft-lite"): the one place its defaults
 * live, and the one function (`raftLiteConfig`) that fills and derives the rest, shared by
 * production and the simulator. Cluster-wide: all members should use the same timings.
 */
import { ShoalError } from '../../base/errors.js';

export interface RaftLiteConfig {
  /**
   * Lower bound of the randomized election timeout, ms. A follower that hears no leader for a
   * timeout starts a pre-vote. Also the leader lease and the check-quorum period. Must exceed
   * a few heartbeats plus network delay. @defaultValue 150
   */
  electionTimeoutMinMs: number;
  /** Upper bound of the randomized election timeout, ms; wider means fewer split votes but slower failover. @defaultValue 300 */
  electionTimeoutMaxMs: number;
  /** Leader heartbeat period, ms. Must be below electionTimeoutMinMs / 2 so one lost heartbeat is tolerated. @defaultValue 50 */
  heartbeatIntervalMs: number;
  /**
   * No election starts while the known cluster (self included) is smaller than this: a node
   * that booted knowing too few peers cannot elect itself (failure story 3, cold-start split
   * brain). Set 1 to allow a one-node cluster. @defaultValue 3
   */
  minClusterSize: number;
  /** Most peers in the known cluster; joins beyond are refused. @defaultValue 64 */
  peersMax: number;
  /** Derived, not set: a peer unheard this long is reported left (`onPeerLeft`), ms. `peerLeftMsFor`: 4 × electionTimeoutMaxMs */
  peerLeftMs: number;
}

/** The fields a user may set. */
export type RaftLiteSettings = {
  [K in Exclude<keyof RaftLiteConfig, 'peerLeftMs'>]?: number | undefined;
};

export const RAFT_LITE_DEFAULTS: Readonly<Omit<RaftLiteConfig, 'peerLeftMs'>> = {
  electionTimeoutMinMs: 150,
  electionTimeoutMaxMs: 300,
  heartbeatIntervalMs: 50,
  minClusterSize: 3,
  peersMax: 64,
};

/** Four of the longest election timeouts: long enough that a peer in a slow election is not reported left. */
export function peerLeftMsFor(electionTimeoutMaxMs: number): number {
  return 4 * electionTimeoutMaxMs;
}

/** Fills defaults, derives `peerLeftMs` and validates; throws ERR_INVALID_CONFIG naming both fields of a broken rule. */
export function raftLiteConfig(settings: RaftLiteSettings = {}): RaftLiteConfig {
  const filled: Omit<RaftLiteConfig, 'peerLeftMs'> = { ...RAFT_LITE_DEFAULTS };
  for (const name of Object.keys(RAFT_LITE_DEFAULTS) as (keyof typeof RAFT_LITE_DEFAULTS)[]) {
    const value = settings[name];
    if (value !== undefined) filled[name] = value;
  }
  return validateRaftLiteConfig({
    ...filled,
    peerLeftMs: peerLeftMsFor(filled.electionTimeoutMaxMs),
  });
}

export function validateRaftLiteConfig(config: RaftLiteConfig): RaftLiteConfig {
  const fail = (text: string): never => {
    throw new ShoalError('ERR_INVALID_CONFIG', `invalid raft-lite config: ${text}`);
  };
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value < 1)
      fail(`${name} (${String(value)}) must be a positive integer`);
  }
  if (config.electionTimeoutMaxMs < config.electionTimeoutMinMs)
    fail(
      `electionTimeoutMaxMs (${config.electionTimeoutMaxMs}) must be at least electionTimeoutMinMs (${config.electionTimeoutMinMs})`,
    );
  if (config.heartbeatIntervalMs * 2 > config.electionTimeoutMinMs)
    fail(
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be at most half of electionTimeoutMinMs (${config.electionTimeoutMinMs})`,
    );
  if (config.minClusterSize > config.peersMax)
    fail(`minClusterSize (${config.minClusterSize}) must not exceed peersMax (${config.peersMax})`);
  return config;
}
