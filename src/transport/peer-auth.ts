/**
 * The authenticated stream hello (raft mode; docs/security.md, "Raft mode"): the dialer proves
 * its Ed25519 identity in the first frame of every connection, so the acceptor can label every
 * frame of that connection with the sender's NodeId. One signature per connection (the dialer
 * signs, the acceptor verifies), none per message: the hot path is unchanged.
 *
 * The hello binds, under the dialer's key: the cluster id (signed, not sent), its claimed NodeId
 * (the hash of the key), its listen address (the `from` of its frames), the acceptor address it
 * dialled (a hello recorded on its way to one member cannot open a connection to another), a
 * wall-clock timestamp (a hello older or newer than `skewMs` is refused) and a random nonce (a
 * hello replayed within that window is refused: the acceptor remembers the nonces of the hellos
 * it accepted until their timestamps leave the window, at most `noncesMax` of them). With
 * admission it also carries this node's certificate, if it has one.
 *
 * Layout (docs/design/wire.md, "Authenticated stream hello"): magic "SHL" (3 bytes), version 2
 * (1 byte), flags (1 byte: 1 = certificate), NodeId (16), public key (32), timestamp (u64 ms),
 * nonce (16), listen address (u8 length + UTF-8), dialled address (the same), [certificate:
 * not-before u64 ms, not-after u64 ms, CA signature (64)], signature (64) over the domain tag
 * `shoal/peer-hello/v1`, the cluster id (u8 length + UTF-8) and every byte before the signature.
 * Version 1 (tcp-hello.ts, an address only) is refused where peers must authenticate.
 *
 * Not a protocol core: a transport reads the wall clock and draws nonces from node:crypto.
 */
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { formatAddress, splitAddress, type Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { toHex } from '../base/hex.js';
import {
  ED25519_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  nodeIdFromPublicKey,
  publicKeyObject,
  verify,
} from '../identity/keys.js';
import { NODE_ID_BYTES, type NodeId } from '../identity/node-id.js';

/** Why an authenticated hello was refused (counted as the transport drop `peer_auth_<reason>`). */
export type PeerAuthRefusal =
  | 'malformed'
  | 'id_mismatch'
  | 'wrong_acceptor'
  | 'stale'
  | 'bad_signature'
  | 'replayed'
  | 'not_admitted';

export const PEER_AUTH_REFUSALS: readonly PeerAuthRefusal[] = [
  'malformed',
  'id_mismatch',
  'wrong_acceptor',
  'stale',
  'bad_signature',
  'replayed',
  'not_admitted',
];

/** @defaultValue 60 s: members' wall clocks may differ by this much (NTP keeps them well within). */
export const PEER_HELLO_SKEW_MS = 60_000;
/**
 * @defaultValue 65,536 nonces (about 6 MiB): 1,000 connections a second for a whole window.
 * Beyond, the oldest is forgotten early (only an on-path attacker, who saw that hello, could
 * replay it: an off-path one never sees a hello).
 */
export const PEER_HELLO_NONCES_MAX = 65_536;
/** Longest authenticated hello: fixed fields, two 255-byte addresses, a certificate. */
export const PEER_HELLO_BYTES_MAX = 800;

const MAGIC = [0x53, 0x48, 0x4c] as const;
const VERSION = 2;
const FLAG_CERTIFICATE = 1;
const NONCE_BYTES = 16;
const ADDRESS_BYTES_MAX = 255;
const TAG = new TextEncoder().encode('shoal/peer-hello/v1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A node certificate as the hello carries it (admission.ts signs and checks it). */
export interface HelloCertificate {
  notBeforeMs: number;
  notAfterMs: number;
  /** The CA's Ed25519 signature, 64 bytes. */
  signature: Uint8Array;
}

/** What the acceptor learns from a hello it accepted. */
export interface PeerHello {
  id: NodeId;
  publicKey: Uint8Array;
  /** The dialer's listen address, canonical. */
  address: Address;
  dialed: Address;
  timestampMs: number;
  nonce: Uint8Array;
  certificate: HelloCertificate | undefined;
}

export type PeerHelloVerdict =
  { ok: true; hello: PeerHello } | { ok: false; reason: PeerAuthRefusal; detail: string };

export interface PeerAuthOptions {
  clusterId: string;
  /** This node's identity: its raw public key and a signer with its private key. */
  identity: { readonly publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array };
  /** Sent in this node's hellos (admission with a CA). */
  certificate?: HelloCertificate | undefined;
  /** The reason a verified dialer is refused by admission, or undefined when it is admitted. */
  admit?: ((hello: PeerHello) => string | undefined) | undefined;
  /** Unix ms. @defaultValue Date.now */
  wallClockMs?: () => number;
  /** @defaultValue node:crypto randomBytes */
  randomBytes?: (count: number) => Uint8Array;
  /** @defaultValue PEER_HELLO_SKEW_MS */
  skewMs?: number;
  /** @defaultValue PEER_HELLO_NONCES_MAX */
  noncesMax?: number;
}

function u64(view: DataView, offset: number, value: number): void {
  view.setBigUint64(offset, BigInt(value));
}

function readU64(view: DataView, offset: number): number | undefined {
  const value = view.getBigUint64(offset);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
}

/** `host:port` re-formatted canonically, or undefined when it is not one. */
function canonical(text: string): Address | undefined {
  const hostPort = splitAddress(text);
  if (hostPort === undefined || hostPort.port === 0) return undefined;
  return formatAddress(hostPort.host, hostPort.port);
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

/**
 * Builds this node's hellos and verifies its dialers'. One per transport; the nonce cache is
 * its only state.
 */
export class PeerAuthenticator {
  readonly id: NodeId;
  /** Refused hellos by reason (the transport also counts them as drops). */
  readonly refusals: Record<PeerAuthRefusal, number> = {
    malformed: 0,
    id_mismatch: 0,
    wrong_acceptor: 0,
    stale: 0,
    bad_signature: 0,
    replayed: 0,
    not_admitted: 0,
  };
  /** Hellos accepted. */
  accepted = 0;
  /** Nonce (hex) to the Unix ms after which a replay of its hello is stale anyway; insertion order. */
  private readonly nonces = new Map<string, number>();
  private readonly signedPrefix: Uint8Array;
  private readonly keyObjects = new Map<string, KeyObject>();
  private readonly wallClockMs: () => number;
  private readonly random: (count: number) => Uint8Array;
  readonly skewMs: number;
  private readonly noncesMax: number;

  constructor(private readonly opts: PeerAuthOptions) {
    this.id = nodeIdFromPublicKey(opts.identity.publicKey);
    const cluster = new TextEncoder().encode(opts.clusterId);
    assert(cluster.length <= 255, 'peer hello: a cluster id over 255 bytes');
    this.signedPrefix = new Uint8Array([...TAG, cluster.length & 0xff, ...cluster]);
    this.wallClockMs = opts.wallClockMs ?? Date.now;
    this.random = opts.randomBytes ?? ((count) => new Uint8Array(randomBytes(count)));
    this.skewMs = opts.skewMs ?? PEER_HELLO_SKEW_MS;
    this.noncesMax = opts.noncesMax ?? PEER_HELLO_NONCES_MAX;
  }

  /** This node's hello for a connection from `listen` to `dialed`: one signature. */
  hello(listen: Address, dialed: Address): Uint8Array {
    return encodePeerHello(
      {
        publicKey: this.opts.identity.publicKey,
        address: listen,
        dialed,
        timestampMs: this.wallClockMs(),
        nonce: this.random(NONCE_BYTES),
        certificate: this.opts.certificate,
      },
      (data) => this.opts.identity.sign(this.signed(data)),
    );
  }

  /**
   * Verifies a dialer's first frame at an acceptor reached as one of `acceptor` (its advertise
   * and bound addresses). Cheap checks first; the signature before the nonce is remembered, so
   * forged hellos cannot fill the cache.
   */
  verify(frame: Uint8Array, acceptor: readonly Address[]): PeerHelloVerdict {
    const verdict = this.judge(frame, acceptor);
    if (verdict.ok) this.accepted++;
    else this.refusals[verdict.reason]++;
    return verdict;
  }

  private judge(frame: Uint8Array, acceptor: readonly Address[]): PeerHelloVerdict {
    const parsed = parsePeerHello(frame);
    if (parsed === undefined)
      return { ok: false, reason: 'malformed', detail: 'not an authenticated hello' };
    const { hello, claimedId, signature, signedBytes } = parsed;
    if (hello.id !== claimedId)
      return {
        ok: false,
        reason: 'id_mismatch',
        detail: `claims NodeId ${claimedId}, its key hashes to ${hello.id}`,
      };
    if (!dialedUs(hello.dialed, acceptor))
      return {
        ok: false,
        reason: 'wrong_acceptor',
        detail: `${hello.id} dialled ${hello.dialed}, this node is ${acceptor.join(' / ')}`,
      };
    const now = this.wallClockMs();
    if (Math.abs(now - hello.timestampMs) > this.skewMs)
      return {
        ok: false,
        reason: 'stale',
        detail: `${hello.id} (${hello.address}) sent a hello timestamped ${hello.timestampMs - now} ms from this node's clock (at most ${this.skewMs} ms either way: check both clocks)`,
      };
    if (!verify(hello.publicKey, this.signed(signedBytes), signature, this.keyObject(hello)))
      return {
        ok: false,
        reason: 'bad_signature',
        detail: `hello claiming ${hello.id} at ${hello.address}: the signature does not verify (another cluster id, or forged)`,
      };
    const nonce = toHex(hello.nonce);
    this.forgetExpired(now);
    if (this.nonces.has(nonce))
      return {
        ok: false,
        reason: 'replayed',
        detail: `${hello.id} (${hello.address}): a hello already accepted was sent again`,
      };
    const refusal = this.opts.admit?.(hello);
    if (refusal !== undefined) return { ok: false, reason: 'not_admitted', detail: refusal };
    if (this.nonces.size >= this.noncesMax) {
      const oldest = this.nonces.keys().next();
      if (oldest.done !== true) this.nonces.delete(oldest.value);
    }
    this.nonces.set(nonce, hello.timestampMs + this.skewMs);
    return { ok: true, hello };
  }

  /** Nonces remembered now (for tests and the bound). */
  get noncesHeld(): number {
    return this.nonces.size;
  }

  private signed(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.signedPrefix.length + data.length);
    out.set(this.signedPrefix, 0);
    out.set(data, this.signedPrefix.length);
    return out;
  }

  private keyObject(hello: PeerHello): KeyObject | undefined {
    const hex = toHex(hello.publicKey);
    let key = this.keyObjects.get(hex);
    if (key !== undefined) return key;
    key = publicKeyObject(hello.publicKey);
    if (key === undefined) return undefined;
    // A cluster's members, and a bounded number of strangers: cleared when it grows past them.
    if (this.keyObjects.size >= 4096) this.keyObjects.clear();
    this.keyObjects.set(hex, key);
    return key;
  }

  /** Drops nonces whose hellos are stale anyway, oldest first (insertion order is close to time order). */
  private forgetExpired(now: number): void {
    for (const [nonce, expiresAtMs] of this.nonces) {
      if (expiresAtMs >= now) return;
      this.nonces.delete(nonce);
    }
  }
}

/**
 * Whether a hello's dialled address names this acceptor: one of its addresses exactly, or a DNS
 * name with its port (a member may be dialled by name; names are not checked against addresses).
 */
function dialedUs(dialed: Address, acceptor: readonly Address[]): boolean {
  if (acceptor.includes(dialed)) return true;
  const hostPort = splitAddress(dialed);
  if (hostPort === undefined || isIpLiteral(hostPort.host)) return false;
  return acceptor.some((a) => splitAddress(a)?.port === hostPort.port);
}

/** The fields a hello carries, before signing. */
export interface PeerHelloFields {
  publicKey: Uint8Array;
  address: Address;
  dialed: Address;
  timestampMs: number;
  nonce: Uint8Array;
  certificate?: HelloCertificate | undefined;
  /** The NodeId claimed; @defaultValue the key's (tests set another to forge). */
  claimedId?: NodeId;
}

/** Encodes a hello and appends `sign(bytes so far)`. Exported for tests that forge hellos. */
export function encodePeerHello(
  fields: PeerHelloFields,
  sign: (data: Uint8Array) => Uint8Array,
): Uint8Array {
  const listen = new TextEncoder().encode(fields.address);
  const dialed = new TextEncoder().encode(fields.dialed);
  assert(
    listen.length <= ADDRESS_BYTES_MAX && dialed.length <= ADDRESS_BYTES_MAX,
    'peer hello: an address over 255 bytes',
  );
  const cert = fields.certificate;
  const bodyBytes =
    4 +
    1 +
    NODE_ID_BYTES +
    ED25519_KEY_BYTES +
    8 +
    NONCE_BYTES +
    1 +
    listen.length +
    1 +
    dialed.length +
    (cert === undefined ? 0 : 16 + ED25519_SIGNATURE_BYTES);
  const out = new Uint8Array(bodyBytes + ED25519_SIGNATURE_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[3] = VERSION;
  out[4] = cert === undefined ? 0 : FLAG_CERTIFICATE;
  let at = 5;
  const claimed = fields.claimedId ?? nodeIdFromPublicKey(fields.publicKey);
  out.set(Buffer.from(claimed, 'hex'), at);
  at += NODE_ID_BYTES;
  out.set(fields.publicKey, at);
  at += ED25519_KEY_BYTES;
  u64(view, at, fields.timestampMs);
  at += 8;
  out.set(fields.nonce.subarray(0, NONCE_BYTES), at);
  at += NONCE_BYTES;
  out[at++] = listen.length;
  out.set(listen, at);
  at += listen.length;
  out[at++] = dialed.length;
  out.set(dialed, at);
  at += dialed.length;
  if (cert !== undefined) {
    u64(view, at, cert.notBeforeMs);
    u64(view, at + 8, cert.notAfterMs);
    out.set(cert.signature, at + 16);
    at += 16 + ED25519_SIGNATURE_BYTES;
  }
  out.set(sign(out.subarray(0, at)), at);
  return out;
}

/** Whether a first frame is an authenticated hello (version 2), whatever else it holds. */
export function isPeerHello(frame: Uint8Array): boolean {
  return frame.length > 4 && frame[0] === MAGIC[0] && frame[1] === MAGIC[1] && frame[2] === MAGIC[2]
    ? frame[3] === VERSION
    : false;
}

/** The fields of a well-formed hello (not yet verified), or undefined. */
function parsePeerHello(frame: Uint8Array):
  | {
      hello: PeerHello;
      claimedId: NodeId;
      signature: Uint8Array;
      signedBytes: Uint8Array;
    }
  | undefined {
  if (frame.length > PEER_HELLO_BYTES_MAX || !isPeerHello(frame)) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const flags = frame[4] as number;
  if ((flags & ~FLAG_CERTIFICATE) !== 0) return undefined;
  const fixed = 5 + NODE_ID_BYTES + ED25519_KEY_BYTES + 8 + NONCE_BYTES;
  if (frame.length < fixed + 2 + ED25519_SIGNATURE_BYTES) return undefined;
  let at = 5;
  const claimedId = toHex(frame.subarray(at, at + NODE_ID_BYTES)) as NodeId;
  at += NODE_ID_BYTES;
  const publicKey = frame.slice(at, at + ED25519_KEY_BYTES);
  at += ED25519_KEY_BYTES;
  const timestampMs = readU64(view, at);
  at += 8;
  const nonce = frame.slice(at, at + NONCE_BYTES);
  at += NONCE_BYTES;
  const address = readAddressAt(frame, at);
  if (address === undefined || timestampMs === undefined) return undefined;
  at = address.next;
  const dialed = readAddressAt(frame, at);
  if (dialed === undefined) return undefined;
  at = dialed.next;
  let certificate: HelloCertificate | undefined;
  if ((flags & FLAG_CERTIFICATE) !== 0) {
    if (frame.length < at + 16 + ED25519_SIGNATURE_BYTES + ED25519_SIGNATURE_BYTES)
      return undefined;
    const notBeforeMs = readU64(view, at);
    const notAfterMs = readU64(view, at + 8);
    if (notBeforeMs === undefined || notAfterMs === undefined) return undefined;
    certificate = {
      notBeforeMs,
      notAfterMs,
      signature: frame.slice(at + 16, at + 16 + ED25519_SIGNATURE_BYTES),
    };
    at += 16 + ED25519_SIGNATURE_BYTES;
  }
  if (frame.length !== at + ED25519_SIGNATURE_BYTES) return undefined;
  return {
    hello: {
      id: nodeIdFromPublicKey(publicKey),
      publicKey,
      address: address.value,
      dialed: dialed.value,
      timestampMs,
      nonce,
      certificate,
    },
    claimedId,
    signature: frame.subarray(at),
    signedBytes: frame.subarray(0, at),
  };
}

function readAddressAt(
  frame: Uint8Array,
  at: number,
): { value: Address; next: number } | undefined {
  const length = frame[at];
  if (length === undefined || length === 0 || length > ADDRESS_BYTES_MAX) return undefined;
  const end = at + 1 + length;
  if (end > frame.length) return undefined;
  let text: string;
  try {
    text = utf8.decode(frame.subarray(at + 1, end));
  } catch {
    return undefined;
  }
  const value = canonical(text);
  return value === undefined ? undefined : { value, next: end };
}
