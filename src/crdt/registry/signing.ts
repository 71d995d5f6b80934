/**
 * Rows only from their owner (docs/design/data-plane.md, "Signed partitions"): every version
 * (epoch, seq) of an owner's partition is signed by the owner's Ed25519 key, and a replica takes
 * a partition or a delta only when the version it would then hold verifies against the key the
 * owner signed its membership record with (docs/security.md). A member can relay another's rows,
 * never make them up or change them: the signature covers a digest of every row of the version.
 *
 * Signed bytes (FROZEN, domain-separated like membership's records): the string
 * "shoal/registry-partition/v1", the cluster id, owner id (16 bytes), epoch (wallMs, logical
 * varints), seq varint, then the 32-byte rows digest: SHA-256 of the row count and every row in
 * its canonical wire encoding, in (table, key) order. The owner signs a version once, when it is
 * first sent (a burst of writes costs one signature), and a delta carries the signature of the
 * version it ends at, so relays and joined intervals keep the owner's word intact.
 *
 * Pure: SHA-256 and Ed25519 arrive as the injected `RegistryCrypto` (production binds node:crypto
 * and the node's identity, src/node/data-crypto.ts); a tombstone is not signed (anyone may say an
 * owner departed: it costs the owner one restamp, as an accusation costs one refutation).
 */
import { Writer } from '../../codec/bytes.js';
import type { NodeId } from '../../identity/node-id.js';
import type { PublicKey, Signature } from '../../identity/signed.js';
import type { Hlc } from '../hlc.js';
import { writeRow, type RegistryWireLimits } from './codec.js';
import type { Row } from './types.js';
import { rowId } from './types.js';

export const PARTITION_DOMAIN = 'shoal/registry-partition/v1';
export const ROWS_DIGEST_BYTES = 32;

/** Signing and hashing as capabilities (a core holds no private key, only the ability to sign as itself). */
export interface RegistryCrypto {
  /** This node's Ed25519 signature of `data`. */
  sign(data: Uint8Array): Signature;
  /** True when `signature` is `publicKey`'s signature of `data`; false, never a throw, for bad input. */
  verify(publicKey: PublicKey, data: Uint8Array, signature: Signature): boolean;
  sha256(data: Uint8Array): Uint8Array;
}

/** What the registry core signs and verifies with. */
export interface RegistrySecurity {
  /** Signed into every version, so a partition of another cluster never verifies. */
  readonly clusterId: string;
  readonly crypto: RegistryCrypto;
  /** This node's public key (its own partition, seen back from a previous life, verifies with it). */
  readonly publicKey: PublicKey;
  /**
   * Check signatures. Only the simulator's `-unsafe` scenarios turn it off, to show that their
   * checkers catch forged rows getting through. @defaultValue true
   */
  readonly verifySignatures: boolean;
}

const scratch = new Writer(4096);

/** SHA-256 of the row count and every row's canonical encoding, in (table, key) order. */
export function rowsDigest(
  rows: Iterable<Row>,
  limits: RegistryWireLimits,
  sha256: (data: Uint8Array) => Uint8Array,
): Uint8Array {
  const sorted = [...rows].sort((a, b) => {
    const x = rowId(a.table, a.key);
    const y = rowId(b.table, b.key);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  scratch.reset();
  scratch.varint(sorted.length);
  for (const row of sorted) writeRow(scratch, row, limits);
  return sha256(scratch.finish());
}

/** The bytes an owner signs for one version of its partition. */
export function versionBytes(
  clusterId: string,
  owner: NodeId,
  epoch: Hlc,
  seq: number,
  digest: Uint8Array,
): Uint8Array {
  const w = new Writer(128 + clusterId.length * 3);
  w.string(PARTITION_DOMAIN, PARTITION_DOMAIN.length);
  w.string(clusterId, clusterId.length * 3);
  w.nodeId(owner);
  w.varint(epoch.wallMs);
  w.varint(epoch.logical);
  w.varint(seq);
  w.bytes(digest);
  return w.finish();
}
