/**
 * Raft's cluster configuration (thesis chapter 4; Raft paper §6): who votes, who only learns,
 * and, during a change, the joint configuration C_old,new whose every decision needs a majority
 * of BOTH voter sets (thesis §4.3). Pure values and the quorum arithmetic over them; the rules
 * for changing a configuration are config-change.ts.
 *
 * Members are slots named by address, each with the NodeId pinned there once a leader learned it
 * (docs/design/raft.md, "Bootstrap and identities"): a vote or an ack counts for a slot only
 * from the pinned NodeId, or, while the slot is unpinned (the bootstrap list names addresses),
 * from whoever speaks for that address. Quorums are majorities of slots, self included
 * (election/quorum.ts), so one address gives at most one vote whoever claims it.
 *
 * A configuration is a log entry (kind `config`) or a snapshot's `config` bytes, encoded here;
 * the only configuration that is not in the log is the bootstrap one every node derives from
 * the same `peers` list, until the first leader writes it down with its pins.
 */
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import {
  DecodeFailure,
  readAddress,
  readFlags,
  Reader,
  writeAddress,
  Writer,
  type FieldLimits,
} from '../codec/bytes.js';
import { majorityOf } from '../election/quorum.js';
import type { NodeId } from '../identity/node-id.js';

/**
 * A member's part: a voter counts in every majority; a learner (thesis §4.2.1 "non-voting
 * member") only receives the log; a `staging` member is a learner the leader promotes to voter
 * by itself once it has caught up (a voter added with `add`).
 */
export type MemberRole = 'voter' | 'learner' | 'staging';

export interface Member {
  readonly address: Address;
  /** The NodeId pinned at this address; undefined until a leader learned it (bootstrap slots). */
  readonly id: NodeId | undefined;
  readonly role: MemberRole;
}

export interface Configuration {
  /** The configuration in force (C_new during a change), sorted by address. */
  readonly members: readonly Member[];
  /**
   * Joint consensus (thesis §4.3): the voters of C_old, whose majority every election and commit
   * also needs until C_new is committed; undefined outside a voter change.
   */
  readonly outgoing: readonly Member[] | undefined;
}

/** The configuration a node boots with when neither its log nor a snapshot holds one. */
export function bootstrapConfiguration(peers: readonly Address[]): Configuration {
  const unique = [...new Set(peers)].sort();
  return {
    members: unique.map((address) => ({ address, id: undefined, role: 'voter' })),
    outgoing: undefined,
  };
}

export function isJoint(config: Configuration): boolean {
  return config.outgoing !== undefined;
}

/** The voters of C_new (or of the only configuration). */
export function incomingVoters(config: Configuration): readonly Member[] {
  return config.members.filter((m) => m.role === 'voter');
}

/** The voter sets every majority is taken of: one, or two while joint. */
export function voterSets(config: Configuration): readonly (readonly Member[])[] {
  const incoming = incomingVoters(config);
  return config.outgoing === undefined ? [incoming] : [incoming, config.outgoing];
}

/** The member at `address` in either half of the configuration (incoming first). */
export function memberAt(config: Configuration, address: Address): Member | undefined {
  return (
    config.members.find((m) => m.address === address) ??
    config.outgoing?.find((m) => m.address === address)
  );
}

/** Whether the slot at `address` votes (in C_new or, while joint, in C_old). */
export function isVoterAt(config: Configuration, address: Address): boolean {
  return voterSets(config).some((set) => set.some((m) => m.address === address));
}

/** Every address the leader replicates to: members of both halves, once each. */
export function replicaAddresses(config: Configuration): Address[] {
  const out = new Set<Address>(config.members.map((m) => m.address));
  for (const m of config.outgoing ?? []) out.add(m.address);
  return [...out].sort();
}

/**
 * Whether the slots for which `supports` holds are a majority of every voter set (thesis §4.3:
 * joint decisions need both). An empty voter set is no constraint (a node with no configuration
 * never campaigns, so this never elects anyone by itself).
 */
export function hasQuorum(config: Configuration, supports: (member: Member) => boolean): boolean {
  return voterSets(config).every((set) => {
    if (set.length === 0) return true;
    let count = 0;
    for (const m of set) if (supports(m)) count++;
    return count >= majorityOf(set.length);
  });
}

/**
 * The highest index a majority of every voter set has reached (Raft §5.3, thesis §4.3), given
 * each slot's durable match; the caller still applies the current-term rule of §5.4.2.
 */
export function quorumIndex(config: Configuration, matchOf: (member: Member) => number): number {
  let result = Number.MAX_SAFE_INTEGER;
  for (const set of voterSets(config)) {
    if (set.length === 0) continue;
    const matches = set.map(matchOf).sort((a, b) => b - a);
    result = Math.min(result, matches[majorityOf(set.length) - 1] as number);
  }
  return result === Number.MAX_SAFE_INTEGER ? 0 : result;
}

/** Members of `config` whose slot has no pinned NodeId yet. */
export function unpinned(config: Configuration): Member[] {
  return [...config.members, ...(config.outgoing ?? [])].filter((m) => m.id === undefined);
}

