/**
 * Issuing and checking bootstrap tokens with real keys (the shell around core/token.ts): a token
 * is signed by the issuing server's node identity (Ed25519, src/identity), and any server checks
 * it against the current servers' public keys. Token ids are 16 random bytes.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { ShoalError } from '../base/errors.js';
import { fromHex, toHex } from '../base/hex.js';
import { nodeIdFromPublicKey, publicKeyObject, verify } from '../identity/keys.js';
import { isName } from './core/layout.js';
import {
  CLUSTER_ID_BYTES_MAX,
  LABEL_BYTES_MAX,
  TOKEN_LABELS_MAX,
  TOKEN_PINS_MAX,
  TOKEN_USES_MAX,
  encodeToken,
  type TokenClaims,
} from './core/token.js';

export interface TokenSigner {
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

/** What `node.workers.tokens.create()` takes (INTERFACE.md: `shoal token create`). */
export interface CreateTokenOptions {
  /** Lifetime, ms. @defaultValue 86400000 (24 h) */
  ttlMs?: number;
  /** Registrations the token allows. @defaultValue 1 */
  maxUses?: number;
  /** Labels every worker registering with it gets (and may not contradict). */
  labels?: Record<string, string>;
}

export const TOKEN_TTL_MS_DEFAULT = 24 * 3_600_000;

export interface IssuedToken {
  token: string;
  tokenId: string;
  expiresAtMs: number;
  maxUses: number;
}

function invalid(text: string): never {
  throw new ShoalError('ERR_INVALID_ARGUMENT', `token: ${text}`);
}

/** Checks the user's options; throws ERR_INVALID_ARGUMENT naming the bad one. */
export function checkTokenOptions(options: CreateTokenOptions, ttlMsMax: number): void {
  const { ttlMs, maxUses, labels } = options;
  if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs < 1_000 || ttlMs > ttlMsMax))
    invalid(`ttlMs (${ttlMs}) must be an integer from 1000 to tokenTtlMsMax (${ttlMsMax})`);
  if (
    maxUses !== undefined &&
    (!Number.isSafeInteger(maxUses) || maxUses < 1 || maxUses > TOKEN_USES_MAX)
  )
    invalid(`maxUses (${maxUses}) must be an integer from 1 to ${TOKEN_USES_MAX}`);
  const entries = Object.entries(labels ?? {});
  if (entries.length > TOKEN_LABELS_MAX)
    invalid(`${entries.length} labels exceed ${TOKEN_LABELS_MAX}`);
  for (const [k, v] of entries)
    if (!isName(k) || v.length > LABEL_BYTES_MAX || !/^[\w.@:-]*$/.test(v))
      invalid(
        `label ${JSON.stringify(k)}=${JSON.stringify(v)}: keys are 1-63 of A-Z a-z 0-9 . _ -, values up to 63 of those and @ :`,
      );
}

/** Signs a new token for `clusterId`, pinning `caPins` (hex SHA-256 of each server CA's SPKI). */
export function issueToken(
  options: CreateTokenOptions,
  ctx: {
    clusterId: string;
    nowMs: number;
    caPins: readonly string[];
    signer: TokenSigner;
    ttlMsMax: number;
  },
): IssuedToken {
  checkTokenOptions(options, ctx.ttlMsMax);
  if (new TextEncoder().encode(ctx.clusterId).length > CLUSTER_ID_BYTES_MAX)
    invalid(`cluster id longer than ${CLUSTER_ID_BYTES_MAX} bytes`);
  if (ctx.caPins.length === 0 || ctx.caPins.length > TOKEN_PINS_MAX)
    invalid(
      `${ctx.caPins.length} CA pins: a token pins 1 to ${TOKEN_PINS_MAX} server CAs (is a server's CA published yet?)`,
    );
  const claims: TokenClaims = {
    clusterId: ctx.clusterId,
    tokenId: toHex(randomBytes(16)),
    issuedAtMs: ctx.nowMs,
    expiresAtMs: ctx.nowMs + (options.ttlMs ?? TOKEN_TTL_MS_DEFAULT),
    maxUses: options.maxUses ?? 1,
    labels: { ...(options.labels ?? {}) },
    caPins: [...ctx.caPins],
    signerKey: toHex(ctx.signer.publicKey),
  };
  return {
    token: encodeToken(claims, (data) => ctx.signer.sign(data)),
    tokenId: claims.tokenId,
    expiresAtMs: claims.expiresAtMs,
    maxUses: claims.maxUses,
  };
}

/**
 * Signer keys seen lately, parsed: tokens are signed by a handful of servers, and building a
 * KeyObject is most of a verification's cost (a storm checks one token thousands of times).
 * Cleared whole when full, so a stream of forged signer keys costs memory for at most this many.
 */
const SIGNER_KEYS_CACHED_MAX = 64;
const signerKeys = new Map<string, { key: KeyObject | undefined; nodeId: string }>();

function signerKey(publicKeyHex: string): { key: KeyObject | undefined; nodeId: string } {
  let known = signerKeys.get(publicKeyHex);
  if (known === undefined) {
    if (signerKeys.size >= SIGNER_KEYS_CACHED_MAX) signerKeys.clear();
    const raw = fromHex(publicKeyHex);
    known = { key: publicKeyObject(raw), nodeId: nodeIdFromPublicKey(raw) };
    signerKeys.set(publicKeyHex, known);
  }
  return known;
}

/**
 * Signatures that verified lately, as key, signature and signed bytes exactly: a storm presents
 * one token thousands of times, and an Ed25519 verify (~70 µs) gives the same answer for the
 * same three inputs every time. Only successes are kept (a forgery is verified, and refused,
 * each time), so nothing unverified is ever accepted; the claims (expiry, labels, uses) are
 * checked on every use by the caller. Cleared whole when full.
 */
const VERIFIED_CACHED_MAX = 64;
const verified = new Set<string>();

/** Ed25519 verification with a hex public key (never throws: bad keys verify false). */
export function verifyHex(publicKeyHex: string, data: Uint8Array, signature: Uint8Array): boolean {
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex)) return false;
  const exact = `${publicKeyHex}.${Buffer.from(signature).toString('base64')}.${Buffer.from(data).toString('base64')}`;
  if (verified.has(exact)) return true;
  const { key } = signerKey(publicKeyHex);
  const ok = key !== undefined && verify(fromHex(publicKeyHex), data, signature, key);
  if (ok) {
    if (verified.size >= VERIFIED_CACHED_MAX) verified.clear();
    verified.add(exact);
  }
  return ok;
}

/** The NodeId of a hex public key, or undefined when it is not one. */
export function nodeIdOfKeyHex(publicKeyHex: string): string | undefined {
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex)) return undefined;
  return signerKey(publicKeyHex).nodeId;
}
