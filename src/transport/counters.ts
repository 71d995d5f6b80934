/**
 * Shared bookkeeping for transports: drop counters by reason, address validation at the edge,
 * and the one bind-failure error. Bad input from callers or the network is never thrown: it is dropped and counted here
 * (STYLE.md section 6), and the counts surface as metrics through `Transport.stats()`.
 */
import { formatAddress, splitAddress, type HostPort } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { PeerAuthRefusal } from './peer-auth.js';
import type { TransportStats } from './types.js';

/** Drop reasons used by Shoal's transports (keys of `TransportStats.dropped`). */
export type DropReason =
  | 'oversized'
  | 'closed'
  | 'bad_address'
  | 'send_error'
  | 'socket_error'
  | 'queue_overflow'
  | 'unreachable'
  | 'peer_limit'
  | 'inbound_limit'
  | 'bad_hello'
  | 'auth_failed'
  | 'bad_encryption_version'
  | 'hello_timeout'
  | 'auth_timeout'
  | 'buffer_limit'
  | 'inbound_evicted'
  | 'refused_by_peer'
  /** An authenticated hello refused (raft mode, peer-auth.ts), by why (`peer_auth` itself is never counted). */
  | 'peer_auth'
  | `peer_auth_${PeerAuthRefusal}`
  /** Raft mode: a message whose sender is not the connection's proved NodeId, or a packet. */
  | 'sender_mismatch'
  | 'packet_unauthenticated';

/** Adds to a drop counter; takes only the `dropped` map so decorators can keep their own. */
export function countDrop(
  stats: Pick<TransportStats, 'dropped'>,
  reason: DropReason,
  count = 1,
): void {
  stats.dropped[reason] = (stats.dropped[reason] ?? 0) + count;
}

/** A deep copy, so callers of `stats()` cannot mutate the live counters. */
export function copyStats(stats: TransportStats): TransportStats {
  const copy = { ...stats, dropped: { ...stats.dropped } };
  if (stats.streams !== undefined) copy.streams = { ...stats.streams };
  return copy;
}

/**
 * The host and port to send to, or undefined (counted as `bad_address`) when `to` is malformed
 * or names port 0, which no peer can listen on.
 */
export function destination(stats: TransportStats, to: string): HostPort | undefined {
  const hostPort = splitAddress(to);
  if (hostPort === undefined || hostPort.port === 0) {
    countDrop(stats, 'bad_address');
    return undefined;
  }
  return hostPort;
}

/** ERR_TRANSPORT_BIND for a failed UDP bind or TCP listen, naming the address and the OS reason. */
export function bindError(
  what: 'UDP' | 'TCP',
  host: string,
  port: number,
  err: NodeJS.ErrnoException,
): ShoalError {
  return new ShoalError(
    'ERR_TRANSPORT_BIND',
    `cannot bind ${what} ${formatAddress(host, port)}: ${err.code ?? err.message}`,
    { cause: err },
  );
}
