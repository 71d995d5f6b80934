/**
 * What every handler of the etcd endpoint shares: the KvService, the limits, the counters and
 * the log, and the two call shapes built on them: a unary call (one request, one answer, an
 * AbortSignal that fires when the client cancels or its deadline passes) and an ordered stream
 * (requests handled one at a time, in arrival order, with a bounded queue; responses held for a
 * slow client bounded too).
 *
 * Every refusal is counted by gRPC status name (`refused`), malformed messages apart
 * (`malformed`); an error no mapping knows (a bug) is answered UNKNOWN, counted in `unexpected`
 * and logged.
 */
import {
  status as Status,
  type ServerDuplexStream,
  type handleUnaryCall,
  type sendUnaryData,
  type ServiceError,
} from '@grpc/grpc-js';
import type { CancelSignal, KvHeader, KvService } from '../node/kv-service.js';
import type { EtcdGrpcConfig } from './config.js';
import { HeaderBytes } from './encode.js';
import { isMalformed } from './proto.js';
import { shoalStatus, toEtcdStatus, type EtcdStatus } from './status.js';

/** The subset of a pino logger the endpoint writes to. */
export interface EtcdLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const SILENT_LOG: EtcdLog = { warn: () => undefined, error: () => undefined };

export interface EtcdGrpcStats {
  /** Calls started, by `Service/Method`. */
  calls: Record<string, number>;
  /** Calls and streams answered with an error, by gRPC status name (NOT_FOUND, ...). */
  refused: Record<string, number>;
  /** Request messages that did not parse (answered INVALID_ARGUMENT). */
  malformed: number;
  /** Errors no mapping knows (answered UNKNOWN and logged): bugs. */
  unexpected: number;
  /** Watch and keep-alive streams open now. */
  streamsOpen: number;
  /** Requests received on streams (watch creates, cancels, progress; keep-alives). */
  streamRequests: number;
  /** Watches open now, over all streams. */
  watchesOpen: number;
  /** Watch responses sent, and of them progress notifications. */
  watchResponses: number;
  progressNotifications: number;
}

function newStats(): EtcdGrpcStats {
  return {
    calls: {},
    refused: {},
    malformed: 0,
    unexpected: 0,
    streamsOpen: 0,
    streamRequests: 0,
    watchesOpen: 0,
    watchResponses: 0,
    progressNotifications: 0,
  };
}

const STATUS_NAMES = new Map<number, string>(
  Object.entries(Status)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, code]) => [code, name]),
);

export class Endpoint {
  readonly stats: EtcdGrpcStats = newStats();
  /** The newest header this endpoint handed out, for answers that carry no result of their own. */
  private lastHeader: KvHeader | undefined;
  /** Encoded headers (encode.ts): the last one, reused while the revision and term stand. */
  readonly headerBytes = new HeaderBytes();

  constructor(
    readonly kv: KvService,
    readonly config: EtcdGrpcConfig,
    readonly log: EtcdLog,
  ) {}

  /** Notes `header` as the latest seen and returns it. */
  seen(header: KvHeader): KvHeader {
    this.lastHeader = header;
    return header;
  }

  /**
   * A header for an answer with no result of its own (a refused watch create, a keep-alive of
   * an unknown lease): the latest one seen, else the store's status. Its revision is a lower
   * bound on the store's, which is all etcd promises there.
   */
  async header(): Promise<KvHeader> {
    return this.lastHeader ?? this.seen((await this.kv.status()).header);
  }

  countCall(method: string): void {
    this.stats.calls[method] = (this.stats.calls[method] ?? 0) + 1;
  }

  /** The gRPC error for `err`, counted (and logged when it is a bug). */
  refuse(method: string, err: unknown): ServiceError {
    const { status, unexpected } = toEtcdStatus(err);
    return this.refuseWith(method, status, unexpected ? err : undefined);
  }

  refuseWith(method: string, status: EtcdStatus, bug?: unknown): ServiceError {
    const name = STATUS_NAMES.get(status.code) ?? String(status.code);
    this.stats.refused[name] = (this.stats.refused[name] ?? 0) + 1;
    if (bug !== undefined) {
      this.stats.unexpected++;
      this.log.error({ err: bug, method }, 'etcd endpoint: unexpected error');
    }
    const error = new Error(status.details) as ServiceError;
    error.code = status.code;
    error.details = status.details;
    return error;
  }

  /** INVALID_ARGUMENT for a request that did not parse (counted apart from other refusals). */
  malformed(method: string, reason: string): ServiceError {
    this.stats.malformed++;
    return this.refuseWith(method, shoalStatus(Status.INVALID_ARGUMENT, reason));
  }
}

/**
 * A unary call's cancellation, and the signal handed to the store: a CancelSignal (kv-service.ts)
 * with its listeners in an array, not an AbortController. An AbortController per call, made
 * only when a handler asked for one (every put and linearizable read does), and the listener
 * the store adds to it and removes again, were about 4 % of the leader's busy time under puts
 * (node:internal/abort_controller and event_target in its profile). Like an AbortSignal's, a
 * listener runs once, and one added after the cancel never runs.
 */
