/**
 * The stream half of the network transport (node:net): a listener on the same address and port
 * as UDP, plus one lazily dialled outgoing connection per peer (`tcp-peer.ts`). Frames are
 * length-prefixed (`framing.ts`); the first frame on every connection is the dialer's hello
 * (`tcp-hello.ts`) so `from` is the peer's listen address. A reply goes back on this node's own
 * outgoing connection to `from`, never on the inbound one.
 *
 * Limits (STYLE.md section 7): frame size (refused from the header, before buffering), hello
 * size, concurrent inbound connections (excess ones are refused and counted; their dialers back
 * off and retry, so a burst of push-pulls queues instead of collapsing), outgoing peers, per-peer
 * send queue, reconnect attempts, idle inbound and outbound connections (`tcp-peer.ts`).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { LIMITS } from '../base/limits.js';
import { bindError, countDrop, destination } from './counters.js';
import { FrameDecoder } from '../codec/frame.js';
import { HELLO_BYTES_MAX, decodeHello } from './tcp-hello.js';
import { OutboundPeer, type PeerOptions } from './tcp-peer.js';
import type { TransportStats } from './types.js';

export type FrameHandler = (from: Address, data: Uint8Array) => void;

export interface TcpOptions extends PeerOptions {
  /** Concurrent inbound connections; more are refused (closed) and counted as `inbound_limit`. */
  inboundConnectionsMax: number;
  /** Peers with an outgoing connection or queued frames; frames to more are dropped as `peer_limit`. */
  outboundPeersMax: number;
  /** An inbound connection silent this long (no hello, no frames) is closed. 0 disables. */
  inboundIdleTimeoutMs: number;
}

/** Defaults, sized for a LAN cluster of a few thousand nodes. */
export const TCP_DEFAULTS: TcpOptions = {
  /** @defaultValue 512 (memberlist falls over near 128 concurrent push-pulls; refusal + retry keeps us up). */
  inboundConnectionsMax: 512,
  /** @defaultValue 4096 */
  outboundPeersMax: 4096,
  /** @defaultValue 60 s */
  inboundIdleTimeoutMs: 60_000,
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

export class TcpEndpoint {
  private readonly inbound = new Set<Socket>();
  private readonly peers = new Map<Address, OutboundPeer>();
  private closed = false;
  /** This node's listen address, sent in every hello; set once the whole transport is bound. */
  advertiseAddress: Address | undefined;
  /** Told when a dial to a peer is refused (ECONNREFUSED: nothing listens there). */
  onRefused: ((to: Address) => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: TcpOptions,
    private readonly stats: TransportStats,
    private readonly onFrame: FrameHandler,
    readonly port: number,
  ) {}

  /** Listens on `host:port` (0 picks a port); rejects with ERR_TRANSPORT_BIND on failure. */
  static listen(
    host: string,
    port: number,
    options: TcpOptions,
    stats: TransportStats,
    onFrame: FrameHandler,
  ): Promise<TcpEndpoint> {
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
        () => this.onRefused?.(to),
      );
      peer = created;
      this.peers.set(to, peer);
    }
    peer.send(data);
  }

  /** Stops listening and destroys every connection; queued frames are discarded. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const socket of this.inbound) socket.destroy();
    this.inbound.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.closed || this.inbound.size >= this.options.inboundConnectionsMax) {
      countDrop(this.stats, 'inbound_limit');
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.on('close', () => this.inbound.delete(socket));
    if (this.options.inboundIdleTimeoutMs > 0) {
      socket.setTimeout(this.options.inboundIdleTimeoutMs, () => socket.destroy());
    }
    // Until the hello arrives only a hello-sized frame is accepted: an unknown dialer cannot
    // make us buffer a 4 MiB frame.
    const decoder = new FrameDecoder(HELLO_BYTES_MAX);
    let from: Address | undefined;
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (
        let next = decoder.next();
        next !== undefined && !socket.destroyed;
        next = decoder.next()
      ) {
        if ('oversizedBytes' in next)
          return this.refuse(socket, from === undefined ? 'bad_hello' : 'oversized');
        if (from !== undefined) {
          this.deliver(from, next.frame);
          continue;
        }
        from = decodeHello(next.frame);
        if (from === undefined) return this.refuse(socket, 'bad_hello');
        decoder.limitBytes = LIMITS.frameBytesMax;
      }
    });
  }

  private deliver(from: Address, frame: Uint8Array): void {
    if (this.closed) return;
    this.stats.framesReceived++;
    this.stats.frameBytesReceived += frame.length;
    this.onFrame(from, frame);
  }

  private refuse(socket: Socket, reason: 'bad_hello' | 'oversized'): void {
    countDrop(this.stats, reason);
    socket.destroy();
  }
}
