/**
 * A lean gRPC server on node:http2 for the etcd endpoint's handlers (the default stack; the
 * @grpc/grpc-js server remains selectable, server.ts). Profiled under serializable gets at c=64,
 * grpc-js's per-call machinery (interceptor chain, Metadata built from every header set, call
 * objects and stream wrappers, a promise per message decode) took about a third of the leader's
 * busy time; a read itself is a few µs. This server speaks the same wire (gRPC over HTTP/2,
 * github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) with what etcd's clients use:
 * - unary and bidirectional-streaming calls, served by the same handler functions grpc-js
 *   calls: a unary handler gets `{ request, once('cancelled') }` and a callback; a streaming
 *   handler gets a `DuplexCall` with the subset of grpc-js's ServerDuplexStream the endpoint
 *   uses (data / end / drain / cancelled / error events, write, end, writableLength,
 *   writableNeedDrain, emit('error', status));
 * - length-prefixed messages, gzip / deflate compressed requests (grpc-encoding), a bound on a
 *   request message (RESOURCE_EXHAUSTED, grpc-js's message), grpc-timeout deadlines
 *   (DEADLINE_EXCEEDED "Deadline exceeded", and the handler sees a cancel), cancellation by
 *   RST_STREAM or a closed connection, status and percent-encoded message in trailers (or a
 *   trailers-only response when nothing was sent), UNIMPLEMENTED for an unknown path with
 *   grpc-js's text, 415 for a request that is not gRPC;
 * - TLS with a required, CA-verified client certificate (as grpc-js's createSsl(ca, ..., true));
 * - server keep-alive pings (etcd's 2 h interval, 20 s timeout) and a graceful close;
 * - the headers etcd sends and no others (RESPONSE_HEADERS).
 * Responses of a stream written in one turn go out as ONE http2 write (the watch fan-out sends a
 * response per watch per put: one write per stream instead of one per watch).
 */
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { status as Status } from '@grpc/grpc-js';
import { EtcdStatus } from './status.js';
import type { GrpcTls } from './tls.js';

/** One method as proto-loader defines it (the fields this server uses). */
export interface H2Method {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: object): Buffer;
}

/** A handler, as grpc-js's UntypedHandleCall: unary `(call, callback)`, streaming `(call)`. */
export type H2Handler = (call: unknown, callback?: unknown) => void;

export interface H2Route {
  readonly method: H2Method;
  readonly handler: H2Handler;
}

export interface H2ServerOptions {
  /** Largest request message, bytes (a larger one ends the call RESOURCE_EXHAUSTED). */
  readonly receiveMessageBytesMax: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. */
  readonly streamsPerConnectionMax: number;
  /** Interval of the server's keep-alive pings on an open connection, ms. */
  readonly keepaliveMs: number;
  /** A ping not answered within this closes the connection, ms. */
  readonly keepaliveTimeoutMs: number;
  readonly tls?: GrpcTls;
}

/** The error a handler answers with: grpc-js's ServiceError shape (code, details). */
interface StatusLike {
  code?: number;
  details?: string;
  message?: string;
}

/**
 * What etcd's server (grpc-go) sends, and no more: a header the client's gRPC library does not
 * need is one more it builds metadata of on every call (grpc-js: a Metadata entry each, and
 * `grpc-encoding` and `grpc-accept-encoding` each re-set up its compression filter), and one more
 * this server builds into every HEADERS frame. Without `grpc-encoding` a response is identity
 * (PROTOCOL-HTTP2.md); compressed requests are still read. No `date` header either (RESPONSE).
 */
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
/** Node adds a `date` header to every response unless told not to; gRPC has no use for it. */
const RESPONSE = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const RESPONSE_END = { endStream: true, sendDate: false } as http2.ServerStreamResponseOptions;
/** An OK status: grpc-message is optional (etcd sends it empty). */
const OK_TRAILERS = { 'grpc-status': '0' };
const TIMEOUT_RE = /^(\d{1,8})\s*([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};
/** Bytes before a message: compressed flag and big-endian length. */
const PREFIX_BYTES = 5;

const ignore = (): void => undefined;

/** A 'wantTrailers' listener: the emitter (`this`) is the stream. */
function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

function errorStatus(err: unknown): { code: number; details: string } {
  const e = (err ?? {}) as StatusLike;
  const code = typeof e.code === 'number' ? e.code : Status.UNKNOWN;
  return { code, details: e.details ?? e.message ?? 'Unknown error' };
}

function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length + PREFIX_BYTES);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, PREFIX_BYTES);
  return out;
}

