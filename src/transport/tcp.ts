/**
 * The stream half of the network transport (node:net): a listener on the same address and port
 * as UDP, plus one lazily dialled outgoing connection per peer (`tcp-peer.ts`). Frames are
 * length-prefixed (`framing.ts`); the first frame on every connection is the dialer's hello
 * (`tcp-hello.ts`) so `from` is the peer's listen address. A reply goes back on this node's own
 * outgoing connection to `from`, never on the inbound one; the only thing an acceptor ever
 * writes on an inbound connection is a refusal just before it closes it (`tcp-refusal.ts`).
 * In raft mode (`authenticatePeers`) the hello is the dialer's signed one (`peer-auth.ts`) and
 * every frame is delivered with the NodeId it proved.
 *
 * Limits (STYLE.md section 7): frame size (refused from the header, before buffering), hello
 * size, concurrent inbound connections, outgoing peers, per-peer send queue, reconnect attempts,
 * idle inbound and outbound connections (`tcp-peer.ts`). Before a connection authenticates
 * (tcp-inbound.ts: its first frame the receiver accepts) it must send its hello within
 * `helloTimeoutMs` and an accepted frame within `inboundAuthTimeoutMs`, its frames are at most
 * `unauthenticatedFrameBytesMax`, and what all such connections hold for unfinished frames is at
 * most `unauthenticatedBufferedBytesMax`; all inbound connections together hold at most
 * `inboundBufferedBytesMax`. The connection that would break a cap is closed and counted. At
 * `inboundConnectionsMax` a new connection evicts the idlest unauthenticated one, so idle or
 * hostile dialers cannot lock members out; only when every connection is a member's is it refused.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import { encodeFrame } from '../codec/frame.js';
import type { NodeId } from '../identity/node-id.js';
import type { PeerAuthRefusal, PeerAuthenticator } from './peer-auth.js';
import { bindError, countDrop, destination, type DropReason } from './counters.js';
import { InboundConnection, type InboundLimits, type InboundOwner } from './tcp-inbound.js';
import { OutboundPeer, type PeerOptions } from './tcp-peer.js';
import { encodeRefusal } from './tcp-refusal.js';
import type { Delivery, StreamGauges, StreamRefusal, TransportStats } from './types.js';

/** Receives one frame; returns what the receiver made of it (nothing: accepted). */
export type FrameHandler = (from: Address, data: Uint8Array, peer?: NodeId) => Delivery | void;

export interface TcpOptions extends PeerOptions {
  /**
   * Concurrent inbound connections. At the limit a new connection evicts the idlest
   * unauthenticated one (`inbound_evicted`); when all are authenticated it is refused
   * (`inbound_limit`).
   */
  inboundConnectionsMax: number;
  /** Peers with an outgoing connection or queued frames; frames to more are dropped as `peer_limit`. */
  outboundPeersMax: number;
  /** An inbound connection silent this long (no hello, no frames) is closed. 0 disables. */
  inboundIdleTimeoutMs: number;
  /** The hello must arrive this long after accept, or the connection is closed (`hello_timeout`). 0 disables. */
  helloTimeoutMs: number;
  /**
   * After its hello a connection must deliver a frame the receiver accepts (with a keyring: one
   * that authenticates) within this, or it is closed (`auth_timeout`). 0 disables.
   */
  inboundAuthTimeoutMs: number;
  /** Largest frame read from a connection before it authenticated (`oversized` beyond). */
  unauthenticatedFrameBytesMax: number;
  /** Bytes all unauthenticated connections may hold for unfinished frames (`buffer_limit` beyond). */
  unauthenticatedBufferedBytesMax: number;
  /** Bytes all inbound connections may hold for unfinished frames (`buffer_limit` beyond). */
  inboundBufferedBytesMax: number;
}

