/**
 * Bootstrap tokens (docs/design/worker-tier.md, "Tokens"): the format round-trips, every refusal
 * has its reason, and use counts live in the store (a txn compare), so a failover never resets
 * them.
 */
import { describe, expect, it } from 'vitest';
import { generateRawKeyPair, privateKeyFromSeed, signWith } from '../../src/identity/keys.js';
import { toHex } from '../../src/base/hex.js';
import {
  TOKEN_REFUSALS,
  base64UrlDecode,
  base64UrlEncode,
  checkToken,
  decodeToken,
  type TokenCheckContext,
  type TokenRefusal,
} from '../../src/worker/core/token.js';
import {
  registrationOutcome,
  registrationTxn,
  revokeTokenTxn,
} from '../../src/worker/core/txns.js';
import {
  issueToken,
  nodeIdOfKeyHex,
  verifyHex,
  type TokenSigner,
} from '../../src/worker/tokens.js';
import type { TxnResult } from '../../src/kv/types.js';
import { TestStore } from '../kv/helpers.js';

function signer(): TokenSigner {
  const pair = generateRawKeyPair();
  const key = privateKeyFromSeed(pair.privateSeed);
  return { publicKey: pair.publicKey, sign: (data) => signWith(key, data) };
}

const server = signer();
const NOW = 1_800_000_000_000;
const pin = 'ab'.repeat(32);
const issue = (options = {}, nowMs = NOW, by: TokenSigner = server, clusterId = 'prod') =>
  issueToken(options, { clusterId, nowMs, caPins: [pin], signer: by, ttlMsMax: 30 * 86_400_000 });

const ctx = (overrides: Partial<TokenCheckContext> = {}): TokenCheckContext => ({
  clusterId: 'prod',
  nowMs: NOW + 1_000,
  skewMs: 60_000,
  isServerKey: (hex) => hex === toHex(server.publicKey),
  verify: verifyHex,
  ...overrides,
});

function refusal(text: string, labels = {}, c = ctx()): TokenRefusal | 'ok' {
  const check = checkToken(text, labels, c);
  return check.ok ? 'ok' : check.refusal;
}

