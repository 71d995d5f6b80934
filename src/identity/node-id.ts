/**
 * NodeId: the stable identity of a node, 32 lowercase hex characters =
 * hex(SHAKE-256(raw 32-byte Ed25519 public key)[0..16]). Derived in `identity.ts`; this file is
 * the pure part (type, validation, ordering) that cores and the codec import.
 */
import type { Brand } from '../base/brand.js';

export type NodeId = Brand<string, 'NodeId'>;

export const NODE_ID_BYTES = 16;
const NODE_ID_RE = /^[0-9a-f]{32}$/;

export function isNodeId(text: string): text is NodeId {
  return NODE_ID_RE.test(text);
}

/** Total order on NodeIds (lexicographic on the hex, equal to byte order). */
export function compareNodeId(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
