/**
 * `raft` mode (issue 13; docs/design/raft-kv.md): one ProtocolDriver runs the Raft core
 * (src/raft) over the node's transport and the write-ahead log (src/raft/wal), and hands
 * committed entries, snapshots and request outcomes to the state machine: by default the
 * replicated key-value store (raft-kv.ts, served as `node.kv`, the HTTP API and the etcd
 * endpoint), or the one given in `internals.raftApplication` (the simulator's checker machine).
 *
 * With the key-value store, the transport is shared with the node channel (raft-rpc.ts): node
 * messages (forwarded requests, hellos) are taken out before the Raft driver sees a payload.
 * `handle` takes proposals, reads, transfers and configuration changes for the core.
 */
import { parseAddress } from '../base/address.js';
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import type { Millis } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import { kvConfig, lessorConfig, watchConfig } from '../kv/config.js';
import type { RaftApplication } from '../raft/application.js';
import { raftConfig, type RaftConfig, type RaftProfile } from '../raft/config.js';
import { memberAt, replicaAddresses } from '../raft/configuration.js';
import { durableIndex } from '../raft/log.js';
import { raftFileStore } from '../raft/file-store.js';
import { raftProtocol } from '../raft/protocol.js';
import { leaderOf } from '../raft/step.js';
import type { ConfigChange, Proposal, RaftEffect, RaftTypes, Role } from '../raft/types.js';
import { walStore } from '../raft/wal/wal.js';
import type { Transport } from '../transport/types.js';
import { ProtocolDriver, type OutputOf } from './driver.js';
import { raftSettingsOf, type ClusterMode } from './options.js';
import { RaftJoin } from './raft-join.js';
import { RaftKv } from './raft-kv.js';
import { authenticateRaftPeers } from './raft-peer-auth.js';
import { RaftPeers } from './raft-peers.js';
import { RaftRpc } from './raft-rpc.js';
import {
  driverHooks,
  driverOnlyRuntime,
  type Member,
  type ModeRuntime,
  type WiringContext,
} from './runtime.js';

export type RaftMode = Extract<ClusterMode, { kind: 'raft' }>;

/** `node.raft.status()` (INTERFACE.md, "Replicated store"). */
export interface RaftStatus {
  term: number;
  leader: NodeId | undefined;
  role: Role;
  commitIndex: number;
  appliedIndex: number;
  members: { id: NodeId | undefined; address: string; voter: boolean; matchIndex: number }[];
}

/** Requests to the local Raft core; outcomes reach the state machine's `outcome`. */
export interface RaftHandle {
  propose(data: Uint8Array, requestId?: number): void;
  /** Several proposals as one input: one entries record and one append per follower. */
  proposeBatch(proposals: readonly Proposal[]): void;
  read(requestId: number, serializable?: boolean): void;
  transferLeadership(to: NodeId): void;
  changeConfig(change: ConfigChange, requestId?: number): void;
  status(): RaftStatus;
}

/**
 * How long a replicated request may take before ERR_TIMEOUT, ms: etcd's server request timeout
 * (5 s plus two election timeouts), from the cluster's election timeout.
 */
export function requestTimeoutMsFor(config: RaftConfig): number {
  return 5_000 + 2 * config.electionTimeoutMinMs;
}

/** How often members say hello (names, client URLs, liveness), ms: ten heartbeats. */
export function helloIntervalMsFor(config: RaftConfig): number {
  return 10 * config.heartbeatIntervalMs;
}

function status(driver: ProtocolDriver<RaftTypes>): RaftStatus {
  const s = driver.state;
  const { config } = s.membership;
  return {
    term: s.term,
    leader: s.leader?.id,
    role: s.role,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    members: replicaAddresses(config).map((address) => {
      const member = memberAt(config, address);
      const id = address === s.selfAddress ? s.selfId : (member?.id ?? s.idAt.get(address));
      const pr = id === undefined ? undefined : s.leaderState?.progress.get(id);
      return {
        id,
        address,
        voter: member?.role === 'voter',
        matchIndex: address === s.selfAddress ? durableIndex(s.log) : (pr?.match ?? 0),
      };
    }),
  };
}

