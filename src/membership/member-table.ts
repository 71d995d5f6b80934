/**
 * The member table: every member a node knows, as a struct of arrays indexed by a dense slot,
 * with an open-addressing hash index from NodeId to slot. Why not a `Map<NodeId, Member>` of
 * objects: every simulated node holds every member, so at 10,000 members the simulator keeps 10⁸
 * records, and an object plus a Map entry per record (~130 B, 10⁸ heap objects for every major GC
 * to trace) did not fit in 19 GB. Here a record is a few array cells (~60 B, see
 * docs/design/simulator.md "Scale") and a table is a dozen objects whatever its size.
 *
 * Slots are dense, 0..size-1: `remove` moves the last member into the freed slot (swap-remove),
 * so a uniformly random member is `at(rng.int(size))`, O(1). Self is inserted first and never
 * removed, so it keeps slot 0. A `Member` is a small accessor over one slot (getters and setters
 * over the columns): it stays valid until the next `remove` (which may move another member into
 * its slot), so callers never keep one across a removal (membership removes only when reaping).
 *
 * The index is an Int32Array of slot+1 (0 = empty), capacity a power of two kept at most 3/4
 * full, linear probing, deletion by backward shift (no tombstones, so lookups never slow down
 * with churn). NodeIds from the wire are 32 lowercase hex characters, but local ids and tests may
 * be any string, so the hash reads the whole string rather than trusting a prefix. Any member can
 * announce ids it made up, so the hash is seeded (`reseed`, from the node's rng at start, as
 * V8 seeds its own Map hash): ids crafted to collide would turn linear probing quadratic.
 */
import { assert } from '../base/assert.js';
import type { Address } from '../base/address.js';
import type { Millis } from '../base/time.js';
import type { Incarnation } from '../base/units.js';
import type { Accusation, Certificate, Labels } from './messages.js';
import type { NodeId } from '../identity/node-id.js';
import type { PublicKey, Signature } from '../identity/signed.js';
import type { MemberState, MemberView, Suspicion } from './types.js';

/** State codes of the `states` column, in the order of the MemberState union. */
const STATE_NAMES: readonly MemberState[] = ['joining', 'alive', 'suspect', 'dead', 'left'];
const STATE_CODES: Readonly<Record<MemberState, number>> = {
  joining: 0,
  alive: 1,
  suspect: 2,
  dead: 3,
  left: 4,
};

const CAPACITY_MIN = 8;
/** Placeholder for unused cells of the pointer columns: keeps them packed arrays of one kind. */
const NO_TEXT = '';
const NO_LABELS: Labels = Object.freeze({});

/** The fields of a new member; labels must already be owned (state.ts `ownLabels`). */
export interface MemberFields {
  id: NodeId;
  name: string;
  address: Address;
  state: MemberState;
  incarnation: Incarnation;
  labels: Labels;
  stateChangedAtMs: Millis;
  /** The member's key and its signature of the record held (alive, or left when state is left). */
  publicKey: PublicKey;
  signature: Signature;
  certificate: Certificate | undefined;
}

/** A 32-bit hash of the whole string under `seed`: multiply-xor over the UTF-16 units, then murmur3's finalizer. */
export function hashId(id: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) | 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * One member, read and written through its table's columns. `suspicion` is present exactly when
 * `state` is `suspect` (invariants.ts); assigning `undefined` clears it.
 */
export class Member implements MemberView {
  readonly #table: MemberTable;
  readonly slot: number;

  constructor(table: MemberTable, slot: number) {
    this.#table = table;
    this.slot = slot;
  }

