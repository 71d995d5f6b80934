/**
 * The membership driver: the only membership file that touches a transport, a clock and
 * storage. It feeds the pure core (`step`) with inputs — received messages, time — and performs
 * the effects it returns, in order: a `persist` is written and fsynced before any later `send`
 * of the same step goes out (a refuting alive must never leave before its incarnation is
 * durable). One real timer is armed for `nextDeadline(state)` after every step.
 *
 * The same driver runs in production (NetTransport, SystemClock, file storage) and in the
 * simulator (MemoryTransport over SimNetwork, SimClock, SimStorage): one code path.
 */
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import type { Clock, Millis, TimerHandle } from '../base/time.js';
import { inflateRawSync, deflateRawSync } from 'node:zlib';
import { decodeMessage, encodeMessage, envelopeClusterId, envelopeHeader, updateEncodedBytes } from '../codec/codec.js';
import { COMPRESS_BYTES_MIN, COMPRESSED_MESSAGE_TYPE, DEFLATE_DICTIONARY_V1, encodeCompressed, isCompressed, unwrapCompressed } from '../codec/compressed.js';
import { MESSAGE_TYPE_NUMBERS, PROTOCOL_VERSION } from '../codec/wire-numbers.js';
import { isElectionMessage, type Labels, type Message } from '../codec/messages.js';
import type { Channel, Transport } from '../transport/types.js';
import { describeEffect, describeInput } from './describe.js';
import { memberView } from './state.js';
import { nextDeadline, step } from './step.js';
import type { Effect, Input, JoinFailureReason, MemberView, MembershipEvent, State } from './types.js';

/** The preset dictionary of compression algorithm 1, as bytes once. */
const DICTIONARY = new TextEncoder().encode(DEFLATE_DICTIONARY_V1);

/** Where the driver keeps its durable incarnation, relative to the storage root. */
export const INCARNATION_FILE = 'membership/incarnation';
/** Most local requests (join, leave) waiting for their result at once. */
export const PENDING_REQUESTS_MAX = 64;

export type JoinOutcome = { ok: true; contacted: number } | { ok: false; reason: JoinFailureReason; detail: string };

export interface MembershipDriverOptions {
  state: State;
  clock: Clock;
  transport: Transport;
  rng: Rng;
  storage: Storage;
  clusterId: string;
  onEvent: (event: MembershipEvent) => void;
  /** Called with each input and effect rendered as one line (for traces and debug logs). */
  onTrace?: (line: string) => void;
}

/** Reads the last durable incarnation; 0 when none was ever written. A corrupt file is an error. */
export function readPersistedIncarnation(storage: Storage): number {
  const bytes = storage.read(INCARNATION_FILE);
  if (bytes === undefined) return 0;
  const text = new TextDecoder().decode(bytes).trim();
  const value = Number(text);
  assert(/^\d+$/.test(text) && Number.isSafeInteger(value), `${INCARNATION_FILE} holds ${JSON.stringify(text)}, not a safe integer`);
  return value;
}

export class MembershipDriver {
  private readonly opts: MembershipDriverOptions;
  private timer: TimerHandle | undefined;
  private timerAtMs: Millis | undefined;
  private readonly joinWaiters: ((outcome: JoinOutcome) => void)[] = [];
  private readonly leaveWaiters: (() => void)[] = [];
  /** Payloads that failed to decode, by ERR_DECODE_* code. */
  readonly decodeErrors: Record<string, number> = {};
  private stopped = false;

  constructor(opts: MembershipDriverOptions) {
    this.opts = opts;
    opts.transport.onReceive((from, channel, data) => this.onPayload(from, channel, data));
    // A refused connection ends a join attempt or a probe early (push-pull.ts onSendFailed).
    opts.transport.onStreamRefused((to) => this.input({ kind: 'send-failed', now: this.opts.clock.now(), to, channel: 'stream' }));
  }

  get state(): State {
    return this.opts.state;
  }

  /** Starts the protocol and joins `seeds` in the background; the join outcome resolves the returned promise. */
  start(seeds: readonly Address[]): Promise<JoinOutcome> {
    const joined = this.expectJoin(seeds.length > 0);
    this.input({ kind: 'start', now: this.opts.clock.now(), seeds: [...seeds] });
    return joined;
  }

  join(addresses: readonly Address[]): Promise<JoinOutcome> {
    const joined = this.expectJoin(true);
    this.input({ kind: 'join', now: this.opts.clock.now(), addresses: [...addresses] });
    return joined;
  }