function handleOf(driver: ProtocolDriver<RaftTypes>, now: () => Millis): RaftHandle {
  return {
    propose: (data, requestId) =>
      void driver.input({
        kind: 'propose',
        now: now(),
        data,
        ...(requestId === undefined ? {} : { requestId }),
      }),
    proposeBatch: (proposals) =>
      void driver.input({ kind: 'propose-batch', now: now(), proposals }),
    read: (requestId, serializable) =>
      void driver.input({
        kind: 'read-index',
        now: now(),
        requestId,
        serializable: serializable === true,
      }),
    transferLeadership: (to) => void driver.input({ kind: 'transfer-leader', now: now(), to }),
    changeConfig: (change, requestId) =>
      void driver.input({
        kind: 'change-config',
        now: now(),
        change,
        ...(requestId === undefined ? {} : { requestId }),
      }),
    status: () => status(driver),
  };
}

/** The key-value store and its node channel over `transport`, for a member with `config`. */
function buildKv(
  ctx: WiringContext,
  transport: Transport,
  config: RaftConfig,
): { kv: RaftKv; rpc: RaftRpc } {
  const { io, options } = ctx;
  // The channel's handlers reach the store, which needs the channel: bound once both exist.
  const built: { kv?: RaftKv } = {};
  const kvOf = (): RaftKv => {
    assert(built.kv !== undefined, 'the raft kv is built');
    return built.kv;
  };
  const rpc = new RaftRpc(transport, {
    clusterId: options.clusterId,
    selfId: ctx.id,
    clock: io.clock,
    handlers: {
      onHello: (hello) => kvOf().peers.onHello(hello),
      onRequest: (args, from, member) => kvOf().leaderCalls.serve(args, from, member),
      isMember: (address, id) => kvOf().isMember(address, id),
    },
  });
  const kv = new RaftKv({
    selfId: ctx.id,
    name: options.name,
    clusterId: options.clusterId,
    clock: io.clock,
    rng: io.rng.fork('raft-kv'),
    raft: config,
    kv: kvConfig(),
    watch: watchConfig(),
    lessor: lessorConfig(),
    rpc,
    requestTimeoutMs: requestTimeoutMsFor(config),
    retryDelayMs: config.heartbeatIntervalMs,
    peers: (owner) =>
      new RaftPeers({
        rpc,
        clock: io.clock,
        self: {
          id: ctx.id,
          name: options.name,
          address: transport.localAddress,
          labels: options.labels,
        },
        helloIntervalMs: helloIntervalMsFor(config),
        slots: () => owner.slots(),
        onMemberEvent: (type, member) => ctx.publishMemberEvent(type, member),
      }),
  });
  built.kv = kv;
  return { kv, rpc };
}

