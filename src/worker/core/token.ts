/**
 * Worker bootstrap tokens (docs/design/worker-tier.md, "Tokens"): Ed25519-signed claims in
 * URL-safe base64, `swt1_<base64url(body ‖ signature)>`.
 *
 * body = "SWT1" (the tag) ‖ version 1 ‖ cluster id ‖ token id (16 bytes) ‖ issued-at and
 *        expires-at (wall-clock ms) ‖ max uses ‖ labels ‖ CA pins (SHA-256 of each server CA's
 *        SubjectPublicKeyInfo) ‖ the signer's raw Ed25519 public key (a server's node identity)
 * signature = Ed25519(signer, "shoal worker token v1\0" ‖ body)
 *
 * A server accepts a token when, in this order: the text and tag parse, the cluster id is its
 * own, the signer is a current server (its NodeId, SHAKE-256 of the public key, is one), the
 * signature holds, issued-at is not in the future by more than the tolerated skew, expires-at
 * has not passed, and the requested labels do not contradict the token's. Use counts and
 * revocation are checked in the replicated store (registration.ts), never in a server's memory.
 *
 * Pure: signing and verification arrive as functions (token-signer.ts binds node:crypto).
 */
import { DecodeFailure, Reader, Writer } from '../../codec/bytes.js';
import { fromHex, toHex } from '../../base/hex.js';

export const TOKEN_TEXT_PREFIX = 'swt1_';
const TAG = 'SWT1';
const TOKEN_VERSION = 1;
/** Domain separation: a token signature can never be replayed as another Shoal signature. */
export const TOKEN_SIGNING_CONTEXT = 'shoal worker token v1\u0000';
const TOKEN_ID_BYTES = 16;
const PIN_BYTES = 32;
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** Longest token text accepted, characters: refused before decoding. */
export const TOKEN_TEXT_CHARS_MAX = 4096;
/** Most labels and CA pins in one token. */
export const TOKEN_LABELS_MAX = 32;
export const TOKEN_PINS_MAX = 16;
/** Longest cluster id and label key or value, bytes of UTF-8. */
export const CLUSTER_ID_BYTES_MAX = 64;
export const LABEL_BYTES_MAX = 63;
/** Most uses one token may allow. */
export const TOKEN_USES_MAX = 1_000_000;

export interface TokenClaims {
  clusterId: string;
  /** 32 lowercase hex characters. */
  tokenId: string;
  /** Wall-clock ms since the Unix epoch. */
  issuedAtMs: number;
  expiresAtMs: number;
  maxUses: number;
  labels: Readonly<Record<string, string>>;
  /** SHA-256 of each trusted server CA's SubjectPublicKeyInfo, 64 hex characters each. */
  caPins: readonly string[];
  /** The signing server's raw Ed25519 public key, 64 hex characters. */
  signerKey: string;
}

export interface SignedToken {
  claims: TokenClaims;
  /** What the signature covers (context ‖ body). */
  signedBytes: Uint8Array;
  signature: Uint8Array;
}

/** Why a registration was refused; stable words for metrics, logs and the worker's error. */
export type TokenRefusal =
  | 'malformed'
  | 'bad-tag'
  | 'wrong-cluster'
  | 'unknown-signer'
  | 'bad-signature'
  | 'not-yet-valid'
  | 'expired'
  | 'label-not-permitted'
  | 'revoked'
  | 'used-up';

export const TOKEN_REFUSALS: readonly TokenRefusal[] = [
  'malformed',
  'bad-tag',
  'wrong-cluster',
  'unknown-signer',
  'bad-signature',
  'not-yet-valid',
  'expired',
  'label-not-permitted',
  'revoked',
  'used-up',
];

const encoder = new TextEncoder();
const FIELD_LIMITS = { decodeListCountMax: TOKEN_LABELS_MAX, decodeStringBytesMax: 256 };

