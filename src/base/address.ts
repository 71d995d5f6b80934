/**
 * Cluster addresses: `host:port` strings (`[::1]:7946` for IPv6). Parsed once at the edge;
 * cores pass the branded string around and compare it as a value.
 */
import type { Brand } from './brand.js';
import { ShoalError } from './errors.js';

export type Address = Brand<string, 'Address'>;

export interface HostPort {
  host: string;
  port: number;
}

const ADDRESS_RE = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

/** Splits `host:port` or `[v6]:port`; undefined when malformed or the port is out of 0..65535. */
export function splitAddress(text: string): HostPort | undefined {
  const match = ADDRESS_RE.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? match[2]) as string, port };
}

/** Parses and brands an address; throws ERR_TRANSPORT_ADDRESS naming the bad value. */
export function parseAddress(text: string): Address {
  if (splitAddress(text) === undefined) {
    throw new ShoalError(
      'ERR_TRANSPORT_ADDRESS',
      `address ${JSON.stringify(text)} is not host:port (e.g. 127.0.0.1:7946 or [::1]:7946) with a port in 0..65535`,
    );
  }
  return text as Address;
}

/** Formats host and port back into an address (brackets for IPv6). */
export function formatAddress(host: string, port: number): Address {
  return (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) as Address;
}