export function wireRaft(
  ctx: WiringContext,
  mode: RaftMode,
): ModeRuntime & {
  driver: ProtocolDriver<RaftTypes>;
  handle: RaftHandle;
  kv: RaftKv | undefined;
} {
  const { io, options, internals } = ctx;
  assert(io.transport !== undefined, 'raft mode needs a transport');
  const selfAddress = io.transport.localAddress;
  if (mode.peers.length > 0 && !mode.peers.includes(selfAddress))
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid node option mode.peers (${mode.peers.join(', ')}): the initial voters must include this node's own cluster address ${selfAddress} (its bind or advertise address)`,
    );
  const profile = internals.raftProfile ?? (options.profile.toUpperCase() as RaftProfile);
  const config = raftConfig({ ...raftSettingsOf(mode), ...internals.raftSettings }, profile);
  const built =
    internals.raftApplication === undefined ? buildKv(ctx, io.transport, config) : undefined;
  // Before anything is sent: connections prove their dialer, messages their sender.
  const peerAuth =
    built === undefined
      ? undefined
      : authenticateRaftPeers(ctx, io.transport, built.rpc.transport, (from, peer) =>
          built.kv.hearsRaftFrom(from, peer),
        );
  const kv = built?.kv;
  const app: RaftApplication =
    kv?.machine ?? (internals.raftApplication as () => RaftApplication)();
  const segmentBytes = internals.raftWalSegmentBytes;
  const driver: ProtocolDriver<RaftTypes> = new ProtocolDriver<RaftTypes>({
    protocol: raftProtocol(
      options.clusterId,
      internals.raftStore === 'file'
        ? raftFileStore()
        : walStore(segmentBytes === undefined ? {} : { segmentBytes }),
    ),
    config: {
      config,
      selfId: ctx.id,
      selfAddress: io.transport.localAddress,
      peers: mode.peers.map((p) => parseAddress(p)),
    },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('raft'),
    transport: built?.rpc.transport ?? io.transport,
    checkInvariants: true,
    onOutput: (effect) => output(effect),
    onFatal: (error) => ctx.fail(error),
    ...driverHooks<RaftTypes>(internals, 'raft'),
  });
  const now = () => io.clock.now();
  const handle = handleOf(driver, now);
  const output = (effect: OutputOf<RaftTypes>): void => {
    try {
      perform(effect);
    } catch (err) {
      // A snapshot that cannot be restored: this member cannot go on (fail-stop).
      if (!(err instanceof ShoalError)) throw err;
      driver.stop();
      ctx.fail(err);
    }
  };
  const perform = (effect: OutputOf<RaftTypes>): void => {
    switch (effect.kind) {
      case 'apply':
        return app.apply(effect.entries);
      case 'restore-snapshot':
        return app.restore(effect.meta, effect.data);
      case 'take-snapshot': {
        const taken = (data: Uint8Array): void =>
          void driver.input({ kind: 'snapshot-taken', now: now(), index: effect.index, data });
        // The store writes its snapshot a chunk per clock turn while applies go on; another
        // state machine answers at once (stepped right after this step: inputs are queued).
        if (kv !== undefined) return kv.machine.takeSnapshot(effect.index, taken);
        return taken(app.snapshot(effect.index));
      }
      case 'leader':
        ctx.publishLeader(
          effect.leader === undefined ? undefined : { id: effect.leader.id, term: effect.term },
          effect.term,
        );
        return kv?.onLeader(effect);
      case 'rejected':
        return;
      default:
        return app.outcome?.(effect as Extract<RaftEffect, { kind: typeof effect.kind }>);
    }
  };
  kv?.attach(() => driver.state, {
    propose: (data, requestId) => handle.propose(data, requestId),
    proposeBatch: (proposals) => handle.proposeBatch(proposals),
    read: (requestId) => handle.read(requestId),
    changeConfig: (change, requestId) => handle.changeConfig(change, requestId),
    transferLeadership: (to) => handle.transferLeadership(to),
  });
  driver.start();
  const address = io.transport.localAddress;
  const join =
    built === undefined
      ? undefined
      : new RaftJoin({
          rpc: built.rpc,
          clock: io.clock,
          self: { id: ctx.id, address },
          addresses: (mode.join ?? []).map((a) => parseAddress(a)),
          isMember: () => (kv as RaftKv).isMember(address),
        });
  kv?.peers.start();
  join?.start();
  const { self, ...lifecycle } = driverOnlyRuntime(driver, {
    id: ctx.id,
    name: options.name,
    address,
    labels: options.labels,
  });
  const stopAll = (): void => {
    join?.stop();
    kv?.close();
  };
  return {
    driver,
    handle,
    kv,
    members: (): Member[] => (kv === undefined ? [self()] : kv.peers.members()),
    leader: () => (driver.isStopped ? undefined : leaderOf(driver.state)),
    ...(join === undefined ? {} : { joinStatus: () => join.joinStatus() }),
    ...lifecycle,
    close: async () => {
      stopAll();
      await lifecycle.close();
    },
    halt: () => {
      stopAll();
      lifecycle.halt();
    },
    stats: () => ({
      protocol: {
        ...driver.state.counters,
        ...(peerAuth === undefined
          ? {}
          : {
              peerHellosAccepted: peerAuth.accepted,
              peerHellosRefused: Object.values(peerAuth.refusals).reduce((a, b) => a + b, 0),
              sendersRefused: built?.rpc.transport.sendersRefused ?? 0,
              strangersRefused: built?.rpc.transport.strangersRefused ?? 0,
            }),
      },
      decodeErrors: { ...driver.decodeErrors, ...built?.rpc.counters.decodeErrors },
      drivers: { raft: driver.stats() },
    }),
  };
}