/** Defaults, sized for a LAN cluster of a few thousand nodes. */
export const TCP_DEFAULTS: TcpOptions = {
  /** @defaultValue 512 (memberlist falls over near 128 concurrent push-pulls; refusal + retry keeps us up). */
  inboundConnectionsMax: 512,
  /** @defaultValue 4096 */
  outboundPeersMax: 4096,
  /** @defaultValue 60 s */
  inboundIdleTimeoutMs: 60_000,
  /** @defaultValue 5 s: a dialer writes its hello as soon as it connects. */
  helloTimeoutMs: 5_000,
  /** @defaultValue 10 s: a dialer's first frame follows its hello at once; 4 MiB at 10 Mbit/s takes 3.4 s. */
  inboundAuthTimeoutMs: 10_000,
  /** @defaultValue frameBytesMax (4 MiB): a member's first frame may be a whole push-pull view. */
  unauthenticatedFrameBytesMax: LIMITS.frameBytesMax,
  /** @defaultValue 16 MiB: four largest frames in flight from peers not yet authenticated. */
  unauthenticatedBufferedBytesMax: 16 * 1024 * 1024,
  /** @defaultValue 64 MiB: sixteen largest frames in flight at once. */
  inboundBufferedBytesMax: 64 * 1024 * 1024,
  sendQueueDepthMax: LIMITS.sendQueueDepthMax,
  reconnectBackoffMinMs: LIMITS.reconnectBackoffMinMs,
  reconnectBackoffMaxMs: LIMITS.reconnectBackoffMaxMs,
  /** @defaultValue 8 (with the default backoff: about 12 s of retries before queued frames are dropped). */
  reconnectAttemptsMax: 8,
  /** @defaultValue 10 s */
  connectTimeoutMs: 10_000,
  /**
   * @defaultValue 10 s: long enough that a burst of frames to one peer shares one connection,
   * short enough that connections opened for one push-pull or one fallback probe do not stay
   * until the acceptor's 60 s idle timeout (two descriptors each when both ends share a process).
   */
  outboundIdleTimeoutMs: 10_000,
};

/** How long a refused connection is kept open (reading and discarding) so the refusal arrives. */
export const REFUSAL_LINGER_MS = 1_000;
/** Refused connections lingering at once; more are closed at once (their refusal may be lost). */
export const REFUSALS_LINGERING_MAX = 64;

/** Throws ERR_INVALID_CONFIG when the stream limits contradict each other. */
export function validateTcpOptions(options: TcpOptions): void {
  const rule = (ok: boolean, text: string): void => {
    if (!ok) throw new ShoalError('ERR_INVALID_CONFIG', `invalid transport option: ${text}`);
  };
  const o = options;
  rule(
    o.unauthenticatedFrameBytesMax <= LIMITS.frameBytesMax,
    `unauthenticatedFrameBytesMax (${o.unauthenticatedFrameBytesMax}) must be at most frameBytesMax (${LIMITS.frameBytesMax})`,
  );
  rule(
    o.unauthenticatedBufferedBytesMax <= o.inboundBufferedBytesMax,
    `unauthenticatedBufferedBytesMax (${o.unauthenticatedBufferedBytesMax}) must be at most inboundBufferedBytesMax (${o.inboundBufferedBytesMax})`,
  );
  rule(o.inboundConnectionsMax >= 1, 'inboundConnectionsMax must be at least 1');
}

