/**
 * `NetTransport`: the production Transport, UDP packets and TCP frames on ONE host:port (as
 * memberlist does), so a member is reachable at the single address it gossips. With port 0 the
 * TCP listener picks the port first and UDP binds the same number; if UDP's port is taken by
 * someone else the pair is retried on a fresh port, a bounded number of times.
 */
import { formatAddress, parseAddress, splitAddress, type Address } from '../base/address.js';
import { hasErrorCode } from '../base/errors.js';
import type { NodeId } from '../identity/node-id.js';
import { copyStats, countDrop, type DropReason } from './counters.js';
import type { PeerAuthRefusal, PeerAuthenticator } from './peer-auth.js';
import { TCP_DEFAULTS, TcpEndpoint, type TcpOptions } from './tcp.js';
import { UdpEndpoint } from './udp.js';
import {
  emptyStats,
  type Channel,
  type Delivery,
  type ReceiveHandler,
  type RefusedHandler,
  type Transport,
  type TransportStats,
} from './types.js';

export interface NetTransportOptions extends Partial<TcpOptions> {
  /**
   * The address peers should use, when it differs from the bind address (binding 0.0.0.0, NAT).
   * Sent in every stream hello. @defaultValue the bound address with the actual port.
   */
  advertiseAddress?: Address;
  /** Port-0 binds retried when UDP finds TCP's port taken. @defaultValue 8 */
  bindAttemptsMax?: number;
}

const BIND_ATTEMPTS_MAX_DEFAULT = 8;

export class NetTransport implements Transport {
  readonly packetOverheadBytes = 0;
  private handler: ReceiveHandler | undefined;
  private refusedHandler: RefusedHandler | undefined;
  private closing: Promise<void> | undefined;
  /** The bound address with its actual port (a dialer may name it instead of the advertised one). */
  private boundAddress: Address | undefined;

  private constructor(
    readonly localAddress: Address,
    private readonly udp: UdpEndpoint,
    private readonly tcp: TcpEndpoint,
    private readonly counters: TransportStats,
  ) {}

  /**
   * Binds UDP and TCP on `address` (`host:port`, IPv4 or `[v6]`; port 0 picks a free port).
   * Throws ERR_TRANSPORT_ADDRESS for a malformed address, ERR_TRANSPORT_BIND when it cannot bind.
   */
  static async bind(address: string, options: NetTransportOptions = {}): Promise<NetTransport> {
    const hostPort = splitAddress(parseAddress(address)) as { host: string; port: number };
    const { advertiseAddress, bindAttemptsMax, ...tcpOverrides } = options;
    const attemptsMax = hostPort.port === 0 ? (bindAttemptsMax ?? BIND_ATTEMPTS_MAX_DEFAULT) : 1;
    const tcpOptions: TcpOptions = { ...TCP_DEFAULTS, ...stripUndefined(tcpOverrides) };
    for (let attempt = 1; ; attempt++) {
      try {
        return await NetTransport.bindOnce(
          hostPort.host,
          hostPort.port,
          tcpOptions,
          advertiseAddress,
        );
      } catch (err) {
        if (attempt >= attemptsMax || !hasErrorCode(err, 'ERR_TRANSPORT_BIND')) throw err;
      }
    }
  }

  private static async bindOnce(
    host: string,
    port: number,
    options: TcpOptions,
    advertise: Address | undefined,
  ): Promise<NetTransport> {
    const stats = emptyStats();
    // The handler is looked up per delivery, so `onReceive` may be called after bind.
    const ref: { transport?: NetTransport } = {};
    const deliver =
      (channel: Channel) =>
      (from: Address, data: Uint8Array, peer?: NodeId): Delivery | void =>
        ref.transport?.handler?.(from, channel, data, peer);
    const tcp = await TcpEndpoint.listen(host, port, options, stats, deliver('stream'));
    let udp: UdpEndpoint;
    try {
      udp = await UdpEndpoint.bind(host, tcp.port, stats, deliver('packet'));
    } catch (err) {
      await tcp.close();
      throw err;
    }
    const localAddress = advertise ?? formatAddress(host, tcp.port);
    tcp.advertiseAddress = localAddress;
    tcp.onRefused = (to, refusal) => ref.transport?.refusedHandler?.(to, refusal);
    ref.transport = new NetTransport(localAddress, udp, tcp, stats);
    ref.transport.boundAddress = formatAddress(host, tcp.port);
    return ref.transport;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.udp.send(to, data);
  }

  sendFrame(to: Address, data: Uint8Array): void {
    this.tcp.send(to, data);
  }

  /** Stream connections authenticate with `auth`'s signed hello (raft mode; peer-auth.ts). */
  authenticatePeers(
    auth: PeerAuthenticator,
    onRefusedHello?: (reason: PeerAuthRefusal, detail: string) => void,
  ): (reason: DropReason) => void {
    const acceptor = [this.localAddress];
    if (this.boundAddress !== undefined && this.boundAddress !== this.localAddress)
      acceptor.push(this.boundAddress);
    this.tcp.authenticatePeers(auth, acceptor, onRefusedHello);
    return (reason) => countDrop(this.counters, reason);
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  onStreamRefused(handler: RefusedHandler): void {
    this.refusedHandler = handler;
  }

  stats(): TransportStats {
    return copyStats({ ...this.counters, streams: this.tcp.gauges });
  }

  close(): Promise<void> {
    this.closing ??= Promise.all([this.udp.close(), this.tcp.close()]).then(() => undefined);
    return this.closing;
  }
}

/** Drops keys whose value is undefined so they do not override defaults (exactOptionalPropertyTypes). */
function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
