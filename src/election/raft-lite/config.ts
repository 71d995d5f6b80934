/**
 * raft-lite configuration (docs/design/election.md, "raft-lite"). Cluster-wide: all members
 * should use the same timings.
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
  /** A peer unheard this long is reported left (`onPeerLeft`), ms. @defaultValue 4 × electionTimeoutMaxMs */
  peerLeftMs: number;
}

export const RAFT_LITE_DEFAULTS: Readonly<RaftLiteConfig> = {
  electionTimeoutMinMs: 150,
  electionTimeoutMaxMs: 300,
  heartbeatIntervalMs: 50,
  minClusterSize: 3,
  peersMax: 64,
  peerLeftMs: 1_200,
};

/** Throws ERR_INVALID_CONFIG naming both fields of a broken cross-field rule. */
export function validateRaftLiteConfig(config: RaftLiteConfig): RaftLiteConfig {
  const fail = (text: string): never => {
    throw new ShoalError('ERR_INVALID_CONFIG', `invalid raft-lite config: ${text}`);
  };
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value < 1) fail(`${name} (${String(value)}) must be a positive integer`);
  }
  if (config.electionTimeoutMaxMs < config.electionTimeoutMinMs) fail(`electionTimeoutMaxMs (${config.electionTimeoutMaxMs}) must be at least electionTimeoutMinMs (${config.electionTimeoutMinMs})`);
  if (config.heartbeatIntervalMs * 2 > config.electionTimeoutMinMs) fail(`heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be at most half of electionTimeoutMinMs (${config.electionTimeoutMinMs})`);
  if (config.minClusterSize > config.peersMax) fail(`minClusterSize (${config.minClusterSize}) must not exceed peersMax (${config.peersMax})`);
  return config;
}