export class CallCancel implements CancelSignal {
  private cancelled = false;
  private listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.cancelled;
  }

  /** Fires when the client cancels (or its deadline passes) before the answer. */
  get signal(): CancelSignal {
    return this;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.cancelled) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    const at = listeners?.indexOf(listener) ?? -1;
    if (at >= 0) listeners?.splice(at, 1);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }
}

/** A unary handler: `handle` gets the parsed request and the call's cancellation. */
export function unary<Req>(
  ep: Endpoint,
  method: string,
  handle: (request: Req, cancel: CallCancel) => Promise<object>,
): handleUnaryCall<object, object> {
  return (call, callback: sendUnaryData<object>) => {
    ep.countCall(method);
    const request: unknown = call.request;
    if (isMalformed(request)) {
      callback(ep.malformed(method, request.malformed));
      return;
    }
    const cancel = new CallCancel();
    // grpc-js reports every call's stream closing as 'cancelled', answered or not: only a
    // cancel before the answer aborts (an abort costs a DOMException, tens of µs).
    let answered = false;
    call.once('cancelled', () => {
      if (!answered) cancel.cancel();
    });
    handle(request as Req, cancel).then(
      (response) => {
        answered = true;
        callback(null, response);
      },
      (err: unknown) => {
        answered = true;
        callback(ep.refuse(method, err));
      },
    );
  };
}

/**
 * One bidirectional stream whose requests are handled in order, one at a time. `handle` may
 * send any number of responses; the stream ends with `fail` (a status), `finish` (OK), or when
 * the client goes away. Subclasses implement `handle` and `onClose`.
 */
export abstract class OrderedStream<Req> {
  protected closed = false;
  private queued = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly writableWaiters = new Set<() => void>();
  /** The client half-closed: finish once the queue is empty. */
  private ending = false;

  constructor(
    protected readonly ep: Endpoint,
    protected readonly method: string,
    protected readonly call: ServerDuplexStream<object, object>,
  ) {
    ep.countCall(method);
    ep.stats.streamsOpen++;
    call.on('data', (request: unknown) => this.enqueue(request));
    call.on('end', () => {
      this.ending = true;
      if (this.queued === 0) this.finish();
    });
    call.on('drain', () => this.wakeWriters());
    call.on('cancelled', () => this.close());
    call.on('error', () => this.close());
  }

  protected abstract handle(request: Req): Promise<void> | void;
  /** Releases what the stream holds (watches, timers); called once. */
  protected abstract onClose(): void;

  private enqueue(request: unknown): void {
    if (this.closed) return;
    this.ep.stats.streamRequests++;
    if (isMalformed(request)) {
      this.failWith(this.ep.malformed(this.method, request.malformed));
      return;
    }
    if (this.queued >= this.ep.config.streamRequestsQueuedMax) {
      this.fail(
        shoalStatus(
          Status.RESOURCE_EXHAUSTED,
          `more than ${this.ep.config.streamRequestsQueuedMax} requests wait on this stream (streamRequestsQueuedMax)`,
        ),
      );
      return;
    }
    this.queued++;
    this.chain = this.chain
      .then(() => (this.closed ? undefined : this.handle(request as Req)))
      .catch((err: unknown) => this.failWith(this.ep.refuse(this.method, err)))
      .finally(() => {
        this.queued--;
        if (this.ending && this.queued === 0) this.finish();
      });
  }

  /**
   * Sends one response. Past streamResponsesQueuedMax responses waiting for the client the
   * stream fails; returns false when the caller should `writable()` before sending more.
   */
  protected send(response: object | Uint8Array): boolean {
    if (this.closed) return false;
    if (this.call.writableLength >= this.ep.config.streamResponsesQueuedMax) {
      this.fail(
        shoalStatus(
          Status.RESOURCE_EXHAUSTED,
          `${this.call.writableLength} responses wait for a client that does not read (streamResponsesQueuedMax)`,
        ),
      );
      return false;
    }
    return this.call.write(response);
  }

  /**
   * Resolves when the client has read what was sent (or the stream closed). The stream's one
   * `drain` listener (set in the constructor) wakes every waiter: a listener per waiter passed
   * Node's 10-listener warning with a few dozen watches on one stream.
   */
  protected writable(): Promise<void> {
    if (this.closed || !this.call.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.add(resolve));
  }

  private wakeWriters(): void {
    const waiters = [...this.writableWaiters];
    this.writableWaiters.clear();
    for (const waiter of waiters) waiter();
  }

  /** Ends the stream with an error status. */
  protected fail(status: EtcdStatus): void {
    this.failWith(this.ep.refuseWith(this.method, status));
  }

  private failWith(error: ServiceError): void {
    if (this.closed) return;
    this.close();
    this.call.emit('error', error);
  }

  /** Ends the stream with status OK. */
  protected finish(): void {
    if (this.closed) return;
    this.close();
    this.call.end();
  }

  protected close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ep.stats.streamsOpen--;
    this.wakeWriters();
    this.onClose();
  }
}
