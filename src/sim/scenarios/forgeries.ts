/**
 * The forgeries of issue 12, as messages (shared by the simulator's attacker, attacker.ts, and
 * the real-socket hostile suite, test/security/): what a sender can make that reaches every
 * member's cluster port and knows everything public (every member's id, address, current
 * incarnation and genuine records) but holds no member's private key, only one of its own:
 *
 * | kind | what it sends | what must stop it (the counter that moves) |
 * | --- | --- | --- |
 * | `forged-left` | the victim's `left` at INCARNATION_MAX − 2, signed with the attacker's key | signature (`signaturesInvalid`) |
 * | `huge-incarnation` | the victim's `left` at 2^53 − 3 (issue 12's eviction) | the ceiling (`incarnationsRefused`) |
 * | `dead-from-stranger` | `dead` of the victim at its incarnation, by the attacker's own id | accuser not a member (`accusationsRefused`) |
 * | `dead-in-members-name` | `dead` of the victim by another member, signed by the attacker | signature, or incarnation not held (`signaturesInvalid`, `accusationsRefused`) |
 * | `moved-address` | the victim's alive one incarnation up, at the attacker's address | signature (`signaturesInvalid`) |
 * | `renamed` | the victim's alive one incarnation up, under another name | signature (`signaturesInvalid`) |
 * | `phantom` | an alive of a made-up id, carrying the attacker's key | key does not hash to the id (`keysMismatched`) |
 * | `phantoms-by-push-pull` | a join push-pull of 100 phantoms, from the attacker's id | no record of its sender (`pushPullsRefused`) |
 * | `forged-claim` | the victim's alive with leader claim 999999999999999, signed by the attacker | signature (`signaturesInvalid`) |
 * | `phantom-leader` | a member of the attacker's own key (self-certified) claiming leader term 999999999999999 | the claim is above TERM_MAX: the record is refused whole (`labelsRejected`) |
 * | `ping-req-reflector` | a ping-req from the attacker's id about the victim | requester not a member (`pingReqsRefused`) |
 * | `forged-ack` | an ack from the victim with a guessed sequence number | unknown sequence (`acksUnexpected`) |
 * | `replay` | a genuine record the attacker saw earlier, unchanged | nothing to stop: it is true, and stale by now |
 *
 * A target is what the wire shows of a member (`Target`): the simulator builds it from the
 * member's state (`targetOf`), the hostile suite over real processes from its public parts
 * (HTTP API and public key).
 */
import type { Address } from '../../base/address.js';
import type { Rng } from '../../base/rng.js';
import { incarnation as toIncarnation } from '../../base/units.js';
import { memberCrypto, publicKeyHex, type SigningIdentity } from '../../identity/member-crypto.js';
import type { NodeId } from '../../identity/node-id.js';
import type { MemberRecord, Message, RecordUpdate, Update } from '../../membership/messages.js';
import { INCARNATION_MAX, signAccusation, signRecord } from '../../membership/record.js';
import { heldRecord } from '../../membership/state.js';
import type { CounterName, State } from '../../membership/types.js';

export const FORGERY_KINDS = [
  'forged-left',
  'huge-incarnation',
  'dead-from-stranger',
  'dead-in-members-name',
  'moved-address',
  'renamed',
  'phantom',
  'phantoms-by-push-pull',
  'forged-claim',
  'phantom-leader',
  'ping-req-reflector',
  'forged-ack',
  'replay',
] as const;
export type ForgeryKind = (typeof FORGERY_KINDS)[number];

/** The counters (any of them) that must move on a member that receives each kind. */
export const FORGERY_COUNTERS: Readonly<Record<ForgeryKind, readonly CounterName[]>> = {
  'forged-left': ['signaturesInvalid'],
  'huge-incarnation': ['incarnationsRefused'],
  'dead-from-stranger': ['accusationsRefused'],
  'dead-in-members-name': ['signaturesInvalid', 'accusationsRefused'],
  'moved-address': ['signaturesInvalid'],
  renamed: ['signaturesInvalid'],
  phantom: ['keysMismatched'],
  'phantoms-by-push-pull': ['pushPullsRefused'],
  'forged-claim': ['signaturesInvalid'],
  'phantom-leader': ['labelsRejected'],
  'ping-req-reflector': ['pingReqsRefused'],
  'forged-ack': ['acksUnexpected'],
  replay: [],
};

/** Phantoms in a `phantoms-by-push-pull` view (issue 12 added 100 that spread and stayed). */
export const PHANTOMS_PER_PUSH_PULL = 100;
/** The leader term a phantom claims: issue 12's, above TERM_MAX (2^48 - 1). */
export const PHANTOM_CLAIM = '999999999999999';

/** A member's record as anyone on the wire sees it, without its signature. */
export type PublicRecord = Omit<RecordUpdate, 'signature'>;

/** What the forger sees of a running member. */
export interface Target {
  name: string;
  address: Address;
  /** Its current record (public knowledge: gossiped to every member). */
  record: PublicRecord;
  /** The same record signed, when the forger saw it whole (kept for `replay`). */
  signed?: RecordUpdate | undefined;
  /** Its cluster-wide configuration fingerprint (every push-pull carries it). */
  fingerprint: string;
}

/** A running member's target, from its state. */
export function targetOf(name: string, address: Address, state: State): Target {
  const signed = heldRecord(state.members.at(0));
  return { name, address, record: signed, signed, fingerprint: state.fingerprint };
}

