/**
 * Cluster addresses at the edge (options, the agent's flags, `node.join`, `POST /v1/join`):
 * what a host may be, and names resolved to IP addresses once, before a core sees them.
 *
 * - A listen address (`bind`, `advertise`, the HTTP address) must be an IP literal: a node is
 *   known to its peers by the address it gossips, and a name there would never equal the
 *   address a peer dialled or read from a packet.
 * - A peer address (seeds, peers, join addresses) is an IP literal or a DNS name (RFC 1123
 *   labels). A name is resolved at the edge to one address of the bind address's family; the
 *   cores compare addresses as values, so a seed left as a name would never match the member
 *   that answers at it (and would be retried forever). A name that does not resolve is refused
 *   with the field that holds it.
 * - Dotted numbers that are not an IPv4 address (`999.1.1.1`, `1.2.3`) are refused, not looked up.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatAddress, splitAddress, type Address } from '../base/address.js';
import { ShoalError, type ErrorCode } from '../base/errors.js';

/** How long one name may take to resolve before it is refused. */
export const RESOLVE_TIMEOUT_MS = 5_000;

const LABEL_RE = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** `ip` for an IPv4 or IPv6 literal, `name` for a well-formed DNS name, undefined otherwise. */
export function hostKind(host: string): 'ip' | 'name' | undefined {
  if (isIP(host) !== 0) return 'ip';
  if (/^[\d.]+$/.test(host) || host.length > 253) return undefined;
  const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
  return labels.every((label) => LABEL_RE.test(label)) ? 'name' : undefined;
}

/** Why `text` is not a listen address (host:port with an IP literal), or undefined when it is one. */
export function listenAddressProblem(text: string): string | undefined {
  const hostPort = splitAddress(text);
  if (hostPort === undefined)
    return 'must be host:port (e.g. 127.0.0.1:7946 or [::1]:7946) with a port in 0..65535';
  if (isIP(hostPort.host) === 0)
    return `must be an IP address and port (e.g. 127.0.0.1:7946 or [::1]:7946): ${JSON.stringify(hostPort.host)} is not an IP address`;
  return undefined;
}

/** Why `text` is not a peer address (host:port, an IP literal or a DNS name), or undefined. */
export function peerAddressProblem(text: string): string | undefined {
  const hostPort = splitAddress(text);
  if (hostPort === undefined)
    return 'must be host:port (e.g. 127.0.0.1:7946 or [::1]:7946) with a port in 0..65535';
  if (hostKind(hostPort.host) !== undefined) return undefined;
  const host = JSON.stringify(hostPort.host);
  return /^[\d.]+$/.test(hostPort.host)
    ? `must be an IP address or a DNS name and a port: ${host} is not a valid IPv4 address`
    : `must be an IP address or a DNS name and a port: ${host} is neither`;
}

/** The address family a node bound at `bind` can reach (4 or 6). */
export function familyOf(bind: string): 4 | 6 {
  return isIP(splitAddress(bind)?.host ?? '') === 6 ? 6 : 4;
}

async function lookupWithin(host: string, family: 4 | 6): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })),
      RESOLVE_TIMEOUT_MS,
    );
  });
  try {
    return (await Promise.race([lookup(host, { family }), timeout])).address;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `addresses` as they are when every one is an IP literal and a port (nothing to resolve, so a
 * caller can go on without waiting a turn), otherwise undefined.
 */
export function literalAddresses(addresses: readonly string[]): Address[] | undefined {
  const out: Address[] = [];
  for (const text of addresses) {
    const hostPort = splitAddress(text);
    if (hostPort === undefined || isIP(hostPort.host) === 0) return undefined;
    out.push(formatAddress(hostPort.host, hostPort.port));
  }
  return out;
}

/**
 * Resolves every name among `addresses` to an IPv`family` address; IP literals are returned as
 * they are. Throws `code` naming the field (`field(index)`), the value and why, for an address
 * that is malformed or a name that does not resolve within RESOLVE_TIMEOUT_MS.
 */
export async function resolvePeerAddresses(
  addresses: readonly string[],
  family: 4 | 6,
  field: (index: number) => string,
  code: ErrorCode = 'ERR_INVALID_CONFIG',
): Promise<Address[]> {
  const refuse = (index: number, why: string): ShoalError =>
    new ShoalError(code, `${field(index)} ${JSON.stringify(addresses[index])}: ${why}`);
  return Promise.all(
    addresses.map(async (text, index) => {
      const problem = peerAddressProblem(text);
      if (problem !== undefined) throw refuse(index, problem);
      const { host, port } = splitAddress(text) as { host: string; port: number };
      if (hostKind(host) === 'ip') return formatAddress(host, port);
      try {
        return formatAddress(await lookupWithin(host, family), port);
      } catch (err) {
        const reason = String((err as { code?: unknown }).code ?? (err as Error).message);
        throw refuse(
          index,
          `the name ${JSON.stringify(host)} does not resolve to an IPv${family} address (${reason})`,
        );
      }
    }),
  );
}
