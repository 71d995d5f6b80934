/**
 * One membership node for the simulator benches: the membership core on the generic
 * ProtocolDriver (the one production runs), over MemoryTransport on a SimNetwork. Membership
 * alone, without the swim leader, so these benches measure what they always measured.
 */
import type { Address } from '../src/base/address.js';
import type { Rng } from '../src/base/rng.js';
import type { Clock } from '../src/base/time.js';
import type { MembershipConfig } from '../src/membership/config.js';
import { MEMBERSHIP_CORE, MEMBERSHIP_STORE } from '../src/membership/protocol.js';
import type { MembershipEvent, MembershipTypes } from '../src/membership/types.js';
import { membershipWire } from '../src/membership/wire.js';
import { memberCrypto, publicKeyHex, type SigningIdentity } from '../src/identity/member-crypto.js';
import { ProtocolDriver } from '../src/node/driver.js';
import type { SimNetwork } from '../src/sim/network.js';
import { SimStorage } from '../src/sim/storage.js';
import { MemoryTransport } from '../src/transport/memory.js';

export interface SimMembershipNode {
  /** Its key signs its records; its NodeId is the key's hash. */
  identity: SigningIdentity;
  name: string;
  address: Address;
  clock: Clock;
  network: SimNetwork;
  config: MembershipConfig;
  rng: Rng;
  clusterId: string;
  onEvent: (event: MembershipEvent) => void;
}

export function simMembershipDriver(node: SimMembershipNode): ProtocolDriver<MembershipTypes> {
  const transport = new MemoryTransport(node.network, node.address);
  return new ProtocolDriver<MembershipTypes>({
    protocol: {
      core: MEMBERSHIP_CORE,
      wire: membershipWire({
        clusterId: node.clusterId,
        selfId: node.identity.nodeId,
        localAddress: node.address,
      }),
      store: MEMBERSHIP_STORE,
    },
    config: {
      config: node.config,
      self: { id: node.identity.nodeId, name: node.name, address: node.address, labels: {} },
      security: {
        clusterId: node.clusterId,
        crypto: memberCrypto(node.identity),
        publicKey: publicKeyHex(node.identity),
        certificate: undefined,
        verifySignatures: true,
      },
    },
    clock: node.clock,
    storage: new SimStorage({ rng: node.rng.fork('storage'), clock: node.clock }),
    rng: node.rng.fork('membership'),
    transport,
    onOutput: (effect) => {
      if (effect.kind === 'emit') node.onEvent(effect.event);
    },
  });
}
