/**
 * Consistent-hash ring with virtual nodes (Karger et al. 1997; Dynamo §4.2): every member has
 * `vnodes` points, point i of member m at XXH64(utf8(m), seed i); a key at XXH64(utf8(key), seed
 * 0) is owned by the members of the first points at or after it, clockwise, skipping members
 * already chosen. A member leaving moves only the keys it owned (about 1/N of them), to the next
 * points' owners.
 *
 * Positions are the top 52 bits of the 64-bit hash (`position52`), exact in a float64, so the
 * ring is a sorted Float64Array searched by bisection. Equal positions (about n²/2^53 odds) are
 * ordered by member id, then point index, the same way on every member.
 */
import { assert } from '../base/assert.js';
import { compareNodeId, type NodeId } from '../identity/node-id.js';
import { xxh64StringInto } from './xxh64.js';

/** The top 52 bits of a 64-bit hash given as halves: an exact integer below 2^52. */
export function position52(hi: number, lo: number): number {
  return hi * 0x100000 + (lo >>> 12);
}

/** The ring position of a key (or any text). */
export function keyPosition(key: string): number {
  const out = xxh64StringInto(key);
  return position52(out[0] as number, out[1] as number);
}

/** The positions of one member's points (computed once per member and cached by the caller). */
export function memberPoints(id: NodeId, vnodes: number): Float64Array {
  const points = new Float64Array(vnodes);
  for (let i = 0; i < vnodes; i++) {
    const out = xxh64StringInto(id, 0, i);
    points[i] = position52(out[0] as number, out[1] as number);
  }
  return points;
}

/** A built ring: `positions` ascending, `owners[i]` the index in `members` of point i's member. */
export interface Ring {
  readonly members: readonly NodeId[];
  readonly positions: Float64Array;
  readonly owners: Int32Array;
}

/** Builds the ring of `members` (sorted by id, distinct) from their cached points. */
export function buildRing(
  members: readonly NodeId[],
  pointsOf: (id: NodeId) => Float64Array,
): Ring {
  for (let i = 1; i < members.length; i++)
    assert(
      compareNodeId(members[i - 1] as NodeId, members[i] as NodeId) < 0,
      'ring members must be sorted and distinct',
    );
  // Sort the positions natively, then find each one's member: a typed-array sort of 128,000
  // points takes milliseconds where sorting objects with a comparator took most of a second.
  const total = members.reduce((sum, id) => sum + pointsOf(id).length, 0);
  const positions = new Float64Array(total);
  const byPosition = new Map<number, number[]>();
  let at = 0;
  members.forEach((id, member) => {
    for (const position of pointsOf(id)) {
      positions[at++] = position;
      const list = byPosition.get(position);
      if (list === undefined) byPosition.set(position, [member]);
      else list.push(member);
    }
  });
  positions.sort();
  // Members are sorted by id, so a shared position goes to its members in id order.
  const owners = new Int32Array(total);
  for (let i = 0; i < total;) {
    const list = byPosition.get(positions[i] as number) as number[];
    for (const member of list) owners[i++] = member;
  }
  return { members, positions, owners };
}

/** The index of the first point at or after `position`, wrapping to 0 past the last. */
function successor(positions: Float64Array, position: number): number {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((positions[mid] as number) < position) lo = mid + 1;
    else hi = mid;
  }
  return lo === positions.length ? 0 : lo;
}

/** The `replicas` distinct owners of `key`, primary first (fewer when the ring has fewer members). */
export function ringOwners(ring: Ring, key: string, replicas: number): NodeId[] {
  const want = Math.min(replicas, ring.members.length);
  const out: NodeId[] = [];
  if (want === 0) return out;
  const chosen: number[] = [];
  const points = ring.positions.length;
  let at = successor(ring.positions, keyPosition(key));
  for (let walked = 0; walked < points && chosen.length < want; walked++) {
    const member = ring.owners[at] as number;
    if (!chosen.includes(member)) {
      chosen.push(member);
      out.push(ring.members[member] as NodeId);
    }
    at = at + 1 === points ? 0 : at + 1;
  }
  return out;
}
