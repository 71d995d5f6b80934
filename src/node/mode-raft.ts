/**
 * `raft` mode, minimal wiring (issue 13's core; the lead wires the key-value store, the HTTP API
 * and the CLI on top): one ProtocolDriver runs the Raft core (src/raft) over the node's
 * transport and the write-ahead log (src/raft/wal), and hands committed entries, snapshots and
 * request outcomes to the state machine given in `internals.raftApplication`. `handle` takes
 * proposals, reads, transfers and configuration changes for the core.
 */
import { parseAddress } from '../base/address.js';
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import type { NodeId } from '../identity/node-id.js';
import type { RaftApplication } from '../raft/application.js';
import { raftConfig, type RaftProfile } from '../raft/config.js';
import { memberAt, replicaAddresses } from '../raft/configuration.js';
import { durableIndex } from '../raft/log.js';
import { raftFileStore } from '../raft/file-store.js';
import { raftProtocol } from '../raft/protocol.js';
import { leaderOf } from '../raft/step.js';
import type { ConfigChange, RaftEffect, RaftTypes, Role } from '../raft/types.js';
import { walStore } from '../raft/wal/wal.js';
import { ProtocolDriver, type OutputOf } from './driver.js';
import { raftSettingsOf, type ClusterMode } from './options.js';
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
  read(requestId: number, serializable?: boolean): void;
  transferLeadership(to: NodeId): void;
  changeConfig(change: ConfigChange, requestId?: number): void;
  status(): RaftStatus;
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

export function wireRaft(
  ctx: WiringContext,
  mode: RaftMode,
): ModeRuntime & { driver: ProtocolDriver<RaftTypes>; handle: RaftHandle } {
  const { io, options, internals } = ctx;
  assert(io.transport !== undefined, 'raft mode needs a transport');
  const transport = io.transport;
  const makeApplication = internals.raftApplication;
  if (makeApplication === undefined)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      'mode raft needs a state machine: the key-value store is not wired into createNode yet',
    );
  const app: RaftApplication = makeApplication();
  const profile = internals.raftProfile ?? (options.profile.toUpperCase() as RaftProfile);
  const config = raftConfig({ ...raftSettingsOf(mode), ...internals.raftSettings }, profile);
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
      selfAddress: transport.localAddress,
      peers: mode.peers.map((p) => parseAddress(p)),
    },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('raft'),
    transport,
    checkInvariants: true,
    onOutput: (effect) => output(effect),
    onFatal: (error) => ctx.fail(error),
    ...driverHooks<RaftTypes>(internals, 'raft'),
  });
  const output = (effect: OutputOf<RaftTypes>): void => {
    switch (effect.kind) {
      case 'apply':
        return app.apply(effect.entries);
      case 'restore-snapshot':
        return app.restore(effect.meta, effect.data);
      case 'take-snapshot': {
        // Stepped right after the current step (the driver queues re-entrant inputs).
        const data = app.snapshot(effect.index);
        driver.input({ kind: 'snapshot-taken', now: io.clock.now(), index: effect.index, data });
        return;
      }
      case 'leader':
        return ctx.publishLeader(
          effect.leader === undefined ? undefined : { id: effect.leader.id, term: effect.term },
          effect.term,
        );
      case 'rejected':
        return;
      default:
        return app.outcome?.(effect as Extract<RaftEffect, { kind: typeof effect.kind }>);
    }
  };
  driver.start();
  const now = () => io.clock.now();
  const handle: RaftHandle = {
    propose: (data, requestId) =>
      void driver.input({
        kind: 'propose',
        now: now(),
        data,
        ...(requestId === undefined ? {} : { requestId }),
      }),
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
  const { self, ...lifecycle } = driverOnlyRuntime(driver, {
    id: ctx.id,
    name: options.name,
    address: transport.localAddress,
    labels: options.labels,
  });
  return {
    driver,
    handle,
    members: (): Member[] => [self()],
    leader: () => (driver.isStopped ? undefined : leaderOf(driver.state)),
    ...lifecycle,
    stats: () => ({
      protocol: { ...driver.state.counters },
      decodeErrors: { ...driver.decodeErrors },
      drivers: { raft: driver.stats() },
    }),
  };
}