describe('token format', () => {
  it('round-trips every claim in URL-safe base64 after the swt1_ tag', () => {
    const issued = issue({ ttlMs: 3_600_000, maxUses: 5, labels: { zone: 'a', rack: 'r1' } });
    expect(issued.token).toMatch(/^swt1_[A-Za-z0-9_-]+$/);
    const decoded = decodeToken(issued.token);
    if (!decoded.ok) throw new Error(decoded.detail);
    expect(decoded.token.claims).toEqual({
      clusterId: 'prod',
      tokenId: issued.tokenId,
      issuedAtMs: NOW,
      expiresAtMs: NOW + 3_600_000,
      maxUses: 5,
      labels: { rack: 'r1', zone: 'a' },
      caPins: [pin],
      signerKey: toHex(server.publicKey),
    });
    expect(nodeIdOfKeyHex(decoded.token.claims.signerKey)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('base64url is canonical: every length round-trips, and non-canonical text is refused', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      expect(base64UrlDecode(base64UrlEncode(bytes))).toEqual(bytes);
    }
    expect(base64UrlDecode('AB')).toBeUndefined(); // low bits set: "AA" is the canonical form
    expect(base64UrlDecode('A+==')).toBeUndefined();
    expect(base64UrlDecode('A')).toBeUndefined();
  });
});

describe('every refusal says why', () => {
  const good = issue({ labels: { zone: 'a' } }).token;

  it('accepts a good token and merges the granted labels', () => {
    const check = checkToken(good, { disk: 'ssd' }, ctx());
    expect(check).toMatchObject({ ok: true, labels: { disk: 'ssd', zone: 'a' } });
  });

  it.each<[string, () => TokenRefusal | 'ok', TokenRefusal]>([
    ['not a token at all', () => refusal('hello'), 'bad-tag'],
    ['another tag', () => refusal(good.replace('swt1_', 'swt2_')), 'bad-tag'],
    ['cut short', () => refusal(good.slice(0, 40)), 'malformed'],
    ['not base64url', () => refusal(`${good.slice(0, -3)}***`), 'malformed'],
    ['too long', () => refusal(`swt1_${'A'.repeat(5_000)}`), 'malformed'],
    [
      'issued for another cluster',
      () => refusal(issue({}, NOW, server, 'staging').token),
      'wrong-cluster',
    ],
    ['signed by a stranger', () => refusal(issue({}, NOW, signer()).token), 'unknown-signer'],
    ['a flipped bit in the claims', () => refusal(flipClaimBit(good)), 'bad-signature'],
    [
      'issued beyond the skew in the future',
      () => refusal(issue({}, NOW + 120_000).token),
      'not-yet-valid',
    ],
    ['expired', () => refusal(good, {}, ctx({ nowMs: NOW + 86_400_000 })), 'expired'],
    ['a label contradicting the token', () => refusal(good, { zone: 'b' }), 'label-not-permitted'],
  ])('%s -> %s', (_what, run, expected) => {
    expect(run()).toBe(expected);
  });

  it('skew: issued 59 s ahead is accepted, at the expiry instant it is refused', () => {
    expect(refusal(issue({}, NOW + 1_000 + 59_000).token)).toBe('ok');
    expect(refusal(good, {}, ctx({ nowMs: NOW + 86_400_000 - 1 }))).toBe('ok');
  });

  it('covers every refusal word (revoked and used-up come from the store, below)', () => {
    expect(TOKEN_REFUSALS).toHaveLength(10);
  });

  it('bad creation options are refused with ERR_INVALID_ARGUMENT', () => {
    expect(() => issue({ maxUses: 0 })).toThrow('maxUses (0)');
    expect(() => issue({ ttlMs: 10 })).toThrow('ttlMs (10)');
    expect(() => issue({ labels: { 'bad key': 'x' } })).toThrow('label');
  });
});

function flipClaimBit(token: string): string {
  const bytes = base64UrlDecode(token.slice(5)) as Uint8Array;
  bytes[12] = (bytes[12] as number) ^ 1; // inside the token id
  return `swt1_${base64UrlEncode(bytes)}`;
}

describe('use counts live in the store (a txn compare, never a server memory)', () => {
  const record = (i: number) => ({
    id: i.toString(16).padStart(32, '0'),
    name: `w${i}`,
    labels: {},
    status: 'registered' as const,
    reason: 'registered',
    certSerial: 'ab',
    certNotAfterMs: NOW,
    tokenId: 'cd'.repeat(16),
    registeredAtMs: NOW,
    changedAtMs: NOW,
  });
  const claims = { tokenId: 'cd'.repeat(16), maxUses: 3, expiresAtMs: NOW + 1 };

  it('the (max+1)th registration fails its compare, whichever server proposed it', () => {
    const store = new TestStore();
    const outcomes = [1, 2, 3, 4, 5].map((i) =>
      registrationOutcome(
        store.do({ kind: 'txn', request: registrationTxn(claims, record(i), NOW) }) as TxnResult,
      ),
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, false, false]);
    expect(outcomes[4]).toEqual({ ok: false, refusal: 'used-up', uses: 3 });
  });

  it('the same worker registering again (a retry after a lost answer) takes no second use', () => {
    const store = new TestStore();
    const run = (i: number) =>
      registrationOutcome(
        store.do({
          kind: 'txn',
          request: registrationTxn({ ...claims, maxUses: 2 }, record(i), NOW),
        }) as TxnResult,
      );
    expect(run(1)).toMatchObject({ ok: true, retried: false });
    expect(run(1)).toMatchObject({ ok: true, retried: true });
    expect(run(1)).toMatchObject({ ok: true, retried: true });
    expect(run(2)).toMatchObject({ ok: true, retried: false });
    expect(run(3)).toMatchObject({ ok: false, refusal: 'used-up', uses: 2 });
  });

  it('a revoked token fails with revoked, even with uses left', () => {
    const store = new TestStore();
    store.do({ kind: 'txn', request: revokeTokenTxn(claims.tokenId, NOW) });
    const outcome = registrationOutcome(
      store.do({ kind: 'txn', request: registrationTxn(claims, record(1), NOW) }) as TxnResult,
    );
    expect(outcome).toEqual({ ok: false, refusal: 'revoked', uses: 0 });
  });
});

describe('signature checks remembered for a storm (tokens.ts verifyHex)', () => {
  it('a signature that verified is remembered for exactly its key, signature and bytes', () => {
    const key = toHex(server.publicKey);
    const data = new TextEncoder().encode('a token body presented by ten thousand workers');
    const signature = server.sign(data);
    const otherData = Uint8Array.from(data);
    otherData[3] = (otherData[3] as number) ^ 0x01;
    const otherSignature = Uint8Array.from(signature);
    otherSignature[63] = (otherSignature[63] as number) ^ 0x01;
    for (let round = 0; round < 2; round++) {
      expect(verifyHex(key, data, signature)).toBe(true);
      expect(verifyHex(key, otherData, signature)).toBe(false);
      expect(verifyHex(key, data, otherSignature)).toBe(false);
      expect(verifyHex(toHex(signer().publicKey), data, signature)).toBe(false);
    }
    for (let i = 0; i < 100; i++) {
      const more = new TextEncoder().encode(`token ${i}`);
      expect(verifyHex(key, more, server.sign(more))).toBe(true);
    }
    expect(verifyHex(key, data, signature)).toBe(true);
    expect(verifyHex(key, otherData, signature)).toBe(false);
  });
});
