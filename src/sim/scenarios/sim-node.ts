/**
 * How every scenario boots a node: `buildNode` (src/node/node.ts), the wiring production runs,
 * over the node's simulated I/O (its NodeClock, a MemoryTransport on the SimNetwork, its
 * SimStorage, a stream forked per boot). No scenario builds a protocol driver by hand.
 */
import type { Rng } from '../../base/rng.js';
import { identityFromSeed, type SigningIdentity } from '../../identity/member-crypto.js';
import type { NodeId } from '../../identity/node-id.js';
import { buildNode, type ShoalNode } from '../../node/node.js';
import { resolveNodeOptions, type NodeOptions } from '../../node/options.js';
import type { NodeInternals } from '../../node/runtime.js';
import { MemoryTransport } from '../../transport/memory.js';
import type { SimNode, SimWorld } from '../runner.js';

/** The cluster id every simulated member shares. */
export const SIM_CLUSTER_ID = 'sim';

/** The simulated wall clock's reading at virtual time 0 (Unix ms): 2026-01-01T00:00:00Z. */
export const SIM_WALL_CLOCK_EPOCH_MS = Date.UTC(2026, 0, 1);

/** A 32-byte Ed25519 seed drawn from `rng`. */
export function seedBytes(rng: Rng): Uint8Array {
  const seed = new Uint8Array(32);
  const view = new DataView(seed.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(4 * i, rng.next32());
  return seed;
}

/**
 * A real Ed25519 identity whose key is derived from `rng`: a simulated node's NodeId is the hash
 * of its key, as in production, and it signs its records with the same code (Ed25519 signatures
 * are deterministic, so runs stay byte-for-byte reproducible).
 */
export function simIdentityFrom(rng: Rng): SigningIdentity {
  return identityFromSeed(seedBytes(rng));
}

const identities = new WeakMap<SimNode, Map<number, SigningIdentity>>();

/** The identity a simulated node keeps across its lives (a new one after amnesia), from its own stream. */
export function simIdentity(node: SimNode): SigningIdentity {
  let lives = identities.get(node);
  if (lives === undefined) identities.set(node, (lives = new Map()));
  let identity = lives.get(node.identity);
  if (identity === undefined) {
    identity = simIdentityFrom(node.rng.fork(node.identity === 0 ? 'id' : `id/${node.identity}`));
    lives.set(node.identity, identity);
  }
  return identity;
}

/** The NodeId a simulated node keeps across its lives: the hash of its key (`simIdentity`). */
export function simNodeId(node: SimNode): NodeId {
  return simIdentity(node).nodeId;
}

/**
 * Boots `node` in `mode` through `buildNode`, invariants checked after every step; a node that
 * stops itself is reported to `world.halted`. `generation`
 * numbers its lives: each boot draws from its own forked stream, as a restarted process would
 * seed itself anew.
 */
export function bootSimNode(
  world: SimWorld,
  node: SimNode,
  mode: NodeOptions['mode'],
  generation: number,
  internals: NodeInternals = {},
): ShoalNode {
  const options = resolveNodeOptions({
    name: node.name,
    dataDir: `/sim/${node.name}`,
    bind: node.address,
    mode,
    clusterId: SIM_CLUSTER_ID,
  });
  const io = {
    // Each life reads its clock from its own origin, as a process reads performance.now().
    clock: node.clock.life(),
    transport: new MemoryTransport(world.network, node.address),
    storage: node.storage,
    rng: node.rng.fork(`boot/${generation}`),
  };
  const shoal = buildNode(options, simIdentity(node), io, {
    checkInvariants: true,
    // Admission checks certificates against a wall clock: the simulation's, from a fixed epoch.
    wallClockMs: () => SIM_WALL_CLOCK_EPOCH_MS + node.clock.now(),
    ...internals,
  });
  // A node that stops itself (a failed durable write) is restarted by the nemesis.
  shoal.on('error', () => world.halted(node));
  return shoal;
}
