/**
 * An attacker endpoint on the SimNetwork (issue 12): a sender that can reach every member's
 * cluster port and knows everything public (every member's id, address, current incarnation,
 * and its genuine records), but holds no member's private key. It has a key of its own, and
 * sends one forgery of issue 12 at a time, at a random member, about another one:
 *
 * | kind | what it sends | what must stop it (the counter that moves) |
 * | --- | --- | --- |
 * | `forged-left` | the victim's `left` at INCARNATION_MAX − 2, signed with the attacker's key | signature (`signaturesInvalid`) |
 * | `huge-incarnation` | the victim's `left` at 2^53 − 3 (issue 12's eviction) | the ceiling (`incarnationsRefused`) |
 * | `dead-from-stranger` | `dead` of the victim at its incarnation, by the attacker's own id | accuser not a member (`accusationsRefused`) |
 * | `dead-in-members-name` | `dead` of the victim by another member, signed by the attacker | signature, or incarnation not held (`signaturesInvalid`, `accusationsRefused`) |
 * | `moved-address` | the victim's alive one incarnation up, at the attacker's address | signature (`signaturesInvalid`) |
 * | `phantom` | an alive of a made-up id, carrying the attacker's key | key does not hash to the id (`keysMismatched`) |
 * | `phantoms-by-push-pull` | a push-pull of 20 phantoms, from the attacker's id | no record of its sender (`pushPullsRefused`) |
 * | `forged-claim` | the victim's alive with leader claim 999999999999999, signed by the attacker | signature (`signaturesInvalid`) |
 * | `ping-req-reflector` | a ping-req from the attacker's id about the victim | requester not a member (`pingReqsRefused`) |
 * | `forged-ack` | an ack from the victim with a guessed sequence number | unknown sequence (`acksUnexpected`) |
 * | `replay` | a genuine record the attacker saw earlier, unchanged | nothing to stop: it is true, and stale by now |
 *
 * It draws from its own forked stream, so adding it disturbs no node's randomness.
 */
import type { Address } from '../../base/address.js';
import type { Rng } from '../../base/rng.js';
import { incarnation as toIncarnation } from '../../base/units.js';
import { memberCrypto, publicKeyHex, type SigningIdentity } from '../../identity/member-crypto.js';
import type { NodeId } from '../../identity/node-id.js';
import { encodeMessage } from '../../membership/codec.js';
import type { MemberRecord, Message, RecordUpdate, Update } from '../../membership/messages.js';
import { INCARNATION_MAX, signAccusation, signRecord } from '../../membership/record.js';
import { heldRecord } from '../../membership/state.js';
import type { CounterName, State } from '../../membership/types.js';
import type { SimWorld } from '../runner.js';
import { simAddress } from '../trace.js';
import { SIM_CLUSTER_ID, simIdentityFrom } from './sim-node.js';

export const FORGERY_KINDS = [
  'forged-left',
  'huge-incarnation',
  'dead-from-stranger',
  'dead-in-members-name',
  'moved-address',
  'phantom',
  'phantoms-by-push-pull',
  'forged-claim',
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
  phantom: ['keysMismatched'],
  'phantoms-by-push-pull': ['pushPullsRefused'],
  'forged-claim': ['signaturesInvalid'],
  'ping-req-reflector': ['pingReqsRefused'],
  'forged-ack': ['acksUnexpected'],
  replay: [],
};

/** The attacker's address on the simulated network. */
export const ATTACKER_ADDRESS: Address = simAddress('attacker');

/** What the attacker sees of a running member. */
export interface Target {
  name: string;
  address: Address;
  /** The member's own state: its id, incarnation and genuine record (public knowledge). */
  state: State;
}

export interface AttackerOptions {
  /** Mean time between two forgeries, virtual ms. */
  periodMs: number;
  /** The members that are up now. */
  targets: () => readonly Target[];
  /** Whether it may attack now (the scenario stops it for the liveness phase). */
  active: () => boolean;
}

export class Attacker {
  /** Forgeries sent, by kind. */
  readonly sent = new Map<ForgeryKind, number>();
  private readonly rng: Rng;
  private readonly identity: SigningIdentity;
  /** Genuine records seen earlier, for replays (bounded: the last few). */
  private readonly seen: RecordUpdate[] = [];

  constructor(
    private readonly world: SimWorld,
    private readonly options: AttackerOptions,
  ) {
    this.rng = world.rng.fork('attacker');
    this.identity = simIdentityFrom(this.rng.fork('key'));
    // Attached like any endpoint (a sender must be), it ignores what it is sent.
    world.network.attach(ATTACKER_ADDRESS, () => undefined);
  }

