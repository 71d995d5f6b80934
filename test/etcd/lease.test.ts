/**
 * etcd's Lease service over the KvService: TTLs in seconds (raised to the store's minimum,
 * rounded as etcd rounds them), client-chosen ids, time-to-live with keys, the lease list, and
 * the keep-alive stream (a lease that does not exist answers TTL 0 and the stream goes on, as
 * etcd's does; any other error ends it with its status; its request queue is bounded).
 */
import { status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ShoalError } from '../../src/base/errors.js';
import type { EtcdGrpcConfig } from '../../src/etcd/config.js';
import { ttlSeconds } from '../../src/etcd/lease-handlers.js';
import type { KvService } from '../../src/node/kv-service.js';
import { waitFor } from '../helpers/wait.js';
import { startDoubleCluster, type DoubleCluster } from './double-cluster.js';
import { call, ok, openStream, serviceClient } from './grpc-client.js';

const key = (text: string): Buffer => Buffer.from(text);
let cluster: DoubleCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function start(
  options: { config?: Partial<EtcdGrpcConfig>; wrap?: (s: KvService) => KvService } = {},
) {
  cluster = await startDoubleCluster(options);
  const address = cluster.endpoints[0] ?? '';
  return { lease: serviceClient(address, 'Lease'), kv: serviceClient(address, 'KV') };
}

describe('leases', () => {
  it('grant: seconds in, raised to the minimum TTL, client ids kept, duplicates refused', async () => {
    const { lease } = await start();
    expect(await ok(lease, 'LeaseGrant', { TTL: 0 })).toMatchObject({ TTL: '2', error: '' });
    expect(await ok(lease, 'LeaseGrant', { TTL: 10, ID: 42 })).toMatchObject({
      ID: '42',
      TTL: '10',
    });
    const { error } = await call(lease, 'LeaseGrant', { TTL: 10, ID: 42 });
    expect([error?.code, error?.details]).toEqual([
      Status.FAILED_PRECONDITION,
      'etcdserver: lease already exists',
    ]);
  });

  it('time-to-live reports remaining (rounded down), granted TTL and keys; -1 once gone', async () => {
    const { lease, kv } = await start();
    await ok(lease, 'LeaseGrant', { TTL: 30, ID: 7 });
    await ok(kv, 'Put', { key: key('b'), value: key('1'), lease: 7 });
    await ok(kv, 'Put', { key: key('a'), value: key('1'), lease: 7 });
    const ttl = await ok(lease, 'LeaseTimeToLive', { ID: 7, keys: true });
    expect(ttl).toMatchObject({ ID: '7', grantedTTL: '30' });
    expect(Number(ttl['TTL'])).toBeGreaterThanOrEqual(28);
    expect(Number(ttl['TTL'])).toBeLessThan(30);
    expect((ttl['keys'] as Buffer[]).map(String)).toEqual(['a', 'b']);
    expect((await ok(lease, 'LeaseLeases', {}))['leases']).toEqual([{ ID: '7' }]);
    await ok(lease, 'LeaseRevoke', { ID: 7 });
    expect(await ok(lease, 'LeaseTimeToLive', { ID: 7 })).toMatchObject({ TTL: '-1' });
    expect((await ok(kv, 'Range', { key: key('a'), range_end: key('c') }))['count']).toBe('0');
  });

  it('rounds TTLs in ms up to whole seconds', () => {
    expect([1, 999, 1000, 1001, 1500, 2000].map(ttlSeconds)).toEqual([1, 1, 1, 2, 2, 2]);
  });
});

describe('the keep-alive stream', () => {
  it('renews a lease, answers TTL 0 for an unknown one and goes on', async () => {
    const { lease } = await start();
    await ok(lease, 'LeaseGrant', { TTL: 20, ID: 5 });
    const stream = openStream(lease, 'LeaseKeepAlive');
    stream.write({ ID: 5 });
    stream.write({ ID: 6 });
    stream.write({ ID: '9007199254740993' });
    stream.write({ ID: 5 });
    await stream.until((r) => r.length === 4, '4 answers');
    expect(stream.responses.map((r) => [r['ID'], r['TTL']])).toEqual([
      ['5', '20'],
      ['6', '0'],
      ['9007199254740993', '0'],
      ['5', '20'],
    ]);
    expect(stream.ended()).toBeUndefined();
    stream.halfClose();
    expect(await stream.end()).toBeNull();
  });

  it('any other error ends the stream with its etcd status', async () => {
    const { lease } = await start({
      wrap: (inner) =>
        new Proxy(inner, {
          get: (t, name, r) =>
            name === 'leaseKeepAlive'
              ? () => Promise.reject(new ShoalError('ERR_NO_LEADER', 'no leader known'))
              : (Reflect.get(t, name, r) as unknown),
        }) as KvService,
    });
    const stream = openStream(lease, 'LeaseKeepAlive');
    stream.write({ ID: 5 });
    const end = await stream.end();
    expect([end?.code, end?.details]).toEqual([Status.UNAVAILABLE, 'etcdserver: no leader']);
  });

  it('holds at most streamRequestsQueuedMax waiting requests (limit, limit + 1)', async () => {
    const aborted: boolean[] = [];
    const { lease } = await start({
      config: { streamRequestsQueuedMax: 2 },
      // A renewal that waits until the stream gives up on it.
      wrap: (inner) =>
        new Proxy(inner, {
          get: (t, name, r) =>
            name === 'leaseKeepAlive'
              ? (_id: unknown, options: { signal: AbortSignal }) =>
                  new Promise((_, reject) =>
                    options.signal.addEventListener('abort', () => {
                      aborted.push(true);
                      reject(new ShoalError('ERR_ABORTED', 'keep-alive aborted'));
                    }),
                  )
              : (Reflect.get(t, name, r) as unknown),
        }) as KvService,
    });
    const stats = () => cluster?.servers[0]?.stats();
    const stream = openStream(lease, 'LeaseKeepAlive');
    stream.write({ ID: 1 });
    stream.write({ ID: 2 });
    await waitFor(() => stats()?.streamRequests === 2, 10_000, 'two requests received');
    expect(stream.ended()).toBeUndefined();
    stream.write({ ID: 3 });
    const end = await stream.end();
    expect(end?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(end?.details).toContain('streamRequestsQueuedMax');
    await waitFor(() => aborted.length === 1, 10_000, 'the waiting renewal is aborted');
    expect(stats()?.streamsOpen).toBe(0);
  });
});