  /** Graceful leave: resolves once the `left` update has propagated (or its deadline passed). */
  leave(): Promise<void> {
    if (this.stopped || this.state.phase === 'stopped') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.leaveWaiters.push(resolve));
    this.input({ kind: 'leave', now: this.opts.clock.now() });
    return done;
  }

  /** Replaces this node's labels and spreads them; returns the refusal detail when they are invalid. */
  updateLabels(labels: Labels): string | undefined {
    const effects = this.input({ kind: 'update-labels', now: this.opts.clock.now(), labels });
    for (const effect of effects) if (effect.kind === 'rejected') return effect.detail;
    return undefined;
  }

  /** Lifeguard extension: the event loop was late by `delayMs`; a slow local node should not accuse others. */
  reportLoopDelay(delayMs: number): void {
    this.input({ kind: 'loop-delay', now: this.opts.clock.now(), delayMs: Math.max(0, Math.round(delayMs)) });
  }

  members(): MemberView[] {
    return [...this.state.members.values()].map(memberView);
  }

  /** Stops timers and input handling; does not close the transport (its owner does). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const resolve of this.leaveWaiters.splice(0)) resolve();
    for (const resolve of this.joinWaiters.splice(0)) resolve({ ok: false, reason: 'shutting_down', detail: 'node stopped' });
  }

  private expectJoin(waits: boolean): Promise<JoinOutcome> {
    if (!waits) return Promise.resolve({ ok: true, contacted: 0 });
    if (this.joinWaiters.length >= PENDING_REQUESTS_MAX) {
      return Promise.resolve({ ok: false, reason: 'too_many_members', detail: `more than ${PENDING_REQUESTS_MAX} joins pending` });
    }
    return new Promise((resolve) => this.joinWaiters.push(resolve));
  }

  private onPayload(from: Address, channel: Channel, wire: Uint8Array): void {
    if (this.stopped) return;
    const data = isCompressed(wire) ? this.inflate(wire) : wire;
    if (data === undefined) return;
    const decoded = decodeMessage(data, { clusterId: this.opts.clusterId });
    if (!decoded.ok) {
      this.decodeErrors[decoded.error.code] = (this.decodeErrors[decoded.error.code] ?? 0) + 1;
      this.opts.onTrace?.(`drop ${channel} from ${from}: ${decoded.error.code} ${decoded.error.detail}`);
      if (decoded.error.code === 'ERR_DECODE_WRONG_CLUSTER' && channel === 'stream') this.refuseStranger(data);
      if (decoded.error.code === 'ERR_DECODE_BAD_VERSION' && channel === 'stream') this.onForeignVersion(from, data);
      return;
    }
    // An election message (another mode's node pointed at this one) is refused and counted.
    if (isElectionMessage(decoded.message)) {
      this.decodeErrors['ERR_DECODE_UNKNOWN_TYPE'] = (this.decodeErrors['ERR_DECODE_UNKNOWN_TYPE'] ?? 0) + 1;
      return;
    }
    this.input({ kind: 'receive', now: this.opts.clock.now(), from, channel, message: decoded.message });
  }

  /**
   * A push-pull (a join) from a node of another cluster is answered with a `reject` encoded in
   * *its* cluster id, so its operator reads "wrong_cluster" instead of a timeout. Only stream
   * frames are answered (a connection was made to us), one reject per push-pull.
   */
  private refuseStranger(data: Uint8Array): void {
    const theirs = envelopeClusterId(data);
    if (theirs === undefined) return;
    const decoded = decodeMessage(data, { clusterId: theirs });
    if (!decoded.ok || decoded.message.type !== 'push-pull') return;
    const detail = `the node at ${this.opts.transport.localAddress} belongs to cluster ${JSON.stringify(this.opts.clusterId)}, not ${JSON.stringify(theirs)}`;
    const reject: Message = { type: 'reject', from: this.state.selfId, reason: 'wrong_cluster', detail };
    this.opts.transport.sendFrame(decoded.message.fromAddress, encodeMessage(reject, theirs));
  }

  /**
   * A stream frame in another protocol version. A push-pull (plain or compressed: type numbers
   * are append-only, so they mean the same in every version) is answered with a `reject` in our
   * version; while a join of ours is pending, any such frame ends it with `bad_version`. A reject is never answered, so two versions cannot loop. The peer cannot read
   * our reject's text, but a peer of this build recognises the version and says so.
   */
  private onForeignVersion(from: Address, data: Uint8Array): void {
    const header = envelopeHeader(data);
    if (header === undefined) return;
    const detail = `the node at ${from} speaks Shoal protocol version ${header.version} and this node (${this.opts.transport.localAddress}) speaks ${PROTOCOL_VERSION}; members must share a protocol version`;
    if (header.typeNumber === MESSAGE_TYPE_NUMBERS['push-pull'] || header.typeNumber === COMPRESSED_MESSAGE_TYPE) {
      const reject: Message = { type: 'reject', from: this.state.selfId, reason: 'bad_version', detail };
      this.opts.transport.sendFrame(from, encodeMessage(reject, this.opts.clusterId));
    }
    if (this.state.join !== undefined) this.input({ kind: 'refused', now: this.opts.clock.now(), from, reason: 'bad_version', detail });
  }

  private input(input: Input): readonly Effect[] {
    if (this.stopped) return [];
    this.opts.onTrace?.(`in  ${describeInput(input)}`);
    const { effects } = step(this.state, input, { rng: this.opts.rng, sizeOf: updateEncodedBytes });
    for (const effect of effects) this.perform(effect);
    this.arm();
    return effects;
  }

  private perform(effect: Effect): void {
    this.opts.onTrace?.(`out ${describeEffect(effect)}`);
    switch (effect.kind) {
      case 'send': return this.send(effect.to, effect.channel, effect.message);
      case 'persist': return this.persist(effect.incarnation);
      case 'emit': return this.opts.onEvent(effect.event);
      case 'join-result': {
        const resolve = this.joinWaiters.shift();
        resolve?.(effect.ok ? { ok: true, contacted: effect.contacted } : { ok: false, reason: effect.reason, detail: effect.detail });
        return;
      }
      case 'left-done':
        for (const resolve of this.leaveWaiters.splice(0)) resolve();
        return;
      case 'rejected':
        return; // returned to the caller by the method that made the request
    }
  }

  private send(to: Address, channel: Channel, message: Message): void {
    const bytes = encodeMessage(message, this.opts.clusterId);
    if (channel === 'packet') this.opts.transport.sendPacket(to, bytes);
    else this.opts.transport.sendFrame(to, message.type === 'push-pull' ? this.deflate(bytes) : bytes);
  }

  /** A push-pull view in the compressed wrapper (wire.md), when that is smaller. */
  private deflate(bytes: Uint8Array): Uint8Array {
    if (bytes.length < COMPRESS_BYTES_MIN) return bytes;
    const wrapped = encodeCompressed(deflateRawSync(bytes, { dictionary: DICTIONARY }), bytes.length, this.opts.clusterId);
    return wrapped.length < bytes.length ? wrapped : bytes;
  }

  /**
   * The message inside a compressed wrapper, or undefined (counted like any decode failure). The
   * inflater may produce at most the declared length, itself bounded by decodeMessageBytesMax.
   */
  private inflate(wire: Uint8Array): Uint8Array | undefined {
    const unwrapped = unwrapCompressed(wire);
    if (!unwrapped.ok) return this.dropUndecodable(unwrapped.error.code, unwrapped.error.detail);
    let inner: Uint8Array;
    try {
      inner = inflateRawSync(unwrapped.compressed, { dictionary: DICTIONARY, maxOutputLength: Math.max(1, unwrapped.innerBytes) });
    } catch (err) {
      return this.dropUndecodable('ERR_DECODE_MALFORMED', `compressed payload does not inflate to ${unwrapped.innerBytes} bytes: ${String(err)}`);
    }
    if (inner.length !== unwrapped.innerBytes) return this.dropUndecodable('ERR_DECODE_MALFORMED', `compressed payload inflates to ${inner.length} bytes, not the declared ${unwrapped.innerBytes}`);
    return inner;
  }

  private dropUndecodable(code: string, detail: string): undefined {
    this.decodeErrors[code] = (this.decodeErrors[code] ?? 0) + 1;
    this.opts.onTrace?.(`drop compressed frame: ${code} ${detail}`);
    return undefined;
  }

  /** Write, then fsync, synchronously: the sends after this effect must not overtake it. */
  private persist(incarnation: number): void {
    const { storage } = this.opts;
    storage.writeFile(`${INCARNATION_FILE}.tmp`, new TextEncoder().encode(`${incarnation}\n`));
    storage.fsync(`${INCARNATION_FILE}.tmp`);
    storage.rename(`${INCARNATION_FILE}.tmp`, INCARNATION_FILE);
  }

  /** Keeps exactly one timer, at the core's next deadline. */
  private arm(): void {
    if (this.stopped) return;
    const deadline = nextDeadline(this.state);
    if (deadline === this.timerAtMs && this.timer !== undefined) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAtMs = deadline;
    if (deadline === undefined) return;
    const delayMs = Math.max(0, deadline - this.opts.clock.now()) as Millis;
    this.timer = this.opts.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.timerAtMs = undefined;
      this.input({ kind: 'tick', now: this.opts.clock.now() });
    });
  }
}
