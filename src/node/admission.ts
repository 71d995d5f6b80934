/**
 * Admission (docs/security.md, "Admission"): an optional policy for who may be a member, beyond
 * the cluster id. Without it any key holder that reaches a port may join (an open cluster).
 *
 * - `allow`: NodeIds or Ed25519 public keys (base64) admitted by name.
 * - `ca`: cluster CA public keys (Ed25519, base64). A member presents a node certificate, the
 *   CA's signature over {cluster id, node public key, not-before, not-after} (membership/
 *   record.ts `certificateBytes`), carried in its signed records; valid now on the wall clock.
 * - `deny`: NodeIds or keys refused whatever else says (revocation).
 *
 * A member is admitted when it is not denied and, if `allow` or `ca` is set, it is allowed by
 * name or carries a valid certificate of one of the CA keys. The check runs at join and on every
 * record that changes something (membership/security.ts), so an expired certificate stops a
 * member at its next record (a refutation, a restart, a label change).
 *
 * Certificates travel as base64 text (`signNodeCertificate`, `parseNodeCertificate`): version
 * (1 byte), cluster id, public key (32), not-before ms, not-after ms (varints), CA signature (64).
 */
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import { Reader, Writer } from '../codec/bytes.js';
import { toHex } from '../base/hex.js';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
} from '../identity/keys.js';
import { verifyHex } from '../identity/member-crypto.js';
import { isNodeId, type NodeId } from '../identity/node-id.js';
import {
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  type PublicKey,
  type Signature,
} from '../identity/signed.js';
import type { Certificate } from '../membership/messages.js';
import { certificateBytes } from '../membership/record.js';
import type { AdmissionCandidate } from '../membership/types.js';

/** The certificate text format this build writes and reads. */
export const CERTIFICATE_VERSION = 1;
/** Most entries in `allow` or `deny`; most CA keys. */
export const ADMISSION_ENTRIES_MAX = 65_536;
export const CA_KEYS_MAX = 16;

/** The `admission` option of createNode, as given (validated by options.ts). */
export interface AdmissionOptions {
  /** NodeIds (32 hex) or Ed25519 public keys (base64, 44 characters) admitted by name. */
  allow?: string[] | undefined;
  /** NodeIds or public keys refused whatever else admits them (revocation). */
  deny?: string[] | undefined;
  /** Cluster CA public keys (base64): a member carrying a valid certificate of one is admitted. */
  ca?: string[] | undefined;
  /** This node's certificate (base64, from `signNodeCertificate`). */
  certificate?: string | undefined;
}

/** A node certificate, decoded. */
export interface NodeCertificate {
  clusterId: string;
  publicKey: PublicKey;
  notBeforeMs: number;
  notAfterMs: number;
  /** The CA's signature over `certificateBytes(clusterId, publicKey, notBeforeMs, notAfterMs)`. */
  signature: Signature;
}

function invalid(message: string): ShoalError {
  return new ShoalError('ERR_INVALID_CONFIG', `invalid node option admission: ${message}`);
}

/** Strict base64 of exactly 32 bytes (an Ed25519 public key), as hex, or undefined. */
export function keyFromBase64(text: string): PublicKey | undefined {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const raw = new Uint8Array(Buffer.from(text, 'base64'));
  return raw.length === PUBLIC_KEY_BYTES ? (toHex(raw) as PublicKey) : undefined;
}

/** A NodeId, or the NodeId of a base64 public key; undefined for anything else. */
export function admissionEntryId(entry: string): NodeId | undefined {
  if (isNodeId(entry)) return entry;
  const key = keyFromBase64(entry);
  return key === undefined ? undefined : nodeIdFromPublicKey(Buffer.from(key, 'hex'));
}

/** A new cluster CA key pair, base64 (keep the private key offline: it admits nodes). */
export function createClusterCa(): { publicKey: string; privateKey: string } {
  const pair = generateRawKeyPair();
  return {
    publicKey: Buffer.from(pair.publicKey).toString('base64'),
    privateKey: Buffer.from(pair.privateSeed).toString('base64'),
  };
}

