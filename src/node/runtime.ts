/**
 * What `ShoalNode` needs from the protocols of its mode (`ModeRuntime`), and what a mode's
 * wiring gets to build them (`WiringContext`). Each mode file (mode-*.ts) turns a context into a
 * runtime: it creates the mode's ProtocolDrivers over the node's I/O and maps their outputs to
 * the node's events. The node itself knows no protocol.
 */
import type { TreeSettings } from './data-tree.js';
import type { Address } from '../base/address.js';
import type { ShoalError } from '../base/errors.js';
import type { Labels } from '../membership/messages.js';
import type { NodeId } from '../identity/node-id.js';
import type { SigningIdentity } from '../identity/member-crypto.js';
import type { MembershipConfig, ProfileName } from '../membership/config.js';
import type { JoinFailureReason, MemberEventType, MembershipEvent } from '../membership/types.js';
import type { ProtocolTypes } from '../base/protocol.js';
import type { NetTransportOptions } from '../transport/net.js';
import type { RaftApplication } from '../raft/application.js';
import type { RaftProfile, RaftSettings } from '../raft/config.js';
import type { RegistryConfig, REGISTRY_PROFILES } from '../crdt/registry/config.js';
import type { ChainSettings } from './data-chain.js';
import type { Boundary, DriverOptions, DriverStats, ProtocolDriver } from './driver.js';

export type { Boundary } from './driver.js';
import type { NodeIo } from './io.js';
import type { ResolvedNodeOptions } from './options.js';
import type { JoinEvent, JoinStatus } from './swim-joins.js';

export interface Member {
  id: NodeId;
  name: string;
  address: string;
  state: 'joining' | 'alive' | 'suspect' | 'dead' | 'left';
  incarnation: number;
  labels: Labels;
}

export interface LeaderInfo {
  id: NodeId;
  term: number;
}

export type JoinOutcome =
  { ok: true; contacted: number } | { ok: false; reason: JoinFailureReason; detail: string };

/** Knobs for tests, benchmarks and the simulator; not part of the user's options. */
export interface NodeInternals {
  /** Protocol timing overrides on top of the profile (tests, benchmarks); validated. */
  membership?: Partial<MembershipConfig>;
  /** A membership profile beyond the user's three (the simulator's `SIM_MIN`). */
  membershipProfile?: ProfileName;
  /**
   * Check every protocol's invariants and transition rules after every step (the simulator
   * and tests). Off by default for membership (O(N) per step); the election cores are cheap
   * and always checked. @defaultValue false
   */
  checkInvariants?: boolean;
  /** Every driver's trace lines, tagged with the protocol's name. */
  onTrace?: (protocol: string, line: string) => void;
  /** Every driver's effect boundaries (driver.ts `Boundary`), tagged with the protocol's name. */
  onBoundary?: (protocol: string, boundary: Boundary<ProtocolTypes>) => void;
  /** Stream limits of the production transport (tests: small caps and deadlines). */
  transport?: NetTransportOptions;
  /** `raft` mode: the state machine (required until the key-value store is wired in). */
  raftApplication?: () => RaftApplication;
  /** `raft` mode: a Raft profile beyond the user's three (the simulator's `SIM_MIN`), and overrides. */
  raftProfile?: RaftProfile;
  raftSettings?: RaftSettings;
  /** `raft` mode: the WAL's segment size (tests and the simulator use small ones to rotate). */
  raftWalSegmentBytes?: number;
  /**
   * `raft` mode: where the core's records go: the write-ahead log (default), or one file
   * rewritten whole (`raftFileStore`: simple; the simulator's `raft-file` scenario).
   */
  raftStore?: 'wal' | 'file';
  /**
   * Take every membership signature on trust. Only the simulator's `-unsafe` forgery scenarios
   * set it, to show that their checkers catch what verification stops. In `raft` mode it turns
   * off the authenticated stream hello and the sender checks (raft-peer-auth.ts), for the
   * forgery tests' positive control. @defaultValue false
   */
  unsafeSkipVerification?: boolean;
  /**
   * The wall clock (Unix ms) admission checks certificates against, and the data plane's hybrid
   * logical clock reads (once, at boot: its offset from the monotonic clock). @defaultValue Date.now
   */
  wallClockMs?: () => number;
  /** Run the data plane (`swim`, `single`): node.services, node.processes, node.placement. @defaultValue true */
  dataPlane?: boolean;
  /** The data plane's profile beyond the user's three (the simulator's `simMin`), and overrides. */
  registryProfile?: keyof typeof REGISTRY_PROFILES;
  registry?: Partial<RegistryConfig>;
  /** Chain replication's timing and limits (data-chain.ts `ChainSettings`; the simulator's shorter pulls). */
  chain?: Partial<ChainSettings>;
  /** Tree sync's timing and limits (data-tree.ts `TreeSettings`; the simulator's shorter rounds). */
  trees?: Partial<TreeSettings>;
}

