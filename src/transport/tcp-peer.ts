/**
 * One outgoing stream connection to one peer (memberlist keeps one per peer, so do we). Frames
 * wait in a bounded queue (oldest dropped and counted) while the connection is being made, is
 * backed up, or is being re-made; a lost connection is re-dialled with capped exponential backoff
 * and jitter while frames are queued, up to `reconnectAttemptsMax` attempts, after which the queue
 * is dropped and counted as `unreachable`. The connection is ordered and reliable while it lives;
 * frames already handed to a socket that then breaks are lost (the protocols above retry).
 *
 * An acceptor that refuses the connection says why first (`tcp-refusal.ts`): the peer counts it
 * (`refused_by_peer`), drops what it had queued (as `unreachable`) and tells its owner the
 * reason; it does not re-dial until the next frame is sent.
 *
 * Frames are coalesced: `send` only queues, and the frames queued in one event-loop turn leave in
 * one socket write at the end of it (`setImmediate`), each with its header, in order. A Raft
 * leader at c=64 sends one AppendEntries per follower per proposal batch plus heartbeats and
 * acks: one write (and one syscall, one TCP segment) per frame was the biggest single cost on its
 * profile (docs/notes/issue-13.md). A batch stops growing once it would fill the socket's buffer
 * up to its high-water mark (at least one frame goes), so frames the socket cannot take yet stay
 * in the bounded queue, where the oldest is dropped and counted, as before; a turn that fills the
 * queue on a connection that is not backed up flushes early rather than drop.
 *
 * A connection with nothing queued and nothing written for `outboundIdleTimeoutMs` is closed by
 * the dialer (the acceptor's idle timeout is only the backstop for dialers that vanish): most
 * streams carry one push-pull or one fallback probe, and a node that kept each one open would
 * hold descriptors for every peer it talked to lately. The next frame dials afresh.
 *
 * A connection the peer closed (its end, not our idle timeout) is re-dialled at once, queue or
 * not, to learn whether anything still listens there: a process that died (kill -9, a crash, an
 * exit) has its sockets closed by its kernel, and the dial is then refused (ECONNREFUSED), which
 * the owner is told. Raft followers stand for election on that instead of waiting out the election
 * timeout (src/raft/election.ts `onPeerRefused`). At most one such probe per
 * `PROBE_INTERVAL_MIN_MS`, so a live peer that keeps closing our connections is not dialled in a
 * loop; a probe that connects is an ordinary connection, closed when idle.
 */
import { connect, type Socket } from 'node:net';
import type { Address, HostPort } from '../base/address.js';
import { countDrop } from './counters.js';
import { DropOldestQueue } from './bounded-queue.js';
import { FRAME_HEADER_BYTES, FrameDecoder, encodeFrameHeader } from '../codec/frame.js';
import { encodeHello } from './tcp-hello.js';
import { REFUSAL_BYTES, decodeRefusal } from './tcp-refusal.js';
import type { StreamRefusal, TransportStats } from './types.js';

/** The least time between two probes of one peer (re-dials of a connection it closed). */
export const PROBE_INTERVAL_MIN_MS = 1_000;

export interface PeerOptions {
  sendQueueDepthMax: number;
  reconnectBackoffMinMs: number;
  reconnectBackoffMaxMs: number;
  reconnectAttemptsMax: number;
  connectTimeoutMs: number;
  /** A connected stream with nothing sent for this long is closed; the next frame re-dials. 0 disables. */
  outboundIdleTimeoutMs: number;
}

/**
 * Delay before reconnect attempt number `attempt` (1-based): `min * 2^(attempt-1)` capped at
 * `max`, then "equal jitter" (half fixed, half uniform by `unit` in [0, 1)) so that peers that
 * lost a node at the same moment do not all re-dial it in step.
 */
export function reconnectDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  unit: number,
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(base / 2 + (base / 2) * unit);
}

export class OutboundPeer {
  private readonly queue: DropOldestQueue<Uint8Array>;
  private socket: Socket | undefined;
  private connected = false;
  /** Waiting for 'drain' after a write returned false: TCP backpressure. */
  private blocked = false;
  /** A flush is due at the end of this event-loop turn (`setImmediate`). */
  private flushPending: NodeJS.Immediate | undefined;
  private failedAttempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** What the acceptor said before closing the current connection, if anything. */
  private refusal: StreamRefusal | undefined;
  /** When the last probe was dialled (`performance.now()`), if ever. */
  private probedAtMs: number | undefined;

  constructor(
    private readonly target: HostPort,
    private readonly localAddress: Address,
    private readonly options: PeerOptions,
    private readonly stats: TransportStats,
    /** Called when the peer has no connection and nothing queued: the owner may forget it. */
    private readonly onIdle: () => void,
    /**
     * Called once per dial refused with ECONNREFUSED (nothing listens on the port: no reason), or
     * per connection the acceptor refused with a reason.
     */
    private readonly onRefused: (refusal?: StreamRefusal) => void = () => undefined,
    /** The first frame of each connection. @defaultValue the plain hello of `localAddress` */
    private readonly hello: () => Uint8Array = () => encodeHello(localAddress),
  ) {
    this.queue = new DropOldestQueue(options.sendQueueDepthMax);
  }

  send(data: Uint8Array): void {
    // A turn that fills the queue while the socket could take more flushes early: frames are
    // dropped only while the connection is missing or backed up, never for waiting for the turn.
    if (this.connected && !this.blocked && this.queue.length === this.queue.capacity) this.flush();
    if (this.queue.push(data) !== undefined) countDrop(this.stats, 'queue_overflow');
    if (this.connected) this.scheduleFlush();
    else if (this.socket === undefined && this.retryTimer === undefined) this.dial();
  }