/**
 * Splits a stream's DATA into request messages (the 5-byte prefix, then the message),
 * decompressing those flagged compressed. Throws a status for a message too large or that
 * cannot be decompressed.
 */
class MessageReader {
  private held: Buffer | undefined;

  constructor(
    private readonly bytesMax: number,
    private readonly encoding: string,
  ) {}

  push(chunk: Buffer): Buffer[] {
    let buf = this.held === undefined ? chunk : Buffer.concat([this.held, chunk]);
    this.held = undefined;
    const out: Buffer[] = [];
    while (buf.length >= PREFIX_BYTES) {
      const length = buf.readUInt32BE(1);
      if (length > this.bytesMax)
        throw new EtcdStatus(
          Status.RESOURCE_EXHAUSTED,
          `Received message larger than max (${length} vs ${this.bytesMax})`,
        );
      if (buf.length < PREFIX_BYTES + length) break;
      const message = buf.subarray(PREFIX_BYTES, PREFIX_BYTES + length);
      // A copy: its own buffer (as grpc-js gives), so what a handler keeps of it (a key, a
      // value) holds no more than the message, not the whole chunk read from the connection.
      out.push(buf[0] === 0 ? Buffer.from(message) : this.decompress(message));
      buf = buf.subarray(PREFIX_BYTES + length);
    }
    if (buf.length > 0) this.held = buf;
    return out;
  }

  private decompress(message: Buffer): Buffer {
    const options = { maxOutputLength: this.bytesMax };
    try {
      if (this.encoding === 'gzip') return zlib.gunzipSync(message, options);
      if (this.encoding === 'deflate') return zlib.inflateSync(message, options);
    } catch (err) {
      throw (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        ? new EtcdStatus(
            Status.RESOURCE_EXHAUSTED,
            `Received message that decompresses to a size larger than ${this.bytesMax}`,
          )
        : new EtcdStatus(Status.INTERNAL, 'Failed to decompress message');
    }
    throw new EtcdStatus(
      Status.UNIMPLEMENTED,
      `Received message compressed with unsupported encoding "${this.encoding}"`,
    );
  }
}

/** The state every call shares: its HTTP/2 stream, whether headers went out, its end. */
abstract class Call {
  protected headersSent = false;
  /** The status was sent or the stream closed: nothing more goes out. */
  protected done = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    protected readonly stream: http2.ServerHttp2Stream,
    protected readonly route: H2Route,
    protected readonly reader: MessageReader,
    timeout: string | undefined,
  ) {
    stream.on('error', ignore);
    stream.on('close', () => this.closed());
    if (timeout !== undefined) this.startDeadline(timeout);
  }

  private startDeadline(header: string): void {
    const match = TIMEOUT_RE.exec(header);
    if (match === null) {
      process.nextTick(() =>
        this.sendStatus(Status.INTERNAL, `Invalid grpc-timeout value "${header}"`),
      );
      return;
    }
    const ms = Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] ?? 'S'] ?? 1000);
    this.deadline = setTimeout(() => {
      this.sendStatus(Status.DEADLINE_EXCEEDED, 'Deadline exceeded');
      this.cancelled();
    }, ms);
  }

  /** The client went away (or the deadline passed) before the status: tell the handler. */
  protected abstract cancelled(): void;

  private closed(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    if (this.done) return;
    this.done = true;
    this.cancelled();
  }

  /** Decodes a request message (the deserializer answers `Malformed` rather than throwing). */
  protected decode(bytes: Buffer): unknown {
    return this.route.method.requestDeserialize(bytes);
  }

  protected encode(value: object | Uint8Array): Buffer {
    return frame(this.route.method.responseSerialize(value as object) as Buffer);
  }

  protected sendHeaders(): boolean {
    if (this.headersSent) return true;
    if (this.stream.destroyed || this.stream.closed) return false;
    this.headersSent = true;
    this.stream.respond(RESPONSE_HEADERS, RESPONSE);
    return true;
  }

  /** Ends the call with `code`: trailers after `last` (if any), or trailers only. */
  protected sendStatus(code: number, details: string, last?: Buffer): void {
    if (this.done) return;
    this.done = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers =
      code === 0
        ? OK_TRAILERS
        : { 'grpc-status': String(code), 'grpc-message': encodeURI(details) };
    if (!this.headersSent && last === undefined) {
      this.headersSent = true;
      stream.respond({ ...RESPONSE_HEADERS, ...trailers }, RESPONSE_END);
      return;
    }
    this.sendHeaders();
    // An OK status (nearly every call) takes a listener shared by all calls: no closure each.
    if (code === 0) stream.once('wantTrailers', sendOkTrailers);
    else stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    if (last === undefined) stream.end();
    else stream.end(last);
  }

  protected fail(err: unknown): void {
    const { code, details } = errorStatus(err);
    this.sendStatus(code, details);
  }
}

