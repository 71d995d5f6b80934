/**
 * The stream handshake: the first frame a dialer sends carries its own listen address, so the
 * acceptor can report `from` as an address a reply can be sent to (the dialer's ephemeral source
 * port is useless for that). The address is a claim, not a proof: with gossip encryption on, a
 * peer that lies about it still cannot forge message contents.
 *
 * Layout: magic "SHL" (3 bytes), version 1 (1 byte), the address as UTF-8.
 */
import { formatAddress, splitAddress, type Address } from '../base/address.js';

const HELLO_MAGIC = [0x53, 0x48, 0x4c] as const;
const HELLO_VERSION = 1;
const HELLO_PREFIX_BYTES = 4;
/** Longest hello: prefix + a 253-byte DNS name + brackets + ':' + 5 port digits, rounded up. */
export const HELLO_BYTES_MAX = 300;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeHello(address: Address): Buffer {
  const text = Buffer.from(address, 'utf8');
  const out = Buffer.allocUnsafe(HELLO_PREFIX_BYTES + text.length);
  out.set(HELLO_MAGIC, 0);
  out[3] = HELLO_VERSION;
  out.set(text, HELLO_PREFIX_BYTES);
  return out;
}

/** The dialer's listen address, or undefined when the hello is malformed in any way. */
export function decodeHello(frame: Uint8Array): Address | undefined {
  if (frame.length <= HELLO_PREFIX_BYTES || frame.length > HELLO_BYTES_MAX) return undefined;
  if (frame[0] !== HELLO_MAGIC[0] || frame[1] !== HELLO_MAGIC[1] || frame[2] !== HELLO_MAGIC[2])
    return undefined;
  if (frame[3] !== HELLO_VERSION) return undefined;
  let text: string;
  try {
    text = utf8.decode(frame.subarray(HELLO_PREFIX_BYTES));
  } catch {
    return undefined;
  }
  const hostPort = splitAddress(text);
  if (hostPort === undefined || hostPort.port === 0) return undefined;
  // Re-format so `from` is canonical (brackets exactly when the host is IPv6).
  return formatAddress(hostPort.host, hostPort.port);
}
