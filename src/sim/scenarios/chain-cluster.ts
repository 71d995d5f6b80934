/**
 * A simulated cluster of chain services alone (src/node/data-chain.ts, the production replication
 * with its real wire and Ed25519 checks) for tests and bench/chain-steady.ts: N services over
 * MemoryTransport on one SimNetwork (LAN timings unless told), each with a static view of the
 * others (all alive, with their keys), so the chains' own bytes and spread can be counted without
 * membership's traffic or its N² join. The `chain*` scenarios (chain.ts) run chains as production
 * wires them, beside membership in buildNode.
 */
import type { Address } from '../../base/address.js';
import { Rng } from '../../base/rng.js';
import type { ViewMember } from '../../crdt/registry/types.js';
import { publicKeyHex } from '../../identity/member-crypto.js';
import type { NodeId } from '../../identity/node-id.js';
import { CHAIN_CRYPTO } from '../../node/data-crypto.js';
import { chainSettings, ChainService, type ChainSettings } from '../../node/data-chain.js';
import type { MembershipView } from '../../node/data-plane.js';
import { SimClock } from '../clock.js';
import { SimNetwork } from '../network.js';
import { SimStorage } from '../storage.js';
import { simAddress } from '../trace.js';
import { MemoryTransport } from '../../transport/memory.js';
import { SIM_CLUSTER_ID, simIdentityFrom } from './sim-node.js';

/** A view that never changes: every other member alive. */
export class StaticView implements MembershipView {
  private readonly byId: Map<NodeId, ViewMember>;

  constructor(members: readonly ViewMember[], self: NodeId) {
    this.byId = new Map(members.filter((m) => m.id !== self).map((m) => [m.id, m]));
  }

  all(): ViewMember[] {
    return [...this.byId.values()];
  }

  get(id: NodeId): ViewMember | undefined {
    return this.byId.get(id);
  }

  count(): number {
    return this.byId.size;
  }
}

export interface SimChainCluster {
  clock: SimClock;
  services: ChainService[];
  /** Whether every service holds `owner`'s chain up to `seq` at least. */
  heldEverywhere(owner: NodeId, seq: number): boolean;
  /** Chain frame bytes sent by every service so far. */
  bytesSent(): number;
  halt(): void;
}

/** N chain services with static views of each other (see the module comment). */
export function simChainCluster(
  n: number,
  seed: number,
  settings: Partial<ChainSettings> = {},
): SimChainCluster {
  const rng = new Rng(seed);
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: rng.fork('network') });
  const identities = Array.from({ length: n }, (_, i) =>
    simIdentityFrom(rng.fork(`node/n${i + 1}`).fork('id')),
  );
  const view: ViewMember[] = identities.map((identity, i) => ({
    id: identity.nodeId,
    address: simAddress(`n${i + 1}`) as Address,
    state: 'alive',
    publicKey: publicKeyHex(identity),
  }));
  const resolved = chainSettings(settings);
  const services = identities.map((identity, i) => {
    const member = view[i] as ViewMember;
    const nodeClock = clock.nodeClock(member.address);
    const nodeRng = rng.fork(`node/n${i + 1}`);
    return new ChainService({
      id: identity.nodeId,
      publicKey: identity.publicKey,
      sign: (d) => identity.sign(d),
      clusterId: SIM_CLUSTER_ID,
      crypto: CHAIN_CRYPTO,
      clock: nodeClock,
      rng: nodeRng.fork('chain'),
      storage: new SimStorage({ rng: nodeRng.fork('storage'), clock: nodeClock }),
      transport: new MemoryTransport(network, member.address),
      membership: new StaticView(view, identity.nodeId),
      settings: resolved,
      onFork: () => undefined,
    });
  });
  return {
    clock,
    services,
    heldEverywhere: (owner, seq) => services.every((s) => (s.chainOf(owner)?.headSeq ?? 0) >= seq),
    bytesSent: () =>
      services.reduce((sum, s) => sum + (s.stats().transport?.frameBytesSent ?? 0), 0),
    halt: () => {
      for (const s of services) s.halt();
    },
  };
}
