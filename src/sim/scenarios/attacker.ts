/**
 * An attacker endpoint on the SimNetwork (issue 12): it sends one forgery of forgeries.ts at a
 * time, at a random running member, about another one, every `periodMs` on average, while the
 * scenario lets it. It knows everything public (and keeps the genuine records it saw, to replay
 * them) but holds no member's private key. It draws from its own forked stream, so adding it
 * disturbs no node's randomness.
 */
import type { Address } from '../../base/address.js';
import type { Rng } from '../../base/rng.js';
import type { SigningIdentity } from '../../identity/member-crypto.js';
import { encodeMessage } from '../../membership/codec.js';
import type { RecordUpdate } from '../../membership/messages.js';
import type { SimWorld } from '../runner.js';
import { simAddress } from '../trace.js';
import { FORGERY_KINDS, forge, type ForgeryKind, type Target } from './forgeries.js';
import { SIM_CLUSTER_ID, simIdentityFrom } from './sim-node.js';

export {
  FORGERY_COUNTERS,
  FORGERY_KINDS,
  targetOf,
  type ForgeryKind,
  type Target,
} from './forgeries.js';

/** The attacker's address on the simulated network. */
export const ATTACKER_ADDRESS: Address = simAddress('attacker');

/** Genuine records kept for replays: the last few seen. */
const SEEN_MAX = 16;

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
    const forger = {
      rng: this.rng,
      identity: this.identity,
      address: ATTACKER_ADDRESS,
      clusterId: SIM_CLUSTER_ID,
      seen: this.seen,
    };
    const forged = forge(forger, kind, to, victim, targets);
    if (this.seen.length >= SEEN_MAX) this.seen.shift();
    if (victim.signed !== undefined) this.seen.push(victim.signed);
    if (forged === undefined) return;
    this.sent.set(kind, (this.sent.get(kind) ?? 0) + 1);
    this.world.trace.add(`attacker ${kind} to ${to.name} about ${victim.name}`);
    this.world.network.send(
      ATTACKER_ADDRESS,
      to.address,
      forged.channel,
      encodeMessage(forged.message, SIM_CLUSTER_ID),
    );
  }
}
