/** Shoal's public surface: re-exports only (INTERFACE.md). */
export { createNode, ShoalNode, type Member, type LeaderInfo } from './node/node.js';
export type { NodeOptions, ClusterMode } from './node/options.js';
export type { NodeEvent, MemberEvent, LeaderEvent } from './node/events.js';
export type { JoinEvent, JoinStatus } from './node/swim-joins.js';
export { ShoalError, ERROR_CODES, hasErrorCode, type ErrorCode } from './base/errors.js';
export type { NodeId } from './identity/node-id.js';
export { generateKey } from './transport/keyring.js';
export type {
  NodeKv,
  KeyValueView,
  KeySpec,
  TxnSpec,
  TxnOp,
  TxnCompare,
  TxnOpResult,
  WatchEventView,
} from './node/node-kv.js';
export type { NodeRaft } from './node/node-raft.js';
export type { RaftStatus } from './node/mode-raft.js';
export type { KvService, ReadConsistency } from './node/kv-service.js';
export type { SecurityEvent } from './node/events.js';
export {
  createClusterCa,
  signNodeCertificate,
  parseNodeCertificate,
  type AdmissionOptions,
  type NodeCertificate,
} from './node/admission.js';
export type {
  NodeServices,
  NodeProcesses,
  NodePlacement,
  ServiceEvent,
  ServiceInstance,
  ProcessRow,
  OwnersChanged,
  OwnersOptions,
} from './node/data-plane-api.js';
export type { PlacementStrategy } from './placement/config.js';
export type {
  ChainComparison,
  ChainEntryInfo,
  ChainFork,
  ChainHead,
  NodeChain,
} from './node/data-chain.js';
export { verifyTreeProof } from './node/data-tree.js';
export type { NodeTrees, SharedTree, TreeEntryInfo, TreeInfo } from './node/data-tree.js';
export type { TreeProof } from './tree/proof.js';
export type { ChainForkEvent } from './node/events.js';
