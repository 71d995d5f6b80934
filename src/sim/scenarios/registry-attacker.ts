/**
 * An attacker on the SimNetwork for the `registry-forgery` scenarios (issue 16): it sends a
 * forged version of a live node's partition to another node, every `periodMs` on average. It
 * knows everything public (every version on the wire: here it reads them off the nodes) and
 * holds a key of its own, no member's. Three kinds, each claiming to be the victim:
 *
 * - `forged-partition`: a data-state with the victim's partition one to five versions ahead and
 *   a service row added, signed with the attacker's key;
 * - `forged-delta`: a data-gossip delta that continues the version the target holds, adding a
 *   row, signed with the attacker's key;
 * - `replayed-signature`: the victim's partition one version ahead with the victim's genuine
 *   signature of the version the target holds (a signature covers its version and rows).
 *
 * It draws from its own forked stream, so adding it disturbs no node's randomness.
 */
import type { Address } from '../../base/address.js';
import type { Rng } from '../../base/rng.js';
import { registryConfig } from '../../crdt/registry/config.js';
import { registryWire } from '../../crdt/registry/protocol.js';
import type { Partition, RegistryMessage, RegistryState, Row } from '../../crdt/registry/types.js';
import { rowId } from '../../crdt/registry/types.js';
import { memberCrypto, type SigningIdentity } from '../../identity/member-crypto.js';
import type { SimWorld } from '../runner.js';
import { simAddress } from '../trace.js';
import { SIM_CLUSTER_ID, simIdentityFrom } from './sim-node.js';

export const REGISTRY_ATTACKER_ADDRESS: Address = simAddress('registry-attacker');

export const REGISTRY_FORGERY_KINDS = [
  'forged-partition',
  'forged-delta',
  'replayed-signature',
] as const;
export type RegistryForgeryKind = (typeof REGISTRY_FORGERY_KINDS)[number];

export interface RegistryTarget {
  readonly name: string;
  readonly address: Address;
  readonly state: RegistryState;
}

export interface RegistryAttackerOptions {
  periodMs: number;
  targets: () => readonly RegistryTarget[];
  active: () => boolean;
}

export class RegistryAttacker {
  readonly sent = new Map<RegistryForgeryKind, number>();
  private readonly rng: Rng;
  private readonly identity: SigningIdentity;
  private readonly wire = registryWire(SIM_CLUSTER_ID, registryConfig('simMin'));

  constructor(
    private readonly world: SimWorld,
    private readonly options: RegistryAttackerOptions,
  ) {
    this.rng = world.rng.fork('registry-attacker');
    this.identity = simIdentityFrom(this.rng.fork('key'));
    world.network.attach(REGISTRY_ATTACKER_ADDRESS, () => undefined);
  }

  start(): void {
    this.schedule();
  }

  sentTotal(): number {
    let total = 0;
    for (const n of this.sent.values()) total += n;
    return total;
  }

  private schedule(): void {
    const delayMs = 1 + this.rng.int(2 * this.options.periodMs);
    this.world.clock.at(this.world.clock.now() + delayMs, () => {
      if (!this.options.active()) return;
      this.strike();
      this.schedule();
    });
  }

  private forgedRow(seq: number, stamp: Row['stamp']): Row {
    return {
      table: 'service',
      key: `forged-${this.rng.int(3)}`,
      seq,
      stamp,
      value: { address: 'attacker:666', tags: [], weight: 9 },
    };
  }

  private strike(): void {
    const targets = this.options.targets();
    if (targets.length < 2) return;
    const to = this.rng.pick(targets);
    const victim = this.rng.pick(targets.filter((t) => t !== to)).state;
    const held =
      to.state.partitions.get(victim.selfId) ?? (victim.partitions.get(victim.selfId) as Partition);
    const kind = this.rng.pick(REGISTRY_FORGERY_KINDS);
    const message = this.forge(kind, victim, held);
    this.sent.set(kind, (this.sent.get(kind) ?? 0) + 1);
    this.world.trace.add(
      `registry attacker ${kind} to ${to.name} about ${victim.selfId.slice(0, 8)}`,
    );
    this.world.network.send(
      REGISTRY_ATTACKER_ADDRESS,
      to.address,
      message.type === 'data-gossip' ? 'packet' : 'stream',
      this.wire.encode(message, 'stream'),
    );
  }

  private forge(
    kind: RegistryForgeryKind,
    victim: RegistryState,
    held: Partition,
  ): RegistryMessage {
    const ownSignature = memberCrypto(this.identity).sign(Uint8Array.from([this.rng.int(256)]));
    const stamp = { wallMs: held.epoch.wallMs, logical: held.epoch.logical + 1 };
    if (kind === 'forged-delta') {
      const row = this.forgedRow(held.seq + 1, stamp);
      return {
        type: 'data-gossip',
        from: victim.selfId,
        deltas: [
          {
            owner: victim.selfId,
            epoch: held.epoch,
            fromSeq: held.seq,
            toSeq: held.seq + 1,
            upserts: [row],
            removals: [],
            signature: ownSignature,
          },
        ],
      };
    }
    const seq = held.seq + 1 + (kind === 'forged-partition' ? this.rng.int(5) : 0);
    const rows = new Map(held.rows);
    if (kind === 'forged-partition') {
      const row = this.forgedRow(seq, stamp);
      rows.set(rowId(row.table, row.key), row);
    }
    const signature =
      kind === 'replayed-signature' && held.signature !== undefined ? held.signature : ownSignature;
    return {
      type: 'data-state',
      from: victim.selfId,
      reply: false,
      partitions: [{ owner: victim.selfId, epoch: held.epoch, seq, rows, signature }],
      tombstones: [],
      want: [],
    };
  }
}
