/**
 * How every scenario boots a node: `buildNode` (src/node/node.ts), the wiring production runs,
 * over the node's simulated I/O (its NodeClock, a MemoryTransport on the SimNetwork, its
 * SimStorage, a stream forked per boot). No scenario builds a protocol driver by hand.
 */
import type { Rng } from '../../base/rng.js';
import type { NodeId } from '../../identity/node-id.js';
import { buildNode, type ShoalNode } from '../../node/node.js';
import { resolveNodeOptions, type NodeOptions } from '../../node/options.js';
import type { NodeInternals } from '../../node/runtime.js';
import { MemoryTransport } from '../../transport/memory.js';
import type { SimNode, SimWorld } from '../runner.js';

/** The cluster id every simulated member shares. */
export const SIM_CLUSTER_ID = 'sim';

/** 32 lowercase hex characters from `rng`: a deterministic stand-in for a key-derived NodeId. */
export function fakeNodeId(rng: Rng): NodeId {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += rng.next32().toString(16).padStart(8, '0');
  return hex as NodeId;
}

/** The NodeId a simulated node keeps across its lives (drawn from its own stream). */
export function simNodeId(node: SimNode): NodeId {
  return fakeNodeId(node.rng.fork(node.identity === 0 ? 'id' : `id/${node.identity}`));
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
  const shoal = buildNode(options, { nodeId: simNodeId(node) }, io, {
    checkInvariants: true,
    ...internals,
  });
  // A node that stops itself (a failed durable write) is restarted by the nemesis.
  shoal.on('error', () => world.halted(node));
  return shoal;
}