function body(claims: TokenClaims): Uint8Array {
  const w = new Writer(512);
  w.bytes(encoder.encode(TAG));
  w.u8(TOKEN_VERSION);
  w.string(claims.clusterId, CLUSTER_ID_BYTES_MAX);
  w.bytes(fromHex(claims.tokenId));
  w.varint(claims.issuedAtMs);
  w.varint(claims.expiresAtMs);
  w.varint(claims.maxUses);
  const labels = Object.entries(claims.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  w.varint(labels.length);
  for (const [k, v] of labels) {
    w.string(k, LABEL_BYTES_MAX);
    w.string(v, LABEL_BYTES_MAX);
  }
  w.varint(claims.caPins.length);
  for (const pin of claims.caPins) w.bytes(fromHex(pin));
  w.bytes(fromHex(claims.signerKey));
  return w.finish();
}

function withContext(bodyBytes: Uint8Array): Uint8Array {
  const context = encoder.encode(TOKEN_SIGNING_CONTEXT);
  const out = new Uint8Array(context.length + bodyBytes.length);
  out.set(context, 0);
  out.set(bodyBytes, context.length);
  return out;
}

/** The bytes a token's signer signs (context ‖ body). */
export function tokenSigningBytes(claims: TokenClaims): Uint8Array {
  return withContext(body(claims));
}

/** The token text for `claims` signed with `sign` (the signer's Ed25519 over tokenSigningBytes). */
export function encodeToken(claims: TokenClaims, sign: (data: Uint8Array) => Uint8Array): string {
  const b = body(claims);
  const signature = sign(withContext(b));
  const all = new Uint8Array(b.length + signature.length);
  all.set(b, 0);
  all.set(signature, b.length);
  return TOKEN_TEXT_PREFIX + base64UrlEncode(all);
}

/** Parses a token's text; `bad-tag` or `malformed` when it is not a well-formed v1 token. */
export function decodeToken(
  text: string,
):
  | { ok: true; token: SignedToken }
  | { ok: false; refusal: 'malformed' | 'bad-tag'; detail: string } {
  const trimmed = text.trim();
  if (trimmed.length > TOKEN_TEXT_CHARS_MAX)
    return {
      ok: false,
      refusal: 'malformed',
      detail: `longer than ${TOKEN_TEXT_CHARS_MAX} characters`,
    };
  if (!trimmed.startsWith(TOKEN_TEXT_PREFIX))
    return { ok: false, refusal: 'bad-tag', detail: `does not start with ${TOKEN_TEXT_PREFIX}` };
  const bytes = base64UrlDecode(trimmed.slice(TOKEN_TEXT_PREFIX.length));
  if (bytes === undefined || bytes.length < SIGNATURE_BYTES)
    return { ok: false, refusal: 'malformed', detail: 'not URL-safe base64 of a token' };
  const bodyBytes = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  const tag = encoder.encode(TAG);
  if (bodyBytes.length < tag.length + 1 || tag.some((b, i) => bodyBytes[i] !== b))
    return { ok: false, refusal: 'bad-tag', detail: `the body does not start with ${TAG}` };
  try {
    const claims = readBody(bodyBytes, tag.length);
    return {
      ok: true,
      token: {
        claims,
        signedBytes: withContext(bodyBytes),
        signature: bytes.slice(bytes.length - SIGNATURE_BYTES),
      },
    };
  } catch (err) {
    if (err instanceof DecodeFailure)
      return { ok: false, refusal: 'malformed', detail: err.detail };
    throw err;
  }
}

function readBody(bytes: Uint8Array, start: number): TokenClaims {
  const r = new Reader(bytes, FIELD_LIMITS, start);
  const version = r.u8('version');
  if (version !== TOKEN_VERSION)
    throw new DecodeFailure(
      'ERR_DECODE_BAD_VERSION',
      `token version ${version} is not ${TOKEN_VERSION}`,
    );
  const clusterId = r.string('cluster id', CLUSTER_ID_BYTES_MAX);
  const tokenId = toHex(r.bytes(TOKEN_ID_BYTES, 'token id'));
  const issuedAtMs = r.varint('issued at');
  const expiresAtMs = r.varint('expires at');
  const maxUses = r.varint('max uses');
  if (maxUses < 1 || maxUses > TOKEN_USES_MAX)
    throw new DecodeFailure(
      'ERR_DECODE_MALFORMED',
      `max uses ${maxUses} not in 1..${TOKEN_USES_MAX}`,
    );
  const labels: Record<string, string> = {};
  const labelCount = r.count('labels', 2);
  for (let i = 0; i < labelCount; i++) {
    const key = r.string('label key', LABEL_BYTES_MAX);
    if (key in labels) throw new DecodeFailure('ERR_DECODE_MALFORMED', `label ${key} twice`);
    labels[key] = r.string('label value', LABEL_BYTES_MAX);
  }
  const caPins: string[] = [];
  const pinCount = r.count('ca pins', PIN_BYTES);
  if (pinCount > TOKEN_PINS_MAX)
    throw new DecodeFailure('ERR_DECODE_OVERSIZED', `${pinCount} CA pins exceed ${TOKEN_PINS_MAX}`);
  for (let i = 0; i < pinCount; i++) caPins.push(toHex(r.bytes(PIN_BYTES, 'ca pin')));
  const signerKey = toHex(r.bytes(KEY_BYTES, 'signer key'));
  r.end();
  return { clusterId, tokenId, issuedAtMs, expiresAtMs, maxUses, labels, caPins, signerKey };
}

/** What a token is checked against (the server's view at registration time). */
export interface TokenCheckContext {
  clusterId: string;
  /** Wall-clock ms. */
  nowMs: number;
  skewMs: number;
  /** True when the raw public key (hex) belongs to a current server. */
  isServerKey(signerKeyHex: string): boolean;
  verify(publicKeyHex: string, data: Uint8Array, signature: Uint8Array): boolean;
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims; labels: Record<string, string> }
  | { ok: false; refusal: TokenRefusal; detail: string };

/** Every check of a token that needs no store; use counts and revocation come after. */
export function checkToken(
  text: string,
  requestedLabels: Readonly<Record<string, string>>,
  ctx: TokenCheckContext,
): TokenCheck {
  const decoded = decodeToken(text);
  if (!decoded.ok) return decoded;
  const { claims, signedBytes, signature } = decoded.token;
  const refuse = (refusal: TokenRefusal, detail: string): TokenCheck => ({
    ok: false,
    refusal,
    detail,
  });
  if (claims.clusterId !== ctx.clusterId)
    return refuse(
      'wrong-cluster',
      `issued for cluster ${claims.clusterId}, this is ${ctx.clusterId}`,
    );
  if (!ctx.isServerKey(claims.signerKey))
    return refuse('unknown-signer', 'signed by a key that is not a server of this cluster');
  if (!ctx.verify(claims.signerKey, signedBytes, signature))
    return refuse('bad-signature', 'the signature does not match the claims');
  if (claims.issuedAtMs > ctx.nowMs + ctx.skewMs)
    return refuse('not-yet-valid', `issued ${claims.issuedAtMs - ctx.nowMs} ms in the future`);
  if (ctx.nowMs >= claims.expiresAtMs)
    return refuse('expired', `expired ${ctx.nowMs - claims.expiresAtMs} ms ago`);
  for (const [key, value] of Object.entries(requestedLabels)) {
    const granted = claims.labels[key];
    if (granted !== undefined && granted !== value)
      return refuse(
        'label-not-permitted',
        `label ${key}=${value} contradicts the token's ${key}=${granted}`,
      );
  }
  return { ok: true, claims, labels: { ...requestedLabels, ...claims.labels } };
}

// ---- URL-safe base64 without padding (RFC 4648 §5), written out: no Buffer in a core ----

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export function base64UrlEncode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let c = 0; c < chars; c++) out += ALPHABET[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}

/** The bytes, or undefined for a character outside the alphabet or a non-canonical text. */
export function base64UrlDecode(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const chars = Math.min(4, text.length - i);
    let n = 0;
    for (let c = 0; c < 4; c++) {
      const code = c < chars ? text.charCodeAt(i + c) : 65;
      const v = code < 128 ? (VALUE[code] as number) : -1;
      if (v < 0) return undefined;
      n = (n << 6) | (c < chars ? v : 0);
    }
    for (let b = 0; b < chars - 1; b++) out[o++] = (n >> (16 - 8 * b)) & 255;
  }
  // Canonical: one text per byte string (unused low bits of the last character must be zero).
  return base64UrlEncode(out) === text ? out : undefined;
}