/** Something untrustworthy was refused (docs/security.md); rate-limited per reason by the core. */
export interface SecurityNotice {
  reason: string;
  detail: string;
  /** Refusals of this reason since the last notice that were counted but not reported. */
  suppressed: number;
}

export interface WiringContext {
  readonly options: ResolvedNodeOptions;
  readonly id: NodeId;
  /** What the node signs its own records with (its Ed25519 identity). */
  readonly identity: SigningIdentity;
  readonly io: NodeIo;
  readonly internals: NodeInternals;
  publishMember(event: MembershipEvent): void;
  /** A member event of a mode without gossip membership (raft's member table, raft-peers.ts). */
  publishMemberEvent(type: MemberEventType, member: Member): void;
  publishLeader(leader: LeaderInfo | undefined, term: number): void;
  /** A join attempt ended (swim). */
  publishJoin(event: JoinEvent): void;
  publishSecurity(notice: SecurityNotice): void;
  /** A protocol cannot go on (a durable write failed): the node stops. */
  fail(error: ShoalError): void;
}

export interface ModeRuntime {
  members(): Member[];
  leader(): LeaderInfo | undefined;
  /** The membership epoch: increases only when the live set changes. */
  epoch(): number;
  /** Absent in modes without gossip membership. */
  join?(addresses: readonly Address[]): Promise<JoinOutcome>;
  /** Whether the node has joined a cluster (swim-joins.ts); absent: always joined. */
  joinStatus?(): JoinStatus;
  /** Replaces the user's labels; the refusal's reason when they are invalid. Absent without membership. */
  setLabels?(labels: Labels): string | undefined;
  /** The graceful part of `leave` (swim: until `left` has spread). */
  leave(): Promise<void>;
  /** Stops every driver; what must reach the disk before exit (the peer cache) is written. */
  close(): Promise<void>;
  /** Stops every driver at once and writes nothing more: the process died (the simulator's crash). */
  halt(): void;
  stats(): {
    protocol: Record<string, number>;
    decodeErrors: Record<string, number>;
    drivers: Record<string, DriverStats>;
  };
}

/**
 * What a mode run by one driver and no gossip membership (static, raft-lite) shares: itself as
 * a member that is alive until the driver stops, a fixed epoch, nothing graceful to do on leave,
 * and close/halt that stop the driver.
 */
export function driverOnlyRuntime<T extends ProtocolTypes>(
  driver: ProtocolDriver<T>,
  self: Omit<Member, 'state' | 'incarnation'>,
): Pick<ModeRuntime, 'epoch' | 'leave' | 'close' | 'halt'> & { self(): Member } {
  return {
    self: () => ({ ...self, state: driver.isStopped ? 'left' : 'alive', incarnation: 1 }),
    epoch: () => 1,
    leave: () => Promise.resolve(),
    close: () => {
      driver.stop();
      return Promise.resolve();
    },
    halt: () => driver.stop(),
  };
}

/** The trace and boundary hooks of `internals` for one protocol's driver (absent ones left out). */
export function driverHooks<T extends ProtocolTypes>(
  internals: NodeInternals,
  protocol: string,
): Pick<DriverOptions<T>, 'onTrace' | 'onBoundary'> {
  const { onTrace, onBoundary } = internals;
  return {
    ...(onTrace === undefined ? {} : { onTrace: (line: string) => onTrace(protocol, line) }),
    ...(onBoundary === undefined
      ? {}
      : {
          onBoundary: (boundary: Boundary<T>) =>
            onBoundary(protocol, boundary as Boundary<ProtocolTypes>),
        }),
  };
}
