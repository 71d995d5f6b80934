/**
 * The view digest of digest-first push-pull (docs/design/membership.md, "Push-pull digest"): an
 * order-independent 64-bit summary of the live set, so a periodic anti-entropy round between two
 * members that already agree costs two small frames instead of two full views.
 *
 * digest = XOR over live members (alive | suspect, self included once it is alive) of
 * memberHash(id, incarnation). XOR makes it order-independent and updatable in O(1): a member
 * entering or leaving the live set, or changing incarnation while live, toggles its hash in or
 * out (`toggleMember`, called only from state.ts). Invariant (invariants.ts): the kept digest
 * equals `computeViewDigest` from scratch.
 *
 * Why only (id, incarnation) of live members:
 * - suspect vs alive is local and timing-dependent (each node suspects on its own probe clock), so
 *   it would make views differ whenever anyone is mid-suspicion; gossip spreads suspicions anyway.
 * - name, address and labels never change without a new incarnation (update-labels bumps it).
 * - dead and left records are left out: a full merge never changes a departed record the other
 *   side lacks or holds departed differently (a remote dead is at most a suspicion, ignored for
 *   unknown or departed members; dead/left are final for their incarnation), and reaping at
 *   different times would keep digests apart for deadReclaimMs after every death. A member live on
 *   one side and departed on the other is a live-set difference, which the digest does see.
 *
 * Not a cryptographic hash: a peer could forge an equal digest, but a peer in the cluster can
 * lie about members anyway. Two different live sets collide with probability ~2^-64.
 */
import type { NodeId } from '../identity/node-id.js';

const TWO_POW_32 = 4_294_967_296;

/** Murmur3's 32-bit finalizer: spreads every input bit over the output. */
function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One 32-bit lane: multiply-xor over the UTF-16 code units and the incarnation's two 32-bit halves. */
function lane(text: string, incarnation: number, seed: number, multiplier: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), multiplier);
  h = Math.imul(h ^ (incarnation >>> 0), multiplier);
  h = Math.imul(h ^ Math.floor(incarnation / TWO_POW_32), multiplier);
  return fmix32(h);
}

/** High lane: FNV-1a's offset basis and prime. */
export function hashHi(text: string, incarnation: number): number {
  return lane(text, incarnation, 0x811c9dc5, 0x01000193);
}

/** Low lane: an independent seed and odd multiplier (murmur2's m), so the lanes do not track each other. */
export function hashLo(text: string, incarnation: number): number {
  return lane(text, incarnation, 0x9e3779b9, 0x5bd1e995);
}

/** The 16-hex-character form used on the wire (codec writes it as 8 bytes). */
export function digestHex(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** A 64-bit digest of an arbitrary string (the config fingerprint: 280 bytes → 8 on the wire). */
export function textDigest(text: string): string {
  return digestHex(hashHi(text, 0), hashLo(text, 0));
}

/** The two lanes of a view digest; mutated in place by `toggleMember`. */
export interface ViewDigest {
  hi: number;
  lo: number;
}

/**
 * XORs one member's hash into (or, being its own inverse, out of) `digest`. O(id length): both
 * lanes in one pass over the id (equal to `hashHi` and `hashLo`; a join toggles every member, so
 * this runs N times per joining node).
 */
export function toggleMember(digest: ViewDigest, id: NodeId, incarnation: number): void {
  let hi = 0x811c9dc5;
  let lo = 0x9e3779b9;
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    hi = Math.imul(hi ^ code, 0x01000193);
    lo = Math.imul(lo ^ code, 0x5bd1e995);
  }
  const low = incarnation >>> 0;
  const high = Math.floor(incarnation / TWO_POW_32);
  hi = Math.imul(Math.imul(hi ^ low, 0x01000193) ^ high, 0x01000193);
  lo = Math.imul(Math.imul(lo ^ low, 0x5bd1e995) ^ high, 0x5bd1e995);
  digest.hi = (digest.hi ^ fmix32(hi)) >>> 0;
  digest.lo = (digest.lo ^ fmix32(lo)) >>> 0;
}

/** The digest of `members` from scratch (the invariant and tests compare it with the kept one). */
export function computeViewDigest(
  members: Iterable<{ id: NodeId; incarnation: number; live: boolean }>,
): ViewDigest {
  const digest: ViewDigest = { hi: 0, lo: 0 };
  for (const member of members)
    if (member.live) toggleMember(digest, member.id, member.incarnation);
  return digest;
}