/**
 * A node certificate (base64) for `publicKey` (base64, the node's identity key: `shoal identity`
 * prints its NodeId, identity.json holds the key), signed with the CA's private key (base64).
 */
export function signNodeCertificate(
  caPrivateKey: string,
  subject: { clusterId: string; publicKey: string; notBeforeMs: number; notAfterMs: number },
): string {
  const seed = new Uint8Array(Buffer.from(caPrivateKey, 'base64'));
  const publicKey = keyFromBase64(subject.publicKey);
  if (seed.length !== 32) throw invalid('the CA private key must be base64 of 32 bytes');
  if (publicKey === undefined) throw invalid('the node public key must be base64 of 32 bytes');
  const { clusterId, notBeforeMs, notAfterMs } = subject;
  if (!(Number.isSafeInteger(notBeforeMs) && notBeforeMs >= 0 && notAfterMs > notBeforeMs))
    throw invalid(`certificate validity ${notBeforeMs}..${notAfterMs} is not a range of Unix ms`);
  const signature = toHex(
    signWith(
      privateKeyFromSeed(seed),
      certificateBytes(clusterId, publicKey, notBeforeMs, notAfterMs),
    ),
  );
  const w = new Writer(256);
  w.u8(CERTIFICATE_VERSION);
  w.string(clusterId, LIMITS.clusterIdBytesMax);
  w.hex(publicKey, PUBLIC_KEY_BYTES);
  w.varint(notBeforeMs);
  w.varint(notAfterMs);
  w.hex(signature, SIGNATURE_BYTES);
  return Buffer.from(w.finish()).toString('base64');
}

/** Decodes a certificate's text; throws ERR_INVALID_CONFIG naming what is wrong. */
export function parseNodeCertificate(text: string): NodeCertificate {
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (Buffer.from(bytes).toString('base64') !== text)
    throw invalid('certificate is not canonical base64');
  const r = new Reader(bytes, {
    decodeListCountMax: 0,
    decodeStringBytesMax: LIMITS.clusterIdBytesMax,
  });
  try {
    const version = r.u8('version');
    if (version !== CERTIFICATE_VERSION)
      throw invalid(`certificate version ${version}; this Shoal reads ${CERTIFICATE_VERSION}`);
    const certificate = {
      clusterId: r.string('cluster id'),
      publicKey: r.hex(PUBLIC_KEY_BYTES, 'public key') as PublicKey,
      notBeforeMs: r.varint('not-before'),
      notAfterMs: r.varint('not-after'),
      signature: r.hex(SIGNATURE_BYTES, 'signature') as Signature,
    };
    r.end();
    return certificate;
  } catch (err) {
    if (err instanceof ShoalError) throw err;
    throw invalid(
      `certificate does not decode (${(err as { detail?: string }).detail ?? String(err)})`,
    );
  }
}

/** The resolved policy: ids, CA keys (hex), this node's certificate as records carry it. */
export interface AdmissionPolicy {
  allow: ReadonlySet<NodeId> | undefined;
  deny: ReadonlySet<NodeId>;
  caKeys: readonly PublicKey[];
  certificate: Certificate | undefined;
  /** The certificate's own key: it must be this node's. */
  certificateKey: PublicKey | undefined;
}

function ids(entries: readonly string[] | undefined, field: string): Set<NodeId> | undefined {
  if (entries === undefined) return undefined;
  const out = new Set<NodeId>();
  for (const entry of entries) {
    const id = admissionEntryId(entry);
    if (id === undefined)
      throw invalid(
        `${field} entry ${JSON.stringify(entry.slice(0, 60))} is neither a NodeId (32 lowercase hex) nor a base64 Ed25519 public key`,
      );
    out.add(id);
  }
  return out;
}

