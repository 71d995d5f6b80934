/**
 * `raft-lite` mode: term-based election with PreVote and check-quorum (election/raft-lite), plus
 * the leader-actor API of `node.raftLite` (callbacks, join, broadcast, inspect). One
 * ProtocolDriver runs the core over the node's transport.
 */
import { parseAddress, type Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { raftLiteConfig } from '../election/raft-lite/config.js';
import { raftLiteProtocol } from '../election/raft-lite/protocol.js';
import { leaderOf } from '../election/raft-lite/step.js';
import type { RaftLiteTypes, Role } from '../election/raft-lite/types.js';
import type { NodeId } from '../identity/node-id.js';
import { ProtocolDriver } from './driver.js';
import type { ClusterMode } from './options.js';
import { driverHooks, driverOnlyRuntime, type ModeRuntime, type WiringContext } from './runtime.js';

export type RaftLiteMode = Extract<ClusterMode, { kind: 'raft-lite' }>;

export interface RaftLiteCallbacks {
  onBecomeLeader?: (term: number) => void;
  onBecomeFollower?: (leader: NodeId | undefined, term: number) => void;
  onPeerJoined?: (address: Address) => void;
  onPeerLeft?: (address: Address) => void;
  onTermChanged?: (oldTerm: number, newTerm: number) => void;
  onMessage?: (payload: string, from: NodeId) => void;
}

export interface RaftLiteSnapshot {
  role: Role;
  term: number;
  votedFor: NodeId | undefined;
  leader: NodeId | undefined;
  peers: Address[];
  /** The configuration's id (`configTerm.configVersion`; version 0 = bootstrap, no leader yet). */
  config: { term: number; version: number };
  /** Waiting for a leader to add this node. */
  joining: boolean;
  reachable: Address[];
  counters: Record<string, number>;
}

/** `node.raftLite`: the leader-actor API of `raft-lite` mode. */
export interface RaftLiteHandle {
  /** Assign `onBecomeLeader`, `onBecomeFollower`, `onPeerJoined`, `onPeerLeft`, `onTermChanged`, `onMessage` here. */
  readonly callbacks: RaftLiteCallbacks;
  /**
   * Asks the node at `address` (host:port) to have this node added to its cluster; the leader
   * adds joiners one at a time, once a majority knows the previous change. Before any leader
   * exists (bootstrap), also adds `address` to the set this node elects with.
   */
  join(address: string): void;
  /** Sends `payload` to every known peer (best effort, one packet each). */
  broadcast(payload: string): void;
  inspect(): RaftLiteSnapshot;
}

export function wireRaftLite(
  ctx: WiringContext,
  mode: RaftLiteMode,
): ModeRuntime & { driver: ProtocolDriver<RaftLiteTypes>; handle: RaftLiteHandle } {
  const { io, options } = ctx;
  assert(io.transport !== undefined, 'raft-lite mode needs a transport');
  const transport = io.transport;
  const callbacks: RaftLiteCallbacks = {};
  const driver: ProtocolDriver<RaftLiteTypes> = new ProtocolDriver<RaftLiteTypes>({
    protocol: raftLiteProtocol(options.clusterId),
    config: {
      config: raftLiteConfig(mode),
      selfId: ctx.id,
      selfAddress: transport.localAddress,
      peers: mode.peers.map((p) => parseAddress(p)),
    },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('raft-lite'),
    transport,
    checkInvariants: true,
    onOutput: (effect) => {
      switch (effect.kind) {
        case 'leader':
          ctx.publishLeader(
            effect.leader === undefined ? undefined : { id: effect.leader, term: effect.term },
            effect.term,
          );
          if (effect.self) callbacks.onBecomeLeader?.(effect.term);
          else callbacks.onBecomeFollower?.(effect.leader, effect.term);
          return;
        case 'term':
          return callbacks.onTermChanged?.(effect.oldTerm, effect.newTerm);
        case 'peer-joined':
          return callbacks.onPeerJoined?.(effect.address);
        case 'peer-left':
          return callbacks.onPeerLeft?.(effect.address);
        case 'delivered':
          return callbacks.onMessage?.(effect.payload, effect.from);
        case 'rejected':
          return;
      }
    },
    onFatal: (error) => ctx.fail(error),
    ...driverHooks<RaftLiteTypes>(ctx.internals, 'raft-lite'),
  });
  driver.start();
  const handle: RaftLiteHandle = {
    callbacks,
    join: (address) =>
      void driver.input({ kind: 'join', now: io.clock.now(), address: parseAddress(address) }),
    broadcast: (payload) => void driver.input({ kind: 'broadcast', now: io.clock.now(), payload }),
    inspect: () => {
      const s = driver.state;
      const reachable = [...s.heard.values()].filter((p) => p.reachable).map((p) => p.address);
      return {
        role: s.role,
        term: s.term,
        votedFor: s.votedFor,
        leader: s.leader?.id,
        peers: [...s.peers].sort(),
        config: { term: s.configTerm, version: s.configVersion },
        joining: s.joining,
        reachable: reachable.sort(),
        counters: { ...s.counters },
      };
    },
  };
  const { self, ...lifecycle } = driverOnlyRuntime(driver, {
    id: ctx.id,
    name: options.name,
    address: transport.localAddress,
    labels: options.labels,
  });
  return {
    driver,
    handle,
    members: () => [self()],
    leader: () => (driver.isStopped ? undefined : leaderOf(driver.state)),
    ...lifecycle,
    stats: () => ({
      protocol: { ...driver.state.counters },
      decodeErrors: { ...driver.decodeErrors },
      drivers: { 'raft-lite': driver.stats() },
    }),
  };
}