/** A unary call: one request (on half-close), one answer through the callback. */
class UnaryCall extends Call {
  request: unknown;
  private messages = 0;
  private onCancel: (() => void) | undefined;

  start(): void {
    this.stream.on('data', (chunk: Buffer) => this.data(chunk));
    this.stream.on('end', () => this.halfClosed());
  }

  /** grpc-js's call.once('cancelled'): the endpoint's only listener on a unary call. */
  once(_event: 'cancelled', listener: () => void): this {
    this.onCancel = listener;
    return this;
  }

  private data(chunk: Buffer): void {
    if (this.done) return;
    let messages: Buffer[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const bytes of messages) {
      if (++this.messages > 1) {
        this.sendStatus(
          Status.UNIMPLEMENTED,
          `Received a second request message for server streaming method ${this.route.method.path}`,
        );
        return;
      }
      this.request = this.decode(bytes);
    }
  }

  private halfClosed(): void {
    if (this.done) return;
    if (this.messages === 0) {
      this.sendStatus(
        Status.UNIMPLEMENTED,
        `Received no request message for server streaming method ${this.route.method.path}`,
      );
      return;
    }
    this.route.handler(this, (err: unknown, value?: object | Uint8Array) =>
      this.answer(err, value),
    );
  }

  private answer(err: unknown, value: object | Uint8Array | undefined): void {
    if (this.done) return;
    if (err !== null && err !== undefined) {
      this.fail(err);
      return;
    }
    let bytes: Buffer;
    try {
      bytes = this.encode(value ?? {});
    } catch {
      this.sendStatus(Status.INTERNAL, 'Error serializing response');
      return;
    }
    this.sendStatus(0, 'OK', bytes);
  }

  protected cancelled(): void {
    const listener = this.onCancel;
    this.onCancel = undefined;
    listener?.();
  }
}

/**
 * A bidirectional (or server- or client-streaming) call, as the endpoint's OrderedStream and
 * its UNIMPLEMENTED answer use grpc-js's ServerDuplexStream. Responses written in one turn are
 * sent as one http2 write on the next tick (after the turn's promise jobs have run).
 */
class DuplexCall extends Call {
  private readonly events = new EventEmitter();
  /** Framed responses not yet handed to the http2 stream. */
  private pending: Buffer[] = [];
  /** Responses handed to the http2 stream whose write has not completed. */
  private inFlight = 0;
  private flushQueued = false;

  start(): void {
    this.events.on('error', (err: unknown) => this.fail(err));
    this.stream.on('data', (chunk: Buffer) => this.data(chunk));
    this.stream.on('end', () => {
      if (!this.done) this.events.emit('end');
    });
    this.stream.on('drain', () => this.events.emit('drain'));
    this.route.handler(this);
  }

