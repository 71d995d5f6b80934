/**
 * An attacker's sockets on loopback for the hostile suite: it can send UDP packets and TCP frames
 * to any cluster port (with the stream hello a dialer sends, claiming any address), and, with a
 * keyring configured, it can only seal with a key of its own. Nothing here reaches beyond
 * 127.0.0.1.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import { splitAddress } from '../../src/base/address.js';
import { encodeFrame } from '../../src/codec/frame.js';
import { seal } from '../../src/transport/encrypted.js';
import { decodeKey, generateKey } from '../../src/transport/keyring.js';
import { encodeHello } from '../../src/transport/tcp-hello.js';
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { identityFromSeed } from '../../src/identity/member-crypto.js';
import type { Forger } from '../../src/sim/scenarios/forgeries.js';

function hostPort(address: string): { host: string; port: number } {
  const parsed = splitAddress(address);
  if (parsed === undefined || !parsed.host.startsWith('127.'))
    throw new Error(`the hostile suite only targets loopback, not ${address}`);
  return parsed;
}

/**
 * The forger behind `attacker`'s sockets: a key of its own (from `keySeedByte`), the attacker's
 * address, no genuine record seen. Seeded, so a failing run forges the same bytes again.
 */
export function attackerForger(
  attacker: SocketAttacker,
  clusterId: string,
  keySeedByte = 0xa7,
  rngSeed = 12,
): Forger {
  return {
    rng: new Rng(rngSeed),
    identity: identityFromSeed(new Uint8Array(32).fill(keySeedByte)),
    address: attacker.address,
    clusterId,
    seen: [],
  };
}

export class SocketAttacker {
  /** A key of the attacker's own: what it seals with when the cluster has a keyring. */
  private readonly ownKey = decodeKey(generateKey(), 'attacker key');
  /** Datagrams the cluster sent to the attacker's UDP address (a reflector would send some). */
  received = 0;

  private constructor(
    private readonly udp: UdpSocket,
    readonly address: Address,
    /** Seal every payload with the attacker's own key (the cluster has a keyring it lacks). */
    private readonly sealed: boolean,
  ) {}

  static async open(sealed: boolean): Promise<SocketAttacker> {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve());
    });
    const { port } = udp.address();
    const attacker = new SocketAttacker(udp, `127.0.0.1:${port}` as Address, sealed);
    udp.on('message', () => attacker.received++);
    return attacker;
  }

  private payload(channel: 'packet' | 'stream', data: Uint8Array): Uint8Array {
    return this.sealed ? seal(this.ownKey, channel, data) : data;
  }

  sendPacket(to: string, data: Uint8Array): Promise<void> {
    const { host, port } = hostPort(to);
    const bytes = this.payload('packet', data);
    return new Promise((resolve, reject) =>
      this.udp.send(bytes, port, host, (err) => (err === null ? resolve() : reject(err))),
    );
  }

  /** One TCP connection: the hello (claiming our UDP address), then `data` as one frame. */
  sendFrame(to: string, data: Uint8Array): Promise<void> {
    const { host, port } = hostPort(to);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.write(encodeFrame(encodeHello(this.address)));
        socket.end(encodeFrame(this.payload('stream', data)), () => resolve());
      });
      socket.setTimeout(5000, () => socket.destroy(new Error(`frame to ${to} timed out`)));
      socket.once('error', reject);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.udp.close(() => resolve()));
  }
}