export class TcpEndpoint implements InboundOwner {
  private readonly inbound = new Set<InboundConnection>();
  private readonly lingering = new Set<Socket>();
  private readonly peers = new Map<Address, OutboundPeer>();
  private closed = false;
  private activity = 0;
  private readonly limits: InboundLimits;
  /** Inbound connections and the bytes they hold; copied into `TransportStats.streams`. */
  readonly gauges: StreamGauges = {
    inbound: 0,
    unauthenticated: 0,
    bufferedBytes: 0,
    unauthenticatedBufferedBytes: 0,
    bufferedBytesPeak: 0,
    unauthenticatedBufferedBytesPeak: 0,
  };
  /** This node's listen address, sent in every hello; set once the whole transport is bound. */
  advertiseAddress: Address | undefined;
  /** Told when a dial to a peer is refused (ECONNREFUSED, or the acceptor's refusal). */
  onRefused: ((to: Address, refusal?: StreamRefusal) => void) | undefined;
  /** Set by `authenticatePeers`: dialers must open with a signed hello (peer-auth.ts). */
  acceptHello: ((frame: Uint8Array) => { from: Address; peer: NodeId } | undefined) | undefined;
  private peerAuth: PeerAuthenticator | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: TcpOptions,
    private readonly stats: TransportStats,
    private readonly onFrame: FrameHandler,
    readonly port: number,
  ) {
    this.limits = { ...options, frameBytesMax: LIMITS.frameBytesMax };
  }

  /** Listens on `host:port` (0 picks a port); rejects with ERR_TRANSPORT_BIND on failure. */
  static listen(
    host: string,
    port: number,
    options: TcpOptions,
    stats: TransportStats,
    onFrame: FrameHandler,
  ): Promise<TcpEndpoint> {
    validateTcpOptions(options);
    const server = createServer({ noDelay: true });
    return new Promise<TcpEndpoint>((resolve, reject) => {
      const onListenError = (err: NodeJS.ErrnoException): void => {
        server.close();
        reject(bindError('TCP', host, port, err));
      };
      server.once('error', onListenError);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', onListenError);
        const actualPort = (server.address() as { port: number }).port;
        const endpoint = new TcpEndpoint(server, options, stats, onFrame, actualPort);
        server.on('error', () => countDrop(stats, 'socket_error'));
        server.on('connection', (socket) => endpoint.onConnection(socket));
        resolve(endpoint);
      });
    });
  }

  /** Queues `data` on the connection to `to`; never throws. */
  send(to: Address, data: Uint8Array): void {
    if (this.closed) return countDrop(this.stats, 'closed');
    if (data.length > LIMITS.frameBytesMax) return countDrop(this.stats, 'oversized');
    const target = destination(this.stats, to);
    if (target === undefined) return;
    let peer = this.peers.get(to);
    if (peer === undefined) {
      if (this.peers.size >= this.options.outboundPeersMax)
        return countDrop(this.stats, 'peer_limit');
      assert(
        this.advertiseAddress !== undefined,
        'TcpEndpoint.send before advertiseAddress was set',
      );
      const created = new OutboundPeer(
        target,
        this.advertiseAddress,
        this.options,
        this.stats,
        () => {
          if (this.peers.get(to) === created) this.peers.delete(to);
        },
        (refusal) => this.onRefused?.(to, refusal),
        this.helloFor(to),
      );
      peer = created;
      this.peers.set(to, peer);
    }
    peer.send(data);
  }

  /**
   * Dialers must authenticate from now on (raft mode): this endpoint's own dials open with
   * `auth`'s signed hello, and an accepted connection whose first frame is not a hello `auth`
   * verifies for one of `acceptor` (this node's addresses) is refused (`peer_auth`), counted as
   * `peer_auth_<reason>` and told to `onRefusedHello`. Connections already open are closed.
   */
  authenticatePeers(
    auth: PeerAuthenticator,
    acceptor: readonly Address[],
    onRefusedHello: (reason: PeerAuthRefusal, detail: string) => void = () => undefined,
  ): void {
    this.peerAuth = auth;
    this.acceptHello = (frame) => {
      const verdict = auth.verify(frame, acceptor);
      if (verdict.ok) return { from: verdict.hello.address, peer: verdict.hello.id };
      countDrop(this.stats, `peer_auth_${verdict.reason}`);
      onRefusedHello(verdict.reason, verdict.detail);
      return undefined;
    };
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const connection of [...this.inbound]) {
      this.forget(connection);
      connection.socket.destroy();
    }
  }

  /** The first frame of a connection to `to`: signed where peers authenticate. */
  private helloFor(to: Address): (() => Uint8Array) | undefined {
    const auth = this.peerAuth;
    const self = this.advertiseAddress as Address;
    return auth === undefined ? undefined : () => auth.hello(self, to);
  }

  /** Stops listening and destroys every connection; queued frames are discarded. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const connection of [...this.inbound]) {
      this.forget(connection);
      connection.socket.destroy();
    }
    for (const socket of this.lingering) socket.destroy();
    this.lingering.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // ---- InboundOwner: what an inbound connection asks of its endpoint ----

  deliver(from: Address, frame: Uint8Array, peer?: NodeId): Delivery {
    if (this.closed) return 'refused';
    this.stats.framesReceived++;
    this.stats.frameBytesReceived += frame.length;
    return this.onFrame(from, frame, peer) ?? 'accepted';
  }

  authenticated(connection: InboundConnection): void {
    this.gauges.unauthenticated--;
    this.gauges.unauthenticatedBufferedBytes -= connection.heldBytes;
  }

  account(connection: InboundConnection, heldBytes: number): StreamRefusal | undefined {
    const delta = heldBytes - connection.heldBytes;
    if (delta === 0) return undefined;
    const g = this.gauges;
    const total = g.bufferedBytes + delta;
    const unauthenticated = g.unauthenticatedBufferedBytes + (connection.authenticated ? 0 : delta);
    if (
      total > this.options.inboundBufferedBytesMax ||
      unauthenticated > this.options.unauthenticatedBufferedBytesMax
    )
      return 'buffer_limit';
    connection.heldBytes = heldBytes;
    g.bufferedBytes = total;
    g.unauthenticatedBufferedBytes = unauthenticated;
    g.bufferedBytesPeak = Math.max(g.bufferedBytesPeak, total);
    g.unauthenticatedBufferedBytesPeak = Math.max(
      g.unauthenticatedBufferedBytesPeak,
      unauthenticated,
    );
    return undefined;
  }

  refuse(connection: InboundConnection, reason: StreamRefusal): void {
    this.refuseAs(connection, reason, reason);
  }

  tick(): number {
    return ++this.activity;
  }

  // ---- accepting ----

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.closed) {
      countDrop(this.stats, 'inbound_limit');
      socket.destroy();
      return;
    }
    if (this.inbound.size >= this.options.inboundConnectionsMax && !this.evictIdlest()) {
      countDrop(this.stats, 'inbound_limit');
      this.sendRefusal(socket, 'inbound_limit');
      return;
    }
    const connection = new InboundConnection(socket, this.limits, this);
    this.inbound.add(connection);
    this.gauges.inbound++;
    this.gauges.unauthenticated++;
    socket.on('close', () => this.forget(connection));
    if (this.options.inboundIdleTimeoutMs > 0)
      socket.setTimeout(this.options.inboundIdleTimeoutMs, () => socket.destroy());
  }

  /** Evicts the unauthenticated connection idle longest; false when every connection is authenticated. */
  private evictIdlest(): boolean {
    let idlest: InboundConnection | undefined;
    for (const connection of this.inbound) {
      if (connection.authenticated) continue;
      if (idlest === undefined || connection.lastActivity < idlest.lastActivity)
        idlest = connection;
    }
    if (idlest === undefined) return false;
    this.refuseAs(idlest, 'inbound_limit', 'inbound_evicted');
    return true;
  }

  /** Forgets a connection and counts `drop` (an auth failure was counted by the layer that judged it). */
  private refuseAs(connection: InboundConnection, reason: StreamRefusal, drop: DropReason): void {
    if (!this.forget(connection)) return;
    if (reason !== 'auth_failed' && reason !== 'peer_auth') countDrop(this.stats, drop);
    this.sendRefusal(connection.socket, reason);
  }

  /** Removes a connection from the gauges; false when it was already gone. */
  private forget(connection: InboundConnection): boolean {
    if (!this.inbound.delete(connection)) return false;
    connection.detach();
    const g = this.gauges;
    g.inbound--;
    g.bufferedBytes -= connection.heldBytes;
    if (!connection.authenticated) {
      g.unauthenticated--;
      g.unauthenticatedBufferedBytes -= connection.heldBytes;
    }
    connection.heldBytes = 0;
    return true;
  }

  /**
   * Writes the refusal and half-closes, then waits a moment before destroying the socket, so the
   * refusal is read before a reset could discard it. It reads nothing more: what the peer still
   * sends waits in the kernel (TCP flow control stops it) instead of passing through our memory.
   */
  private sendRefusal(socket: Socket, reason: StreamRefusal): void {
    if (this.lingering.size >= REFUSALS_LINGERING_MAX || socket.destroyed) {
      socket.destroy();
      return;
    }
    this.lingering.add(socket);
    socket.setTimeout(0);
    socket.pause();
    socket.once('close', () => this.lingering.delete(socket));
    socket.end(encodeFrame(encodeRefusal(reason)));
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  }
}
