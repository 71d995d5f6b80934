/**
 * Consistent-hash ring with virtual nodes (Karger et al. 1997; Dynamo §4.2): every member has
 * `vnodes` points, point i of member m at XXH64(utf8(m), seed i); a key at XXH64(utf8(key), seed
 * 0) is owned by the members of the first points at or after it, clockwise, skipping members
 * already chosen. A member leaving moves only the keys it owned (about 1/N of them), to the next
 * points' owners.
 *
 * A point is one float64: its position, the top RING_POSITION_BITS (38) of the hash
 * (`ringPosition`), times 2^RING_MEMBER_BITS plus the member's index in the id-sorted view, an
 * exact integer below 2^52. So the ring is one Float64Array sorted natively (a view change
 * rebuilds 128,000 points in milliseconds) and searched by bisection, and points at an equal
 * position (about n²/2^39 odds) are ordered by member id, the same way on every member.
 */
import { assert } from '../base/assert.js';
import { compareNodeId, type NodeId } from '../identity/node-id.js';
import { xxh64StringInto } from './xxh64.js';

/** Bits of a ring position: 2^38 positions, so 1.3 million points rarely share one. */
export const RING_POSITION_BITS = 38;
/** Bits of a member index in a point: the ring places over at most 2^14 = 16,384 members. */
export const RING_MEMBER_BITS = 14;
export const RING_MEMBERS_MAX = 2 ** RING_MEMBER_BITS;

/** The top 38 bits of a 64-bit hash given as halves: an integer below 2^38. */
export function ringPosition(hi: number, lo: number): number {
  return hi * 2 ** (RING_POSITION_BITS - 32) + (lo >>> (64 - RING_POSITION_BITS));
}

/** The ring position of a key (or any text). */
export function keyPosition(key: string): number {
  const out = xxh64StringInto(key);
  return ringPosition(out[0] as number, out[1] as number);
}

/** The positions of one member's points (computed once per member and cached by the caller). */
export function memberPoints(id: NodeId, vnodes: number): Float64Array {
  const points = new Float64Array(vnodes);
  for (let i = 0; i < vnodes; i++) {
    const out = xxh64StringInto(id, 0, i);
    points[i] = ringPosition(out[0] as number, out[1] as number);
  }
  return points;
}

/** A built ring: `points` ascending, each position × 2^14 + member index into `members`. */
export interface Ring {
  readonly members: readonly NodeId[];
  readonly points: Float64Array;
}

/** Builds the ring of `members` (sorted by id, distinct, at most RING_MEMBERS_MAX) from their cached points. */
export function buildRing(
  members: readonly NodeId[],
  pointsOf: (id: NodeId) => Float64Array,
): Ring {
  assert(members.length <= RING_MEMBERS_MAX, `a ring holds at most ${RING_MEMBERS_MAX} members`);
  for (let i = 1; i < members.length; i++)
    assert(
      compareNodeId(members[i - 1] as NodeId, members[i] as NodeId) < 0,
      'ring members must be sorted and distinct',
    );
  const total = members.reduce((sum, id) => sum + pointsOf(id).length, 0);
  const points = new Float64Array(total);
  let at = 0;
  members.forEach((id, member) => {
    for (const position of pointsOf(id)) points[at++] = position * RING_MEMBERS_MAX + member;
  });
  points.sort();
  return { members, points };
}

/** The index of the first point at or after `packed`, wrapping to 0 past the last. */
function successor(points: Float64Array, packed: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] as number) < packed) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}

/** The `replicas` distinct owners of `key`, primary first (fewer when the ring has fewer members). */
export function ringOwners(ring: Ring, key: string, replicas: number): NodeId[] {
  const want = Math.min(replicas, ring.members.length);
  const out: NodeId[] = [];
  if (want === 0) return out;
  const chosen: number[] = [];
  const count = ring.points.length;
  let at = successor(ring.points, keyPosition(key) * RING_MEMBERS_MAX);
  for (let walked = 0; walked < count && chosen.length < want; walked++) {
    const member = (ring.points[at] as number) % RING_MEMBERS_MAX;
    if (!chosen.includes(member)) {
      chosen.push(member);
      out.push(ring.members[member] as NodeId);
    }
    at = at + 1 === count ? 0 : at + 1;
  }
  return out;
}