  get id(): NodeId {
    return this.identity.nodeId;
  }

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    const delayMs = 1 + this.rng.int(2 * this.options.periodMs);
    this.world.clock.at(this.world.clock.now() + delayMs, () => {
      if (!this.options.active()) return;
      this.strike();
      this.schedule();
    });
  }

  private strike(): void {
    const targets = this.options.targets();
    if (targets.length < 2) return;
    const to = this.rng.pick(targets);
    const victim = this.rng.pick(targets.filter((t) => t !== to));
    const kind = this.rng.pick(FORGERY_KINDS);
    const forged = this.forge(kind, to, victim, targets);
    if (forged === undefined) return;
    const me = victim.state.members.at(0);
    if (this.seen.length >= 16) this.seen.shift();
    this.seen.push(heldRecord(me));
    this.sent.set(kind, (this.sent.get(kind) ?? 0) + 1);
    this.world.trace.add(`attacker ${kind} to ${to.name} about ${victim.name}`);
    this.world.network.send(
      ATTACKER_ADDRESS,
      to.address,
      forged.channel,
      encodeMessage(forged.message, SIM_CLUSTER_ID),
    );
  }

  private forge(
    kind: ForgeryKind,
    to: Target,
    victim: Target,
    targets: readonly Target[],
  ): { message: Message; channel: 'packet' | 'stream' } | undefined {
    const gossip = (updates: Update[]): { message: Message; channel: 'packet' } => ({
      channel: 'packet',
      message: { type: 'gossip', from: this.id, updates },
    });
    const self = victim.state.members.at(0);
    switch (kind) {
      case 'forged-left':
        return gossip([this.record(victim, 'left', INCARNATION_MAX - 2)]);
      case 'huge-incarnation':
        return gossip([this.record(victim, 'left', 2 ** 53 - 3)]);
      case 'dead-from-stranger':
        return gossip([this.accusation(victim, this.id)]);
      case 'dead-in-members-name': {
        const accuser = this.rng.pick(targets.filter((t) => t !== victim));
        return gossip([this.accusation(victim, accuser.state.selfId)]);
      }
      case 'moved-address':
        return gossip([
          this.record(victim, 'alive', self.incarnation + 1, { address: ATTACKER_ADDRESS }),
        ]);
      case 'phantom':
        return gossip([this.phantom(this.rng.int(1_000_000))]);
      case 'phantoms-by-push-pull':
        return { channel: 'stream', message: this.phantomPushPull(to) };
      case 'forged-claim':
        return gossip([
          this.record(victim, 'alive', self.incarnation + 1, {
            labels: { 'shoal.leader-term': '999999999999999' },
          }),
        ]);
      case 'ping-req-reflector':
        return {
          channel: 'packet',
          message: {
            type: 'ping-req',
            seq: 1,
            from: this.id,
            target: self.id,
            nack: true,
            updates: [],
          },
        };
      case 'forged-ack':
        return {
          channel: 'packet',
          message: { type: 'ack', seq: this.rng.int(1 << 16), from: self.id, updates: [] },
        };
      case 'replay': {
        const old = this.seen.length === 0 ? undefined : this.rng.pick(this.seen);
        return old === undefined ? undefined : gossip([old]);
      }
    }
  }

  /** The victim's record as it stands, changed as `fields` say, at `incarnation`, signed by the attacker. */
  private record(
    victim: Target,
    kind: 'alive' | 'left',
    incarnation: number,
    fields: Partial<Pick<RecordUpdate, 'address' | 'labels'>> = {},
  ): RecordUpdate {
    const genuine = heldRecord(victim.state.members.at(0));
    const { signature: _signature, kind: _kind, ...rest } = genuine;
    return signRecord(memberCrypto(this.identity), SIM_CLUSTER_ID, kind, {
      ...rest,
      ...fields,
      incarnation: toIncarnation(incarnation),
    });
  }

  /** `dead` of the victim at its current incarnation, in `from`'s name, signed by the attacker. */
  private accusation(victim: Target, from: NodeId): Update {
    return signAccusation(memberCrypto(this.identity), SIM_CLUSTER_ID, {
      kind: 'dead',
      id: victim.state.selfId,
      incarnation: victim.state.members.at(0).incarnation,
      from,
    });
  }

  /** A member that does not exist: a made-up id with the attacker's key. */
  private phantom(n: number): RecordUpdate {
    const id = n.toString(16).padStart(32, 'f') as NodeId;
    return signRecord(memberCrypto(this.identity), SIM_CLUSTER_ID, 'alive', {
      id,
      incarnation: toIncarnation(1),
      name: `phantom-${n}`,
      address: ATTACKER_ADDRESS,
      labels: {},
      publicKey: publicKeyHex(this.identity),
      certificate: undefined,
    });
  }

  private phantomPushPull(to: Target): Message {
    const members: MemberRecord[] = Array.from({ length: 20 }, (_, i) => {
      const { kind: _kind, ...fields } = this.phantom(2_000_000 + i);
      return { ...fields, state: 'alive', accusation: undefined };
    });
    return {
      type: 'push-pull',
      from: this.id,
      fromAddress: ATTACKER_ADDRESS,
      join: true,
      reply: true,
      configFingerprint: to.state.fingerprint,
      members,
    };
  }
}
