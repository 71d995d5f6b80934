/**
 * Gossip encryption as a Transport decorator (memberlist's keyring encryption): every packet and
 * frame is sealed with AES-256-GCM under the keyring's primary key and opened with any key in the
 * ring, so keys rotate without downtime. A payload that authenticates under no key is dropped and
 * counted (`auth_failed`) and NEVER reaches the handler.
 *
 * Wire: version (1 byte) | nonce (12 random bytes) | ciphertext | tag (16 bytes). The version
 * byte and the channel are authenticated as associated data, so a packet cannot be replayed as a
 * frame. Random 96-bit nonces stay safe for far more messages than a key sees between rotations
 * (NIST SP 800-38D §8.3: 2^32 messages per key).
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import type { Address } from '../base/address.js';
import { LIMITS } from '../base/limits.js';
import { countDrop } from './counters.js';
import type { Keyring } from './keyring.js';
import type {
  Channel,
  ReceiveHandler,
  RefusedHandler,
  Transport,
  TransportStats,
} from './types.js';

export const ENCRYPTION_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes added to every payload: version + nonce + tag. */
export const ENCRYPTION_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

/** Associated data per channel: the version byte and a channel byte (computed once). */
const ASSOCIATED_DATA: Record<Channel, Buffer> = {
  packet: Buffer.from([ENCRYPTION_VERSION, 0]),
  stream: Buffer.from([ENCRYPTION_VERSION, 1]),
};

/** Seals `plain` under `key`: version | nonce | ciphertext | tag. */
export function seal(key: Buffer, channel: Channel, plain: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ENCRYPTION_OVERHEAD_BYTES + plain.length);
  out[0] = ENCRYPTION_VERSION;
  const nonce = randomFillSync(out, 1, NONCE_BYTES).subarray(1, 1 + NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(ASSOCIATED_DATA[channel]);
  const body = cipher.update(plain);
  cipher.final();
  body.copy(out, 1 + NONCE_BYTES);
  cipher.getAuthTag().copy(out, 1 + NONCE_BYTES + body.length);
  return out;
}

/** Opens a sealed payload with the first key that authenticates it; undefined if none does. */
export function open(
  keys: readonly Buffer[],
  channel: Channel,
  sealed: Uint8Array,
): Buffer | undefined {
  const input = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = input.subarray(1, 1 + NONCE_BYTES);
  const body = input.subarray(1 + NONCE_BYTES, input.length - TAG_BYTES);
  const tag = input.subarray(input.length - TAG_BYTES);
  for (const key of keys) {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(ASSOCIATED_DATA[channel]);
    decipher.setAuthTag(tag);
    const plain = decipher.update(body);
    try {
      decipher.final();
      return plain;
    } catch {
      // Wrong key (or tampered bytes): try the next key.
    }
  }
  return undefined;
}

export class EncryptedTransport implements Transport {
  readonly packetOverheadBytes: number;
  /** Drops counted by this layer; merged into the inner transport's counters by `stats()`. */
  private readonly counters: Pick<TransportStats, 'dropped'> = { dropped: {} };

  constructor(
    private readonly inner: Transport,
    private readonly keyring: Keyring,
  ) {
    this.packetOverheadBytes = (inner.packetOverheadBytes ?? 0) + ENCRYPTION_OVERHEAD_BYTES;
  }

  get localAddress(): Address {
    return this.inner.localAddress;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    if (data.length > LIMITS.packetBytesMax - this.packetOverheadBytes)
      return countDrop(this.counters, 'oversized');
    this.inner.sendPacket(to, seal(this.keyring.primary(), 'packet', data));
  }

  sendFrame(to: Address, data: Uint8Array): void {
    if (data.length > LIMITS.frameBytesMax - this.packetOverheadBytes)
      return countDrop(this.counters, 'oversized');
    this.inner.sendFrame(to, seal(this.keyring.primary(), 'stream', data));
  }

  /** A payload that authenticates under no key never reaches `handler`: `unauthenticated`. */
  onReceive(handler: ReceiveHandler): void {
    this.inner.onReceive((from, channel, data, peer) => {
      const plain = this.decrypt(channel, data);
      return plain === undefined ? 'unauthenticated' : handler(from, channel, plain, peer);
    });
  }

  /** Raft mode under a keyring: the inner transport's connections authenticate too. */
  get authenticatePeers(): Transport['authenticatePeers'] {
    return this.inner.authenticatePeers?.bind(this.inner);
  }

  /** A refusal carries no payload to authenticate: passed through. */
  onStreamRefused(handler: RefusedHandler): void {
    this.inner.onStreamRefused(handler);
  }

  /** The inner transport's counters (wire bytes) plus this layer's drops. */
  stats(): TransportStats {
    const stats = this.inner.stats();
    for (const [reason, count] of Object.entries(this.counters.dropped))
      stats.dropped[reason] = (stats.dropped[reason] ?? 0) + count;
    return stats;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private decrypt(channel: Channel, data: Uint8Array): Buffer | undefined {
    if (data.length < ENCRYPTION_OVERHEAD_BYTES) {
      countDrop(this.counters, 'auth_failed');
      return undefined;
    }
    if (data[0] !== ENCRYPTION_VERSION) {
      countDrop(this.counters, 'bad_encryption_version');
      return undefined;
    }
    const plain = open(this.keyring.keys(), channel, data);
    if (plain === undefined) countDrop(this.counters, 'auth_failed');
    return plain;
  }
}
