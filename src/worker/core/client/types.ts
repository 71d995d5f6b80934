/**
 * The worker's client state machine (docs/design/worker-tier.md, "The worker"): registration,
 * heartbeats at the TTL each ack carries, and the assignment stream (a server stream or
 * long-polls) resumed from `lastRevision + 1`. It talks to one server at a time, moving to the
 * next in `servers` (round-robin) with exponential backoff when one fails, and never delivers a
 * revision twice or out of order: a batch at or below `lastRevision` is a duplicate and dropped.
 *
 * Calls are effects with ids; the shell (gRPC in production, the simulator's RPC model in tests)
 * performs them and steps the result back with the same id. A result whose id is not the call in
 * flight (a late answer from a server already given up on) is ignored and counted.
 */
import type { PersistedInput, TickInput } from '../../../base/protocol.js';
import type { Millis } from '../../../base/time.js';
import type { AssignmentBatch, AssignmentSnapshot } from '../assignments.js';
import type { WorkerClientConfig } from '../config.js';

export type CallKind = 'register' | 'heartbeat' | 'assignments' | 'renew';

export type CallRequest =
  | { readonly kind: 'register' }
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'renew' }
  /** The stream (or one long-poll): a snapshot first when asked, then batches after `fromRevision - 1`. */
  | {
      readonly kind: 'assignments';
      readonly mode: 'stream' | 'poll';
      readonly fromRevision: number;
      readonly snapshot: boolean;
    };

/**
 * Why a call failed. `unavailable` and `timeout` blame the server (try the next one);
 * `no-leader` and `unknown-worker` are transient answers of a working server (retry there);
 * `unauthenticated` means our certificate or record is gone (register again); `compacted` means
 * the history we resume from is gone (ask a snapshot); `refused` is a final registration refusal.
 */
export type CallFailure =
  | { readonly kind: 'unavailable' | 'timeout' | 'no-leader' | 'unknown-worker' }
  | { readonly kind: 'unauthenticated' | 'compacted' }
  | { readonly kind: 'refused'; readonly reason: string };

export interface Call {
  readonly id: number;
  readonly server: string;
  readonly kind: CallKind;
  /** Streams have none: they live until they fail or are cancelled. */
  readonly deadlineMs: number | undefined;
}

export interface ClientCounters {
  calls: Record<CallKind, number>;
  failures: Record<string, number>;
  /** Answers to calls no longer in flight. */
  lateAnswers: number;
  /** Batches at or below lastRevision, dropped. */
  duplicateBatches: number;
  /** Messages that showed a batch of their stream was lost: the stream was restarted. */
  gaps: number;
  serverSwitches: number;
  delivered: number;
}

/** Deliberate bugs for the simulator's `-unsafe` scenarios (each must be caught by a checker). */
export interface ClientMutations {
  /** Resume from lastRevision instead of lastRevision + 1 and skip the duplicate check. */
  resumeWithoutDedup?: boolean;
  /** Resume from "now" (fromRevision 0) after a reconnect, as a client that keeps no revision. */
  resumeFromNow?: boolean;
}

export interface ClientState {
  readonly config: WorkerClientConfig;
  readonly servers: readonly string[];
  readonly mode: 'stream' | 'poll';
  readonly mutations: ClientMutations;
  phase: 'unregistered' | 'registered' | 'stopped';
  /** Why the client stopped (a final registration refusal), once stopped. */
  stopReason: string | undefined;
  serverIndex: number;
  /** Consecutive failures that blamed a server: the backoff before the next call. */
  failures: number;
  /** No call is started before this time (backoff). */
  retryAtMs: number;
  nextCallId: number;
  register: Call | undefined;
  heartbeat: Call | undefined;
  stream: Call | undefined;
  renew: Call | undefined;
  nextHeartbeatMs: number;
  /** Consecutive transient heartbeat refusals (no leader, unknown worker). */
  heartbeatRetries: number;
  /** The TTL of the last ack, and when it came (our clock). */
  ttlMs: number | undefined;
  lastAckMs: number | undefined;
  /** The highest assignment revision delivered; 0 before the first snapshot. */
  lastRevision: number;
  needSnapshot: boolean;
  /** When the certificate should be renewed (renewFraction of its validity left). */
  renewAtMs: number | undefined;
  /** The server last sent a full status report (after each (re)connection). */
  reportedServer: string | undefined;
  lastStepMs: number;
  readonly counters: ClientCounters;
}

export interface ClientInit {
  config: WorkerClientConfig;
  servers: readonly string[];
  mode: 'stream' | 'poll';
  /** Already registered (a certificate in the identity dir): start with heartbeats. */
  registered: boolean;
  /** For a registered start: when the certificate should be renewed, our clock. */
  renewAtMs?: number;
  mutations?: ClientMutations;
}

export type ClientInput =
  | TickInput
  | PersistedInput<never>
  | { kind: 'registered'; now: Millis; callId: number; renewAtMs: number }
  | { kind: 'renewed'; now: Millis; callId: number; renewAtMs: number }
  | { kind: 'heartbeat-ok'; now: Millis; callId: number; ttlMs: number }
  | {
      kind: 'assignments';
      now: Millis;
      callId: number;
      snapshot?: AssignmentSnapshot;
      batches: readonly AssignmentBatch[];
      /**
       * The revision of the last batch this stream sent before this message (or where it
       * started). Above our lastRevision means a batch of this stream never reached us: the
       * stream is restarted from lastRevision + 1. Absent: not checked.
       */
      afterRevision?: number;
      /** The call finished (a long-poll's answer). */
      end: boolean;
    }
  | { kind: 'failed'; now: Millis; callId: number; failure: CallFailure }
  | { kind: 'stop'; now: Millis };

export type ClientEffect =
  | { kind: 'call'; callId: number; server: string; request: CallRequest }
  | { kind: 'cancel'; callId: number }
  | { kind: 'deliver'; batch: AssignmentBatch }
  | { kind: 'deliver-snapshot'; snapshot: AssignmentSnapshot }
  /** Connected to a server (again): send it a full status report. */
  | { kind: 'report-status'; server: string }
  | { kind: 'stopped'; reason: string };

export interface ClientTypes {
  config: ClientInit;
  persisted: undefined;
  state: ClientState;
  input: ClientInput;
  effect: ClientEffect;
  record: never;
  snapshot: { lastRevision: number };
  message: never;
}