/** The policy of `options` for `clusterId`; throws ERR_INVALID_CONFIG for a bad entry or certificate. */
export function admissionPolicy(options: AdmissionOptions, clusterId: string): AdmissionPolicy {
  const caKeys = (options.ca ?? []).map((text) => {
    const key = keyFromBase64(text);
    if (key === undefined)
      throw invalid(`ca entry ${JSON.stringify(text)} is not base64 of 32 bytes`);
    return key;
  });
  const parsed =
    options.certificate === undefined ? undefined : parseNodeCertificate(options.certificate);
  if (parsed !== undefined && parsed.clusterId !== clusterId)
    throw invalid(
      `the certificate is for cluster ${JSON.stringify(parsed.clusterId)}, this node is in ${JSON.stringify(clusterId)}`,
    );
  return {
    allow: ids(options.allow, 'allow'),
    deny: ids(options.deny, 'deny') ?? new Set(),
    caKeys,
    certificate:
      parsed === undefined
        ? undefined
        : {
            notBeforeMs: parsed.notBeforeMs,
            notAfterMs: parsed.notAfterMs,
            signature: parsed.signature,
          },
    certificateKey: parsed?.publicKey,
  };
}

function isoOf(ms: number): string {
  return Number.isFinite(ms) && ms < 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
}

/** Why `certificate` does not admit `publicKey` at `nowMs`, or undefined when it does. */
function certificateProblem(
  policy: AdmissionPolicy,
  clusterId: string,
  publicKey: PublicKey,
  certificate: Certificate | undefined,
  nowMs: number,
): string | undefined {
  if (certificate === undefined) return 'carries no certificate';
  const { notBeforeMs, notAfterMs, signature } = certificate;
  const signed = certificateBytes(clusterId, publicKey, notBeforeMs, notAfterMs);
  if (!policy.caKeys.some((ca) => verifyHex(ca, signed, signature)))
    return 'carries a certificate that no CA key of this cluster signed (for this key and cluster)';
  if (nowMs < notBeforeMs) return `carries a certificate valid only from ${isoOf(notBeforeMs)}`;
  if (nowMs > notAfterMs) return `carries a certificate that expired at ${isoOf(notAfterMs)}`;
  return undefined;
}

/** The admission function the membership core calls: the reason a candidate is refused, or undefined. */
export function admissionCheck(
  policy: AdmissionPolicy,
  clusterId: string,
  wallClockMs: () => number,
): (candidate: AdmissionCandidate) => string | undefined {
  return ({ id, publicKey, certificate }) => {
    if (policy.deny.has(id)) return `node ${id} is revoked (admission.deny)`;
    if (policy.allow === undefined && policy.caKeys.length === 0) return undefined;
    if (policy.allow?.has(id) === true) return undefined;
    if (policy.caKeys.length === 0) return `node ${id} is not in admission.allow`;
    const problem = certificateProblem(policy, clusterId, publicKey, certificate, wallClockMs());
    if (problem === undefined) return undefined;
    return `node ${id} is not in admission.allow and ${problem}`;
  };
}

/** Why a node's own policy would refuse it, and the option to fix (`allow`, `deny`, `certificate`). */
export interface OwnAdmissionRefusal {
  field: 'allow' | 'deny' | 'certificate';
  reason: string;
}

/**
 * Why `policy` refuses the node it runs on (its records would be refused here, and by every
 * member with the same policy), or undefined when it admits it: a certificate for another key,
 * an expired or foreign one, none where one is needed, or its own id denied.
 */
export function ownAdmissionRefusal(
  policy: AdmissionPolicy,
  admit: (candidate: AdmissionCandidate) => string | undefined,
  self: { id: NodeId; publicKey: PublicKey },
): OwnAdmissionRefusal | undefined {
  if (policy.certificateKey !== undefined && policy.certificateKey !== self.publicKey)
    return {
      field: 'certificate',
      reason: `it certifies another key than this node's (${self.id})`,
    };
  const refusal = admit({ ...self, certificate: policy.certificate });
  if (refusal === undefined) return undefined;
  if (policy.deny.has(self.id))
    return { field: 'deny', reason: `this node's own policy revokes it (${refusal})` };
  return {
    field: policy.caKeys.length > 0 ? 'certificate' : 'allow',
    reason: `this node's own policy refuses it (${refusal})`,
  };
}
