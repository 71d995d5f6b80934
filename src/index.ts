/** Shoal's public surface: re-exports only (INTERFACE.md). */
export { createNode, ShoalNode, type Member, type LeaderInfo } from './node/node.js';
export type { NodeOptions, ClusterMode } from './node/options.js';
export type { NodeEvent, MemberEvent, LeaderEvent } from './node/events.js';
export type { JoinEvent, JoinStatus } from './node/swim-joins.js';
export { ShoalError, ERROR_CODES, hasErrorCode, type ErrorCode } from './base/errors.js';
export type { NodeId } from './identity/node-id.js';
export { generateKey } from './transport/keyring.js';
