/**
 * The one contract every protocol core implements (STYLE.md section 2), after etcd-io/raft's
 * `Step`/`Ready`: a synchronous, deterministic state machine that takes inputs (messages, time,
 * local requests, finished writes) and returns what the world must do, as data. One generic
 * driver (src/node/driver.ts) runs every core over real sockets, disk and timers in production
 * and over the simulator's twins in tests: no protocol has a driver of its own.
 *
 * Ordering is in the type: a step's `Ready` separates what may happen at once (`effects`) from
 * what must wait until the step's writes, and every earlier write, are durable (`afterPersist`).
 * A vote grant, a refuting alive or a newly reported term goes in `afterPersist`, so no driver can
 * send it before the vote, incarnation or term it depends on survives a crash (Raft §5.2,
 * SWIM §4.2). When the writes are done the driver performs those effects and then gives the core
 * a `persisted` input, so a core that must know what is durable (Raft's own match index) can
 * gate on it.
 *
 * Pure interface: no I/O here. Cores import it; only the driver implements the other side.
 */
import type { Address } from './address.js';
import type { ShoalError } from './errors.js';
import type { Channel } from './channel.js';
import type { Rng } from './rng.js';
import type { Storage } from './storage.js';
import type { Millis } from './time.js';

/** Every input carries the time it happens at, on the node's monotonic clock. */
export interface InputBase {
  readonly kind: string;
  readonly now: Millis;
}

/** The driver's one timer fired: `now` is at or after `nextDeadline(state)`. */
export interface TickInput {
  readonly kind: 'tick';
  readonly now: Millis;
}

/** Every record of one step is durable, in order after every earlier record. */
export interface PersistedInput<R> {
  readonly kind: 'persisted';
  readonly now: Millis;
  readonly records: readonly R[];
}

/** A message for a peer; the protocol's `Wire` encodes it, the driver's transport carries it. */
export interface SendEffect<M> {
  readonly kind: 'send';
  readonly to: Address;
  readonly channel: Channel;
  readonly message: M;
}

/** What one step asks of the driver (etcd's `Ready`). */
export interface Ready<S, E, R> {
  /** The state after the step. Cores may mutate the given state in place and return it. */
  state: S;
  /** Performed at once, in order: nothing here depends on a write that has not finished. */
  effects: E[];
  /** Records to make durable, in this order, after every record of every earlier step. */
  persist: R[];
  /**
   * Performed in order once every record in `persist`, and every record of every earlier step,
   * is durable (persist-before-send). With no write pending they follow `effects` at once.
   */
  afterPersist: E[];
}

/** What a step may use besides its state and input: the node's own seeded random stream. */
export interface StepContext {
  readonly rng: Rng;
}

/** What `init` may use: the node's clock reading at boot and its random stream. */
export interface InitContext {
  readonly now: Millis;
  readonly rng: Rng;
}

/**
 * The types one protocol is made of, bundled so that `Core<T>`, `Wire` and the driver name them
 * once. `config` holds everything `init` needs besides the durable part (the protocol's settings
 * and the node's own id and address); `persisted` is what `Store.load` read back from disk;
 * `record` is one durable write's content; `snapshot` is the slice of a state that
 * `checkTransition` compares; `message` is the protocol's wire vocabulary.
 */
export interface ProtocolTypes {
  config: unknown;
  persisted: unknown;
  state: unknown;
  input: InputBase;
  effect: { readonly kind: string };
  record: unknown;
  snapshot: unknown;
  message: unknown;
}

/** Every input a core's `step` takes: its own kinds plus the driver's `tick` and `persisted`. */
export type CoreInput<T extends ProtocolTypes> =
  T['input'] | TickInput | PersistedInput<T['record']>;

/** A protocol core: pure, synchronous, deterministic given its inputs and its Rng. */
export interface Core<T extends ProtocolTypes> {
  /** The protocol's name in traces, metrics and errors (`membership`, `raft-lite`, ...). */
  readonly name: string;
  /** Every input kind and every effect kind, so a test can check that `describe*` covers them. */
  readonly inputKinds: readonly CoreInput<T>['kind'][];
  readonly effectKinds: readonly T['effect']['kind'][];
  init(config: T['config'], persisted: T['persisted'], ctx: InitContext): T['state'];
  step(
    state: T['state'],
    input: CoreInput<T>,
    ctx: StepContext,
  ): Ready<T['state'], T['effect'], T['record']>;
  /** The earliest time a `tick` has work to do; never before the `now` of the last step. */
  nextDeadline(state: T['state']): Millis | undefined;
  describeInput(input: CoreInput<T>): string;
  describeEffect(effect: T['effect']): string;
  describeRecord(record: T['record']): string;
  /** Violated per-node invariants, as sentences; empty when the state is sound. */
  checkInvariants(state: T['state']): string[];
  snapshot(state: T['state']): T['snapshot'];
  /**
   * Violated rules between two successive states (a term or incarnation that went back, ...);
   * `input` is what the step took, for rules about how a state must answer it.
   */
  checkTransition(before: T['snapshot'], after: T['state'], input: CoreInput<T>): string[];
}