  get id(): NodeId {
    return this.#table.ids[this.slot] as NodeId;
  }
  get name(): string {
    return this.#table.names[this.slot] as string;
  }
  set name(value: string) {
    this.#table.names[this.slot] = value;
  }
  get address(): Address {
    return this.#table.addresses[this.slot] as Address;
  }
  set address(value: Address) {
    this.#table.addresses[this.slot] = value;
  }
  get labels(): Labels {
    return this.#table.labels[this.slot] as Labels;
  }
  set labels(value: Labels) {
    this.#table.labels[this.slot] = value;
  }
  get state(): MemberState {
    return STATE_NAMES[this.#table.states[this.slot] as number] as MemberState;
  }
  set state(value: MemberState) {
    this.#table.states[this.slot] = STATE_CODES[value];
  }
  get incarnation(): Incarnation {
    return this.#table.incarnations[this.slot] as Incarnation;
  }
  set incarnation(value: Incarnation) {
    this.#table.incarnations[this.slot] = value;
  }
  get stateChangedAtMs(): Millis {
    return this.#table.stateChangedAtMs[this.slot] as Millis;
  }
  set stateChangedAtMs(value: Millis) {
    this.#table.stateChangedAtMs[this.slot] = value;
  }
  get publicKey(): PublicKey {
    return this.#table.publicKeys[this.slot] as PublicKey;
  }
  set publicKey(value: PublicKey) {
    this.#table.publicKeys[this.slot] = value;
  }
  /** The member's own signature of the record held: its alive record, or its left one once left. */
  get signature(): Signature {
    return this.#table.signatures[this.slot] as Signature;
  }
  set signature(value: Signature) {
    this.#table.signatures[this.slot] = value;
  }
  get certificate(): Certificate | undefined {
    return this.#table.certificates[this.slot];
  }
  set certificate(value: Certificate | undefined) {
    this.#table.certificates[this.slot] = value;
  }
  /**
   * The accusation that holds the member suspect or dead at its incarnation (present exactly
   * then, invariants.ts); assigning `undefined` clears it.
   */
  get accusation(): Accusation | undefined {
    return this.#table.accusations.get(this.id);
  }
  set accusation(value: Accusation | undefined) {
    if (value === undefined) this.#table.accusations.delete(this.id);
    else this.#table.accusations.set(this.id, value);
  }
  get suspicion(): Suspicion | undefined {
    return this.#table.suspicions.get(this.id);
  }
  set suspicion(value: Suspicion | undefined) {
    if (value === undefined) this.#table.suspicions.delete(this.id);
    else this.#table.suspicions.set(this.id, value);
  }
}

/**
 * The columns are public for `Member` and for allocation-free loops over slots (push-pull's
 * `localRecords`); everything else goes through `get`, `at` and `Member`. Only this file writes
 * `ids` and resizes the columns.
 */
export class MemberTable {
  ids: NodeId[] = [];
  names: string[] = [];
  addresses: Address[] = [];
  labels: Labels[] = [];
  states = new Uint8Array(0);
  /** Float64: incarnations are safe integers, beyond what an Int32 holds. */
  incarnations = new Float64Array(0);
  stateChangedAtMs = new Float64Array(0);
  /** Hex strings, interned by the decoder: a simulated cluster shares one copy per record. */
  publicKeys: PublicKey[] = [];
  signatures: Signature[] = [];
  certificates: (Certificate | undefined)[] = [];
  /** Only suspects have one, so a side map keyed by id (it survives the slot moves of `remove`). */
  readonly suspicions = new Map<NodeId, Suspicion>();
  /** Only suspect and dead members have one; a side map like `suspicions`. */
  readonly accusations = new Map<NodeId, Accusation>();
  #size = 0;
  #capacity = 0;
  /** slot + 1 per cell, 0 when empty; length a power of two. */
  #index = new Int32Array(CAPACITY_MIN * 2);
  #seed = 0;
  #lastHashed = NO_TEXT;
  #lastHash = hashId(NO_TEXT);

  constructor(capacity = CAPACITY_MIN) {
    this.#resize(Math.max(CAPACITY_MIN, capacity));
  }

  get size(): number {
    return this.#size;
  }

  /** Whether the member in `slot` is live (alive or suspect), read straight from the column. */
  isLive(slot: number): boolean {
    const code = this.states[slot];
    return code === STATE_CODES.alive || code === STATE_CODES.suspect;
  }

  /** Whether the member in `slot` is alive (live and not suspected). */
  isAlive(slot: number): boolean {
    return this.states[slot] === STATE_CODES.alive;
  }

