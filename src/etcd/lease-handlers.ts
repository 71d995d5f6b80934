/**
 * etcd's Lease service (rpc.proto `service Lease`) over the KvService. etcd counts TTLs in
 * seconds and Shoal in milliseconds: a TTL goes in as seconds x 1000 and comes out rounded up
 * to whole seconds (a remaining TTL rounded down, as etcd's LeaseTimeToLive truncates it).
 *
 * etcd's answers for a lease that does not exist, kept here because clients rely on them
 * (etcdserver/api/v3rpc/lease.go): LeaseRevoke fails with NOT_FOUND "etcdserver: requested
 * lease not found"; LeaseKeepAlive answers TTL 0 and keeps the stream open; LeaseTimeToLive
 * answers TTL -1. Any other error ends a keep-alive stream with its status, as etcd's does.
 */
import {
  status as Status,
  type ServerDuplexStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { hasErrorCode } from '../base/errors.js';
import { leaseId } from '../kv/types.js';
import { int64, wireHeader, wireLeaseId } from './convert.js';
import { OrderedStream, unary, type Endpoint } from './endpoint.js';
import type {
  Int64,
  WireLeaseGrantRequest,
  WireLeaseIdRequest,
  WireLeaseTimeToLiveRequest,
} from './proto.js';
import { etcdError, shoalStatus } from './status.js';

/** etcd's MaxLeaseTTL (lease/lessor.go): 9,000,000,000 seconds. */
export const ETCD_LEASE_TTL_SECONDS_MAX = 9_000_000_000;

/** Whole seconds of a TTL in ms, rounded up (a granted 1,500 ms TTL is reported as 2 s). */
export function ttlSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

function grantTtlMs(text: Int64): number {
  const seconds = int64(text);
  if (seconds > ETCD_LEASE_TTL_SECONDS_MAX) throw etcdError('leaseTtlTooLarge');
  // A TTL <= 0 is raised to the store's minimum, as etcd raises it to its minimum TTL.
  return Math.max(0, seconds) * 1000;
}

function grantId(text: Int64): { id?: ReturnType<typeof leaseId> } {
  const n = int64(text);
  if (n === 0) return {};
  const id = wireLeaseId(text);
  if (id === undefined)
    throw shoalStatus(
      Status.INVALID_ARGUMENT,
      `lease ID ${text} is not supported: Shoal's lease ids are 1 to 2^53 - 1 (0 lets the server choose)`,
    );
  return { id: leaseId(id) };
}

export function leaseHandlers(ep: Endpoint): UntypedServiceImplementation {
  const kv = ep.kv;
  return {
    LeaseGrant: unary<WireLeaseGrantRequest>(ep, 'Lease/LeaseGrant', async (w, call) => {
      const grant = await kv.leaseGrant(grantTtlMs(w.TTL), {
        signal: call.signal,
        ...grantId(w.ID),
      });
      return {
        header: wireHeader(ep.seen(grant.header)),
        ID: grant.id,
        TTL: ttlSeconds(grant.ttlMs),
        error: '',
      };
    }),
    LeaseRevoke: unary<WireLeaseIdRequest>(ep, 'Lease/LeaseRevoke', async (w, call) => {
      const id = wireLeaseId(w.ID);
      if (id === undefined) throw etcdError('leaseNotFound');
      const result = await kv.leaseRevoke(leaseId(id), { signal: call.signal });
      return { header: wireHeader(ep.seen(result.header)) };
    }),
    LeaseTimeToLive: unary<WireLeaseTimeToLiveRequest>(
      ep,
      'Lease/LeaseTimeToLive',
      async (w, call) => {
        const id = wireLeaseId(w.ID);
        if (id === undefined)
          return { header: wireHeader(await ep.header()), ID: w.ID, TTL: -1, grantedTTL: 0 };
        const ttl = await kv.leaseTimeToLive(leaseId(id), { signal: call.signal, keys: w.keys });
        return {
          header: wireHeader(ep.seen(ttl.header)),
          ID: w.ID,
          TTL: ttl.remainingMs < 0 ? -1 : Math.floor(ttl.remainingMs / 1000),
          grantedTTL: ttlSeconds(ttl.grantedTtlMs),
          keys: ttl.keys,
        };
      },
    ),
    LeaseLeases: unary<object>(ep, 'Lease/LeaseLeases', async (_w, call) => {
      const { ids, header } = await kv.leases({ signal: call.signal });
      return { header: wireHeader(ep.seen(header)), leases: ids.map((ID) => ({ ID })) };
    }),
    LeaseKeepAlive: (call: ServerDuplexStream<object, object>) => new KeepAliveStream(ep, call),
  };
}

/** One LeaseKeepAlive stream: each request renews one lease and gets one answer, in order. */
class KeepAliveStream extends OrderedStream<WireLeaseIdRequest> {
  private readonly controller = new AbortController();

  constructor(ep: Endpoint, call: ServerDuplexStream<object, object>) {
    super(ep, 'Lease/LeaseKeepAlive', call);
  }

  protected async handle(w: WireLeaseIdRequest): Promise<void> {
    const id = wireLeaseId(w.ID);
    if (id === undefined) {
      this.send({ header: wireHeader(await this.ep.header()), ID: w.ID, TTL: 0 });
      return;
    }
    try {
      const renewed = await this.ep.kv.leaseKeepAlive(leaseId(id), {
        signal: this.controller.signal,
      });
      this.send({
        header: wireHeader(this.ep.seen(renewed.header)),
        ID: w.ID,
        TTL: ttlSeconds(renewed.ttlMs),
      });
    } catch (err) {
      if (!hasErrorCode(err, 'ERR_LEASE_NOT_FOUND')) throw err;
      this.send({ header: wireHeader(await this.ep.header()), ID: w.ID, TTL: 0 });
    }
    await this.writable();
  }

  protected onClose(): void {
    this.controller.abort();
  }
}