  on(event: string, listener: (...args: unknown[]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** `emit('error', status)` ends the call with that status (as grpc-js's stream does). */
  emit(event: string, ...args: unknown[]): boolean {
    return this.events.emit(event, ...args);
  }

  get writableLength(): number {
    return this.pending.length + this.inFlight;
  }

  get writableNeedDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  write(response: object | Uint8Array): boolean {
    if (this.done) return false;
    let bytes: Buffer;
    try {
      bytes = this.encode(response);
    } catch {
      this.sendStatus(Status.INTERNAL, 'Error serializing response');
      return false;
    }
    this.pending.push(bytes);
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(() => this.flush());
    }
    return !this.stream.writableNeedDrain;
  }

  private take(): Buffer | undefined {
    const pending = this.pending;
    if (pending.length === 0) return undefined;
    this.pending = [];
    return pending.length === 1 ? pending[0] : Buffer.concat(pending);
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.done) return;
    const count = this.pending.length;
    const bytes = this.take();
    if (bytes === undefined || !this.sendHeaders()) return;
    this.inFlight += count;
    this.stream.write(bytes, () => {
      this.inFlight -= count;
    });
  }

  /** Ends the stream with status OK after what was written. */
  end(): void {
    if (this.done) return;
    this.sendStatus(0, 'OK', this.take());
  }

  protected override fail(err: unknown): void {
    if (this.done) return;
    const { code, details } = errorStatus(err);
    // What was written before the error still goes out, then the status.
    const last = this.take();
    if (last !== undefined) this.sendHeaders();
    this.sendStatus(code, details, last);
  }

  private data(chunk: Buffer): void {
    if (this.done) return;
    let messages: Buffer[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
      this.events.emit('cancelled');
      return;
    }
    for (const bytes of messages) {
      if (this.done) return;
      this.events.emit('data', this.decode(bytes));
    }
  }

  protected cancelled(): void {
    this.pending = [];
    this.events.emit('cancelled');
  }
}

export interface H2Server {
  /** The bound port. */
  readonly port: number;
  /** Stops accepting connections, lets calls finish for `graceMs`, then cuts them. */
  close(graceMs: number): Promise<void>;
}

function onStream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  routes: ReadonlyMap<string, H2Route>,
  options: H2ServerOptions,
): void {
  const contentType = headers['content-type'];
  if (
    headers[':method'] !== 'POST' ||
    typeof contentType !== 'string' ||
    !contentType.startsWith('application/grpc')
  ) {
    stream.on('error', () => undefined);
    stream.respond({ ':status': 415 }, { endStream: true });
    return;
  }
  const path = headers[':path'] ?? '';
  const route = routes.get(path);
  if (route === undefined) {
    stream.on('error', () => undefined);
    stream.respond(
      {
        ...RESPONSE_HEADERS,
        'grpc-status': String(Status.UNIMPLEMENTED),
        'grpc-message': encodeURI(`The server does not implement the method ${path}`),
      },
      RESPONSE_END,
    );
    return;
  }
  const encoding = headers['grpc-encoding'];
  const reader = new MessageReader(
    options.receiveMessageBytesMax,
    typeof encoding === 'string' ? encoding : 'identity',
  );
  const timeout = headers['grpc-timeout'];
  const deadline = typeof timeout === 'string' ? timeout : undefined;
  if (route.method.requestStream || route.method.responseStream)
    new DuplexCall(stream, route, reader, deadline).start();
  else new UnaryCall(stream, route, reader, deadline).start();
}

/** Pings a connection every keepaliveMs; one unanswered for keepaliveTimeoutMs ends it. */
function keepAlive(session: http2.ServerHttp2Session, options: H2ServerOptions): void {
  const timer = setInterval(() => {
    if (session.closed || session.destroyed) return;
    const timeout = setTimeout(() => session.destroy(), options.keepaliveTimeoutMs);
    timeout.unref();
    let sent = false;
    try {
      sent = session.ping((err) => {
        clearTimeout(timeout);
        if (err !== null) session.destroy();
      });
    } catch {
      // The session is closing: its 'close' clears this interval.
    }
    if (!sent) clearTimeout(timeout);
  }, options.keepaliveMs);
  timer.unref();
  session.once('close', () => clearInterval(timer));
}

/** Listens on host:port and serves `routes` (path `/package.Service/Method` -> route). */
export function listenH2(
  host: string,
  port: number,
  routes: ReadonlyMap<string, H2Route>,
  options: H2ServerOptions,
): Promise<H2Server> {
  const common = {
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
    maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    settings: { maxConcurrentStreams: options.streamsPerConnectionMax },
  };
  const tls = options.tls;
  const server =
    tls === undefined
      ? http2.createServer(common)
      : http2.createSecureServer({
          ...common,
          cert: tls.cert,
          key: tls.key,
          ca: tls.ca,
          requestCert: true,
          rejectUnauthorized: true,
        });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.once('close', () => sessions.delete(session));
    keepAlive(session, options);
  });
  server.on('sessionError', () => undefined);
  server.on('stream', (stream, headers) => onStream(stream, headers, routes, options));
  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> =>
    (closing ??= new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const session of sessions) session.close();
    }));
  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      server.on('error', () => undefined);
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : port,
        close,
      });
    });
  });
}
