/**
 * The packet half of the network transport: one node:dgram socket (udp4 or udp6, chosen from
 * the bind host). Best effort, as SWIM assumes (Das et al. 2002 §2: lossy, unordered): payloads
 * over `LIMITS.packetBytesMax` are dropped and counted, send failures are counted, and no socket
 * error ever escapes as an exception after bind.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { formatAddress, type Address } from '../base/address.js';
import { LIMITS } from '../base/limits.js';
import { bindError, countDrop, destination } from './counters.js';
import type { TransportStats } from './types.js';

/** Receives one datagram; `from` is the sender's address (what it made of it does not matter here). */
export type PacketHandler = (from: Address, data: Uint8Array) => unknown;

/** True for IPv6 literals (the only hosts with a ':' once brackets are stripped). */
export function isIpv6Host(host: string): boolean {
  return host.includes(':');
}

/**
 * The sender's address as peers know it. An IPv4 peer reaching a dual-stack socket shows up as
 * `::ffff:a.b.c.d`; unmapping it keeps one address per peer.
 */
export function senderAddress(info: RemoteInfo): Address {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(info.address);
  return formatAddress(mapped ? (mapped[1] as string) : info.address, info.port);
}

export class UdpEndpoint {
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly stats: TransportStats,
    readonly port: number,
  ) {}

  /**
   * Binds `host:port` (port 0 picks one). Rejects with ERR_TRANSPORT_BIND when the address is
   * in use, not local, or not permitted; the socket is closed in that case.
   */
  static bind(
    host: string,
    port: number,
    stats: TransportStats,
    onPacket: PacketHandler,
  ): Promise<UdpEndpoint> {
    const socket = createSocket({ type: isIpv6Host(host) ? 'udp6' : 'udp4' });
    return new Promise<UdpEndpoint>((resolve, reject) => {
      const onBindError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        reject(bindError('UDP', host, port, err));
      };
      socket.once('error', onBindError);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', onBindError);
        const endpoint = new UdpEndpoint(socket, stats, socket.address().port);
        socket.on('error', () => countDrop(stats, 'socket_error'));
        socket.on('message', (msg, info) => endpoint.onMessage(msg, info, onPacket));
        resolve(endpoint);
      });
    });
  }

  /** Sends one datagram; never throws. Oversized, malformed-address and failed sends are counted. */
  send(to: Address, data: Uint8Array): void {
    if (this.closed) return countDrop(this.stats, 'closed');
    if (data.length > LIMITS.packetBytesMax) return countDrop(this.stats, 'oversized');
    const target = destination(this.stats, to);
    if (target === undefined) return;
    try {
      this.socket.send(data, target.port, target.host, (err) => {
        if (err) countDrop(this.stats, 'send_error');
      });
    } catch {
      // dgram throws synchronously for some bad arguments (e.g. an address family mismatch).
      return countDrop(this.stats, 'send_error');
    }
    this.stats.packetsSent++;
    this.stats.packetBytesSent += data.length;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, info: RemoteInfo, onPacket: PacketHandler): void {
    if (this.closed) return;
    // A datagram larger than any peer may send is hostile or from a foreign program.
    if (msg.length > LIMITS.packetBytesMax) return countDrop(this.stats, 'oversized');
    this.stats.packetsReceived++;
    this.stats.packetBytesReceived += msg.length;
    onPacket(senderAddress(info), msg);
  }
}