/** Everything one forgery needs: who forges (and with what key), to whom, about whom. */
export interface Forger {
  rng: Rng;
  identity: SigningIdentity;
  /** Where the forger says it is (and where a forged record would move its victim). */
  address: Address;
  clusterId: string;
  /** Genuine records seen earlier (for `replay`). */
  seen: readonly RecordUpdate[];
}

export interface Forgery {
  message: Message;
  channel: 'packet' | 'stream';
}

/**
 * One forgery of `kind`, sent to `to`, about `victim` (another member; `members` is everyone
 * running). Undefined when there is nothing to send (a replay with nothing seen yet).
 */
export function forge(
  forger: Forger,
  kind: ForgeryKind,
  to: Target,
  victim: Target,
  members: readonly Target[],
): Forgery | undefined {
  const me = forger.identity.nodeId;
  const gossip = (updates: Update[]): Forgery => ({
    channel: 'packet',
    message: { type: 'gossip', from: me, updates },
  });
  const self = victim.record;
  switch (kind) {
    case 'forged-left':
      return gossip([record(forger, victim, 'left', INCARNATION_MAX - 2)]);
    case 'huge-incarnation':
      return gossip([record(forger, victim, 'left', 2 ** 53 - 3)]);
    case 'dead-from-stranger':
      return gossip([accusation(forger, victim, me)]);
    case 'dead-in-members-name': {
      const accuser = forger.rng.pick(members.filter((t) => t !== victim));
      return gossip([accusation(forger, victim, accuser.record.id)]);
    }
    case 'moved-address':
      return gossip([
        record(forger, victim, 'alive', self.incarnation + 1, { address: forger.address }),
      ]);
    case 'renamed':
      return gossip([
        record(forger, victim, 'alive', self.incarnation + 1, { name: `${self.name}-forged` }),
      ]);
    case 'phantom':
      return gossip([phantom(forger, forger.rng.int(1_000_000))]);
    case 'phantoms-by-push-pull':
      return { channel: 'stream', message: phantomPushPull(forger, to) };
    case 'forged-claim':
      return gossip([
        record(forger, victim, 'alive', self.incarnation + 1, {
          labels: { 'shoal.leader-term': PHANTOM_CLAIM },
        }),
      ]);
    case 'phantom-leader':
      return gossip([
        signRecord(memberCrypto(forger.identity), forger.clusterId, 'alive', {
          id: me,
          incarnation: toIncarnation(1),
          name: 'phantom-leader',
          address: forger.address,
          labels: { 'shoal.leader-term': PHANTOM_CLAIM },
          publicKey: publicKeyHex(forger.identity),
          certificate: undefined,
        }),
      ]);
    case 'ping-req-reflector':
      return {
        channel: 'packet',
        message: { type: 'ping-req', seq: 1, from: me, target: self.id, nack: true, updates: [] },
      };
    case 'forged-ack':
      return {
        channel: 'packet',
        message: { type: 'ack', seq: forger.rng.int(1 << 16), from: self.id, updates: [] },
      };
    case 'replay': {
      const old = forger.seen.length === 0 ? undefined : forger.rng.pick(forger.seen);
      return old === undefined ? undefined : gossip([old]);
    }
  }
}

/** The victim's record as it stands, changed as `fields` say, at `incarnation`, signed by the forger. */
function record(
  forger: Forger,
  victim: Target,
  kind: 'alive' | 'left',
  incarnation: number,
  fields: Partial<Pick<RecordUpdate, 'address' | 'labels' | 'name'>> = {},
): RecordUpdate {
  const { kind: _kind, ...rest } = victim.record;
  return signRecord(memberCrypto(forger.identity), forger.clusterId, kind, {
    ...rest,
    ...fields,
    incarnation: toIncarnation(incarnation),
  });
}

/** `dead` of the victim at its current incarnation, in `from`'s name, signed by the forger. */
function accusation(forger: Forger, victim: Target, from: NodeId): Update {
  return signAccusation(memberCrypto(forger.identity), forger.clusterId, {
    kind: 'dead',
    id: victim.record.id,
    incarnation: victim.record.incarnation,
    from,
  });
}

/** A member that does not exist: a made-up id with the forger's key. */
function phantom(forger: Forger, n: number): RecordUpdate {
  const id = n.toString(16).padStart(32, 'f') as NodeId;
  return signRecord(memberCrypto(forger.identity), forger.clusterId, 'alive', {
    id,
    incarnation: toIncarnation(1),
    name: `phantom-${n}`,
    address: forger.address,
    labels: {},
    publicKey: publicKeyHex(forger.identity),
    certificate: undefined,
  });
}

/** A join push-pull of PHANTOMS_PER_PUSH_PULL phantoms, from the forger's own id (without a record of it). */
function phantomPushPull(forger: Forger, to: Target): Message {
  const members: MemberRecord[] = Array.from({ length: PHANTOMS_PER_PUSH_PULL }, (_, i) => {
    const { kind: _kind, ...fields } = phantom(forger, 2_000_000 + i);
    return { ...fields, state: 'alive', accusation: undefined };
  });
  return {
    type: 'push-pull',
    from: forger.identity.nodeId,
    fromAddress: forger.address,
    join: true,
    reply: true,
    configFingerprint: to.fingerprint,
    members,
  };
}
