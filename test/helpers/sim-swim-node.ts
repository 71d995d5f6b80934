/**
 * One swim-mode node built by `buildNode` (the production wiring) on the simulator's clock,
 * network and disk, for tests that drive a single node by hand through a peer transport.
 */
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import type { SigningIdentity } from '../../src/identity/member-crypto.js';
import { buildNode, type ShoalNode } from '../../src/node/node.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import type { SimClock } from '../../src/sim/clock.js';
import type { SimNetwork } from '../../src/sim/network.js';
import { SimStorage } from '../../src/sim/storage.js';
import { MemoryTransport } from '../../src/transport/memory.js';

export function simSwimNode(
  clock: SimClock,
  network: SimNetwork,
  address: Address,
  clusterId: string,
  identity: SigningIdentity,
  seed = 4,
): ShoalNode {
  const nodeClock = clock.nodeClock(address);
  const options = resolveNodeOptions({
    name: 'a',
    dataDir: '/sim/a',
    bind: address,
    mode: { kind: 'swim', seeds: [] },
    clusterId,
    profile: 'lan',
  });
  const io = {
    clock: nodeClock,
    transport: new MemoryTransport(network, address),
    storage: new SimStorage({ rng: new Rng(seed + 1), clock: nodeClock }),
    rng: new Rng(seed),
  };
  return buildNode(options, identity, io, { checkInvariants: true });
}