  /** The slot of `id`, or -1. */
  slotOf(id: NodeId): number {
    const entry = this.#index[this.#cellOf(id)] as number;
    return entry - 1;
  }

  /** The index cell holding `id`, or the empty cell ending its probe run (where it would go). */
  #cellOf(id: NodeId): number {
    const mask = this.#index.length - 1;
    for (let cell = this.#hash(id) & mask; ; cell = (cell + 1) & mask) {
      const entry = this.#index[cell] as number;
      if (entry === 0 || this.ids[entry - 1] === id) return cell;
    }
  }

  /**
   * `hashId` with a one-entry memo: an update is looked up and then inserted or changed under the
   * same id string, so the second hash is a pointer comparison.
   */
  #hash(id: NodeId): number {
    if (id !== this.#lastHashed) {
      this.#lastHashed = id;
      this.#lastHash = hashId(id, this.#seed);
    }
    return this.#lastHash;
  }

  has(id: NodeId): boolean {
    return this.slotOf(id) >= 0;
  }

  get(id: NodeId): Member | undefined {
    const slot = this.slotOf(id);
    return slot < 0 ? undefined : new Member(this, slot);
  }

  /** The member at `slot` (0 <= slot < size); slot 0 is the first member inserted. */
  at(slot: number): Member {
    assert(
      slot >= 0 && slot < this.#size,
      `MemberTable.at: slot ${slot} out of range (size ${this.#size})`,
    );
    return new Member(this, slot);
  }

  /** Changes the hash seed (rebuilding the index, O(size)): the driver's rng picks it at start. */
  reseed(seed: number): void {
    this.#seed = seed | 0;
    this.#lastHash = hashId(this.#lastHashed, this.#seed);
    this.#rehash(this.#index.length);
  }

  /** Makes room for `count` members in total without further growth (a join's full view at once). */
  reserve(count: number): void {
    if (count > this.#capacity) this.#resize(count);
  }

  /** Adds a member that is not in the table; returns it (at slot `size - 1`). */
  insert(fields: MemberFields): Member {
    // Grow by half: the columns' slack, not the records, is what a doubling would waste at 10⁸ records.
    if (this.#size === this.#capacity) this.#resize(Math.ceil(this.#capacity * 1.5));
    const cell = this.#cellOf(fields.id);
    assert(this.#index[cell] === 0, `MemberTable.insert: ${fields.id} is already a member`);
    const slot = this.#size++;
    this.#index[cell] = slot + 1;
    this.ids[slot] = fields.id;
    this.names[slot] = fields.name;
    this.addresses[slot] = fields.address;
    this.labels[slot] = fields.labels;
    this.states[slot] = STATE_CODES[fields.state];
    this.incarnations[slot] = fields.incarnation;
    this.stateChangedAtMs[slot] = fields.stateChangedAtMs;
    this.publicKeys[slot] = fields.publicKey;
    this.signatures[slot] = fields.signature;
    this.certificates[slot] = fields.certificate;
    return new Member(this, slot);
  }

  /** Removes `id` (and its suspicion); the last member moves into its slot. */
  remove(id: NodeId): void {
    const slot = this.slotOf(id);
    assert(slot >= 0, `MemberTable.remove: ${id} is not a member`);
    this.suspicions.delete(id);
    this.accusations.delete(id);
    this.#unlink(id);
    const last = --this.#size;
    if (slot !== last) {
      const moved = this.ids[last] as NodeId;
      this.ids[slot] = moved;
      this.names[slot] = this.names[last] as string;
      this.addresses[slot] = this.addresses[last] as Address;
      this.labels[slot] = this.labels[last] as Labels;
      this.states[slot] = this.states[last] as number;
      this.incarnations[slot] = this.incarnations[last] as number;
      this.stateChangedAtMs[slot] = this.stateChangedAtMs[last] as number;
      this.publicKeys[slot] = this.publicKeys[last] as PublicKey;
      this.signatures[slot] = this.signatures[last] as Signature;
      this.certificates[slot] = this.certificates[last];
      this.#relink(moved, slot);
    }
    // Drop the references so a forgotten member's strings can be collected.
    this.ids[last] = NO_TEXT as NodeId;
    this.names[last] = NO_TEXT;
    this.addresses[last] = NO_TEXT as Address;
    this.labels[last] = NO_LABELS;
    this.publicKeys[last] = NO_TEXT as PublicKey;
    this.signatures[last] = NO_TEXT as Signature;
    this.certificates[last] = undefined;
  }

  /**
   * Every member, in slot order. Removing the member just yielded is safe (the member moved into
   * its slot is yielded next); removing any other member while iterating is not supported.
   */
  *values(): IterableIterator<Member> {
    for (let slot = 0; slot < this.#size;) {
      const id = this.ids[slot];
      yield new Member(this, slot);
      if (this.ids[slot] === id || slot >= this.#size) slot++;
    }
  }

  /** Every member id, in slot order (same removal rule as `values`). */
  *keys(): IterableIterator<NodeId> {
    for (const member of this.values()) yield member.id;
  }

  /** Points the index cell of `id` at slot `to` (swap-remove moved it there). */
  #relink(id: NodeId, to: number): void {
    this.#index[this.#cellOf(id)] = to + 1;
  }

  /** Empties the cell of `id` and shifts later cells of the run back (Knuth's algorithm R), so no tombstones. */
  #unlink(id: NodeId): void {
    const index = this.#index;
    const mask = index.length - 1;
    let hole = this.#cellOf(id);
    for (let cell = (hole + 1) & mask; index[cell] !== 0; cell = (cell + 1) & mask) {
      const entry = index[cell] as number;
      const home = hashId(this.ids[entry - 1] as NodeId, this.#seed) & mask;
      // Move the entry into the hole unless its home lies cyclically in (hole, cell].
      const stays = hole <= cell ? hole < home && home <= cell : hole < home || home <= cell;
      if (stays) continue;
      index[hole] = entry;
      hole = cell;
    }
    index[hole] = 0;
  }

  #resize(capacity: number): void {
    this.ids = copyColumn(this.ids, this.#size, capacity, NO_TEXT as NodeId);
    this.names = copyColumn(this.names, this.#size, capacity, NO_TEXT);
    this.addresses = copyColumn(this.addresses, this.#size, capacity, NO_TEXT as Address);
    this.labels = copyColumn(this.labels, this.#size, capacity, NO_LABELS);
    this.publicKeys = copyColumn(this.publicKeys, this.#size, capacity, NO_TEXT as PublicKey);
    this.signatures = copyColumn(this.signatures, this.#size, capacity, NO_TEXT as Signature);
    this.certificates = copyColumn<Certificate | undefined>(
      this.certificates,
      this.#size,
      capacity,
      undefined,
    );
    this.states = copyTyped(new Uint8Array(capacity), this.states, this.#size);
    this.incarnations = copyTyped(new Float64Array(capacity), this.incarnations, this.#size);
    this.stateChangedAtMs = copyTyped(
      new Float64Array(capacity),
      this.stateChangedAtMs,
      this.#size,
    );
    this.#capacity = capacity;
    // At most 3/4 full: linear probing stays short (expected ~2.5 probes for a miss).
    let cells = CAPACITY_MIN * 2;
    while (cells * 3 < capacity * 4) cells *= 2;
    if (cells !== this.#index.length) this.#rehash(cells);
  }

  #rehash(cells: number): void {
    this.#index = new Int32Array(cells);
    for (let slot = 0; slot < this.#size; slot++)
      this.#index[this.#cellOf(this.ids[slot] as NodeId)] = slot + 1;
  }
}

/** A packed array of exactly `capacity` cells holding the first `used` of `column`. */
function copyColumn<T>(column: readonly T[], used: number, capacity: number, fill: T): T[] {
  const out = new Array<T>(capacity).fill(fill);
  for (let i = 0; i < used; i++) out[i] = column[i] as T;
  return out;
}

function copyTyped<T extends Uint8Array | Float64Array>(out: T, from: T, used: number): T {
  out.set(from.subarray(0, used));
  return out;
}