  /** Destroys the connection and discards queued frames (not counted: the owner is closing). */
  close(): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.flushPending !== undefined) clearImmediate(this.flushPending);
    this.flushPending = undefined;
    this.queue.clear();
    this.socket?.destroy();
    this.socket = undefined;
  }

  private dial(): void {
    const socket = connect({ host: this.target.host, port: this.target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    // One timer serves both phases: the connect timeout until connected, then the idle timeout.
    socket.setTimeout(this.options.connectTimeoutMs);
    socket.on('timeout', () => this.onSocketTimeout(socket));
    socket.on('connect', () => {
      socket.setTimeout(this.options.outboundIdleTimeoutMs);
      socket.setKeepAlive(true, 30_000);
      this.connected = true;
      this.failedAttempts = 0;
      this.flush(this.hello());
    });
    socket.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    // The acceptor writes nothing on this connection but a refusal before it closes it.
    const decoder = new FrameDecoder(REFUSAL_BYTES);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      const next = decoder.next();
      if (next !== undefined && 'frame' in next && this.socket === socket)
        this.refusal ??= decodeRefusal(next.frame);
      if (next !== undefined) socket.removeAllListeners('data').resume();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && !this.connected && this.socket === socket && !this.closed)
        this.onRefused();
    });
    socket.on('close', () => this.onSocketClose(socket));
  }

  /**
   * Before connecting: the connect timed out, so fail the attempt. After: the stream was idle;
   * close it unless frames wait (queued here or unsent in the socket), forgetting the socket
   * first so that a send before its 'close' event dials a new one instead of writing to it.
   */
  private onSocketTimeout(socket: Socket): void {
    if (this.socket !== socket) return;
    if (!this.connected) {
      socket.destroy();
      return;
    }
    if (this.queue.length > 0 || socket.writableLength > 0) return;
    this.socket = undefined;
    this.connected = false;
    this.blocked = false;
    socket.destroy();
    this.onIdle();
  }

  private onSocketClose(socket: Socket): void {
    if (this.socket !== socket) return;
    const wasConnected = this.connected;
    const refusal = this.refusal;
    this.socket = undefined;
    this.connected = false;
    this.blocked = false;
    this.refusal = undefined;
    if (this.closed) return;
    if (refusal !== undefined) {
      countDrop(this.stats, 'refused_by_peer');
      const dropped = this.queue.clear();
      if (dropped > 0) countDrop(this.stats, 'unreachable', dropped);
      this.failedAttempts = 0;
      this.onRefused(refusal);
      return this.onIdle();
    }
    if (!wasConnected) this.failedAttempts++;
    if (wasConnected && this.mayProbe()) return this.dial();
    if (this.queue.length === 0) return this.onIdle();
    if (this.failedAttempts >= this.options.reconnectAttemptsMax) {
      countDrop(this.stats, 'unreachable', this.queue.clear());
      this.failedAttempts = 0;
      return this.onIdle();
    }
    this.scheduleRedial();
  }

  /** Whether a connection the peer closed may be re-dialled at once (see the module comment). */
  private mayProbe(): boolean {
    // Transports are drivers, not protocol cores: real clocks are allowed here.
    const nowMs = performance.now();
    if (this.probedAtMs !== undefined && nowMs - this.probedAtMs < PROBE_INTERVAL_MIN_MS)
      return false;
    this.probedAtMs = nowMs;
    return true;
  }

  private scheduleRedial(): void {
    const { reconnectBackoffMinMs: minMs, reconnectBackoffMaxMs: maxMs } = this.options;
    // Transports are drivers, not protocol cores: real timers and Math.random are allowed here.
    const delayMs = reconnectDelayMs(Math.max(1, this.failedAttempts), minMs, maxMs, Math.random());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && this.queue.length > 0) this.dial();
    }, delayMs);
    this.retryTimer.unref();
  }

  /** Queues a flush at the end of this event-loop turn, so that the turn's frames share a write. */
  private scheduleFlush(): void {
    if (this.flushPending !== undefined) return;
    this.flushPending = setImmediate(() => {
      this.flushPending = undefined;
      this.flush();
    });
  }

  /**
   * Writes queued frames (after `first`, the hello, when given) in batches of one buffer each,
   * until the queue is empty or the socket is backed up. A batch takes frames while they fit in
   * the room left below the socket's high-water mark, and always at least one.
   */
  private flush(first?: Uint8Array): void {
    const frames: Uint8Array[] = first === undefined ? [] : [first];
    while (this.connected && !this.blocked && (this.queue.length > 0 || frames.length > 0)) {
      const socket = this.socket as Socket;
      const roomBytes = socket.writableHighWaterMark - socket.writableLength;
      let batchBytes = frames.reduce((sum, f) => sum + FRAME_HEADER_BYTES + f.length, 0);
      while (this.queue.length > 0) {
        const frameBytes = FRAME_HEADER_BYTES + (this.queue.peek() as Uint8Array).length;
        if (frames.length > 0 && batchBytes + frameBytes > roomBytes) break;
        const frame = this.queue.shift() as Uint8Array;
        this.stats.framesSent++;
        this.stats.frameBytesSent += frame.length;
        frames.push(frame);
        batchBytes += frameBytes;
      }
      this.blocked = !socket.write(concatFrames(frames, batchBytes));
      frames.length = 0;
    }
  }
}

/** The frames, each behind its 4-byte header, in one buffer of `totalBytes`. */
function concatFrames(frames: readonly Uint8Array[], totalBytes: number): Buffer {
  const out = Buffer.allocUnsafe(totalBytes);
  let at = 0;
  for (const frame of frames) {
    out.set(encodeFrameHeader(frame.length), at);
    out.set(frame, at + FRAME_HEADER_BYTES);
    at += FRAME_HEADER_BYTES + frame.length;
  }
  return out;
}