/** The same configuration with `pins` (address -> NodeId) applied to unpinned slots. */
export function withPins(config: Configuration, pins: ReadonlyMap<Address, NodeId>): Configuration {
  const pin = (m: Member): Member =>
    m.id === undefined && pins.has(m.address) ? { ...m, id: pins.get(m.address) } : m;
  return {
    members: config.members.map(pin),
    outgoing: config.outgoing?.map(pin),
  };
}

/** One line for traces: `v:a=id6 l:b s:c | old v:a,v:d`. */
export function describeConfiguration(config: Configuration): string {
  const one = (m: Member): string =>
    `${m.role[0]}:${m.address}${m.id === undefined ? '' : `=${m.id.slice(0, 6)}`}`;
  const incoming = config.members.map(one).join(' ') || '(empty)';
  return config.outgoing === undefined
    ? incoming
    : `${incoming} | old ${config.outgoing.map(one).join(' ')}`;
}

/** Whether two configurations are the same value. */
export function sameConfiguration(a: Configuration, b: Configuration): boolean {
  return describeConfiguration(a) === describeConfiguration(b);
}

// ---- encoding (the `data` of a config entry and a snapshot's `config`) ----

/** APPEND ONLY: member roles on disk and on the wire. */
const ROLE_NUMBERS: Record<MemberRole, number> = { voter: 0, learner: 1, staging: 2 };
const ROLES: readonly MemberRole[] = ['voter', 'learner', 'staging'];
const FLAG_PINNED = 0x01;
const FLAG_ROLE_SHIFT = 1;
const FLAG_JOINT = 0x01;
/** Smallest encoded member: a flags byte and a 4-byte address. */
const MEMBER_BYTES_MIN = 5;
/** Format version of an encoded configuration (its first byte). */
const CONFIG_FORMAT = 1;

function writeMembers(w: Writer, members: readonly Member[], countMax: number): void {
  w.count(members.length, countMax);
  for (const m of members) {
    w.u8((m.id === undefined ? 0 : FLAG_PINNED) | (ROLE_NUMBERS[m.role] << FLAG_ROLE_SHIFT));
    writeAddress(w, m.address);
    if (m.id !== undefined) w.nodeId(m.id);
  }
}

function readMembers(r: Reader, what: string): Member[] {
  const count = r.count(`${what} count`, MEMBER_BYTES_MIN);
  const members: Member[] = [];
  for (let i = 0; i < count; i++) {
    const flags = readFlags(r, FLAG_PINNED | (0x3 << FLAG_ROLE_SHIFT), `${what} flags`);
    const role = ROLES[flags >> FLAG_ROLE_SHIFT];
    if (role === undefined) throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: bad role`);
    const address = readAddress(r, `${what} address`);
    const id = (flags & FLAG_PINNED) !== 0 ? r.nodeId(`${what} id`) : undefined;
    const previous = members[members.length - 1];
    if (previous !== undefined && previous.address >= address)
      throw new DecodeFailure('ERR_DECODE_MALFORMED', `${what}: addresses not strictly sorted`);
    members.push({ address, id, role });
  }
  return members;
}

/** The canonical bytes of `config` (members sorted by address; at most `countMax` each half). */
export function encodeConfiguration(config: Configuration, countMax = 65_536): Uint8Array {
  const w = new Writer(64);
  w.u8(CONFIG_FORMAT);
  w.u8(config.outgoing === undefined ? 0 : FLAG_JOINT);
  writeMembers(w, config.members, countMax);
  if (config.outgoing !== undefined) writeMembers(w, config.outgoing, countMax);
  return w.finish();
}

/**
 * Reads a configuration; throws `DecodeFailure` (ERR_DECODE_*) for bytes Shoal did not write, so
 * the codec refuses a message that carries one, and the store refuses such a file.
 */
export function readConfiguration(r: Reader): Configuration {
  const format = r.u8('config format');
  if (format !== CONFIG_FORMAT)
    throw new DecodeFailure('ERR_DECODE_MALFORMED', `config format ${format} is not 1`);
  const flags = readFlags(r, FLAG_JOINT, 'config flags');
  const members = readMembers(r, 'member');
  const outgoing = (flags & FLAG_JOINT) !== 0 ? readMembers(r, 'outgoing member') : undefined;
  if (outgoing?.some((m) => m.role !== 'voter'))
    throw new DecodeFailure('ERR_DECODE_MALFORMED', 'outgoing members are voters only');
  return { members, outgoing };
}

const CONFIG_LIMITS: FieldLimits = { decodeListCountMax: 65_536, decodeStringBytesMax: 4096 };

/** Decodes a whole configuration value (the core's own bytes: a failure is a bug or corruption). */
export function decodeConfiguration(bytes: Uint8Array): Configuration {
  const r = new Reader(bytes, CONFIG_LIMITS);
  try {
    const config = readConfiguration(r);
    r.end();
    return config;
  } catch (err) {
    if (err instanceof DecodeFailure) assert(false, `bad configuration bytes: ${err.detail}`);
    throw err;
  }
}

/** Whether `bytes` decode as a configuration (the codec's check on a config entry's data). */
export function checkConfigurationBytes(bytes: Uint8Array, limits: FieldLimits): void {
  const r = new Reader(bytes, limits);
  readConfiguration(r);
  r.end();
}