/**
 * Checks at compile time that `list` names every member of the union `K`: writing
 * `kinds<Input['kind']>()(['tick', ...])` fails to compile when a kind is left out.
 */
export function kinds<K extends string>() {
  return <const L extends readonly K[]>(
    list: L &
      ([Exclude<K, L[number]>] extends [never] ? unknown : { missing: Exclude<K, L[number]> }),
  ): readonly K[] => list;
}

/** A payload that did not become an input: its ERR_DECODE_* code, and what to do about it. */
export interface Refusal<I> {
  ok: false;
  code: string;
  detail: string;
  /** Bytes to send back (a `reject` the sender can read), if any. */
  reply?: { to: Address; channel: Channel; data: Uint8Array };
  /** An input the refusal itself means (a join refused by a node of another version). */
  input?: I;
}

export type Received<I> = { ok: true; input: I } | Refusal<I>;

/** How the driver turns bytes into inputs and messages into bytes for one protocol. */
export interface Wire<I, M> {
  /** Never throws: bad bytes become a `Refusal`, counted by its code. */
  decode(data: Uint8Array, from: Address, channel: Channel, now: Millis): Received<I>;
  encode(message: M, channel: Channel): Uint8Array;
  /**
   * The input, if any, for a refused stream connection to `to`: TCP RST, nothing listens there
   * (`listening` false), or the process there accepted and then refused it with a reason
   * (`listening` true: it is alive).
   */
  refused?(to: Address, now: Millis, listening: boolean): I | undefined;
}

/** One durable file replacement: written to a temp file, fsynced, renamed over `path`. */
export interface DurableWrite {
  path: string;
  data: Uint8Array;
}

/** A protocol as the driver runs it: the core, and how it talks to the network and the disk. */
export interface Protocol<T extends ProtocolTypes> {
  readonly core: Core<T>;
  /** Absent for a protocol without messages of its own (the swim leader talks through membership labels). */
  readonly wire?: Wire<T['input'], T['message']>;
  /**
   * Absent for a protocol without durable state. A `Store` replaces whole files per record (a
   * term, a vote); a `LogStore` appends batches to a log (Raft's WAL).
   */
  readonly store?: Store<T['persisted'], T['record']> | LogStore<T['persisted'], T['record']>;
}

/** How the driver reads a core's durable part at boot and writes each record. */
export interface Store<P, R> {
  /** Reads once at boot, synchronously; throws ERR_STORAGE_CORRUPT for a file Shoal did not write. */
  load(storage: Storage): P;
  write(record: R): DurableWrite;
}

/**
 * A store that appends (a write-ahead log) instead of replacing files. The driver opens it once
 * at boot and hands it each write job's records as ONE batch: the records of every step merged
 * into the job (group commit), in order, made durable together with one sync.
 */
export interface LogStore<P, R> {
  /** Tells a log store from a file `Store` (`isLogStore`). */
  readonly kind: 'log';
  /**
   * Reads the log once at boot, synchronously, and repairs a torn tail (the last batch written
   * before a crash, never acknowledged). Throws ERR_STORAGE_CORRUPT, with one line naming the
   * file and offset, when anything but that tail is damaged: the node must not start on it.
   */
  open(storage: Storage): OpenedLog<P, R>;
}

/** What a log store read at boot, and the log to append to from then on. */
export interface OpenedLog<P, R> {
  persisted: P;
  log: RecordLog<R>;
  /** What recovery did, one line each (a torn tail dropped, leftovers removed), for the node's log. */
  notes: readonly string[];
}

/** An open log: appends batches, one after another. */
export interface RecordLog<R> {
  /**
   * Makes `records` durable after every earlier batch, with one sync (fdatasync) for the batch,
   * and calls `done` once, never synchronously: undefined when all of them are durable, or the
   * ERR_STORAGE_IO error that stopped the log (then nothing after the last good batch is known
   * durable, and every later append fails too: fail-stop). A batch is all or nothing at
   * recovery: a crash before `done` brings back the whole batch or none of it.
   */
  append(records: readonly R[], done: (error: ShoalError | undefined) => void): void;
  /** Stops the log: later completions are ignored and cached descriptors released. Idempotent. */
  close(): void;
  /** The log's counters (batches, syncs, rotations, torn tails, ...), for metrics and tests. */
  counters(): Readonly<Record<string, number>>;
}

/** True when `store` appends (a `LogStore`) rather than replacing files. */
export function isLogStore<P, R>(store: Store<P, R> | LogStore<P, R>): store is LogStore<P, R> {
  return 'kind' in store && store.kind === 'log';
}
