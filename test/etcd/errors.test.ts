/**
 * What a client gets when a request fails: etcd's code and exact message for every error a
 * KvService can throw (etcd v3.4 rpctypes/error.go), etcd's own request checks (v3rpc/key.go),
 * the 64-bit edges of Shoal's safe-integer revisions and lease ids, messages that do not parse,
 * and the methods that are not served (UNIMPLEMENTED at once, never a hang).
 */
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShoalError } from '../../src/base/errors.js';
import { SERVICE_NAMES, serviceMethods } from '../../src/etcd/proto.js';
import {
  ERROR_MAP,
  ETCD_ERRORS,
  KV_SERVICE_ERROR_CODES,
  type KvServiceErrorCode,
} from '../../src/etcd/status.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { KvService } from '../../src/node/kv-service.js';
import { startDoubleCluster, type DoubleCluster } from './double-cluster.js';
import { call, ok, openStream, rawCall, serviceClient } from './grpc-client.js';

const key = (text: string): Buffer => Buffer.from(text);
const TOO_BIG = '9007199254740993'; // 2^53 + 1

/** What the error for `code` should look like on the wire. */
function expected(code: KvServiceErrorCode, message: string): { code: number; details: string } {
  const target = ERROR_MAP[code];
  if (typeof target === 'number') return { code: target, details: `shoal: ${message}` };
  const [grpcCode, details] = ETCD_ERRORS[target];
  return { code: grpcCode, details };
}

describe('every KvService error reaches the client as etcd reports it', () => {
  let thrown: unknown;
  let cluster: DoubleCluster;
  beforeAll(async () => {
    cluster = await startDoubleCluster({
      wrap: (inner) =>
        new Proxy(inner, {
          get: (target, name, receiver) =>
            name === 'put'
              ? () => Promise.reject(thrown)
              : (Reflect.get(target, name, receiver) as unknown),
        }) as KvService,
    });
  });
  afterAll(() => cluster.stop());

  it('maps each of the contract codes, and nothing is left unmapped', async () => {
    const kv = serviceClient(cluster.endpoints[0] ?? '', 'KV');
    for (const code of KV_SERVICE_ERROR_CODES) {
      thrown = new ShoalError(code, `reason for ${code}`);
      const { error } = await call(kv, 'Put', { key: key('k'), value: key('v') });
      expect({ code: error?.code, details: error?.details }, code).toEqual(
        expected(code, `reason for ${code}`),
      );
    }
    expect(Object.keys(ERROR_MAP).sort()).toEqual([...KV_SERVICE_ERROR_CODES].sort());
    kv.close();
  });

  it('the messages clients match on are etcd 3.4 byte for byte (spot checks)', () => {
    expect(ETCD_ERRORS.leaseNotFound).toEqual([
      Status.NOT_FOUND,
      'etcdserver: requested lease not found',
    ]);
    expect(ETCD_ERRORS.compacted).toEqual([
      Status.OUT_OF_RANGE,
      'etcdserver: mvcc: required revision has been compacted',
    ]);
    expect(ETCD_ERRORS.noLeader).toEqual([Status.UNAVAILABLE, 'etcdserver: no leader']);
    expect(ETCD_ERRORS.requestTooLarge).toEqual([
      Status.INVALID_ARGUMENT,
      'etcdserver: request is too large',
    ]);
  });

  it('an error no mapping knows is UNKNOWN with its message, counted as unexpected', async () => {
    const kv = serviceClient(cluster.endpoints[0] ?? '', 'KV');
    const before = cluster.servers[0]?.stats().unexpected ?? 0;
    thrown = new TypeError('a bug');
    const { error } = await call(kv, 'Put', { key: key('k'), value: key('v') });
    expect([error?.code, error?.details]).toEqual([Status.UNKNOWN, 'a bug']);
    expect(cluster.servers[0]?.stats().unexpected).toBe(before + 1);
    kv.close();
  });
});

describe('requests', () => {
  let cluster: DoubleCluster;
  let address: string;
  beforeAll(async () => {
    // A member id with the top bit set: above 2^63, a uint64 that no int64 or double holds.
    cluster = await startDoubleCluster({ nodeIds: ['f0e1d2c3b4a5968778695a4b3c2d1e0f' as NodeId] });
    address = cluster.endpoints[0] ?? '';
  });
  afterAll(() => cluster.stop());

  async function expectError(
    service: 'KV' | 'Lease',
    method: string,
    request: object,
    code: number,
    details: string,
  ): Promise<void> {
    const client = serviceClient(address, service);
    const { error } = await call(client, method, request);
    client.close();
    expect([error?.code, error?.details], `${method} ${JSON.stringify(request)}`).toEqual([
      code,
      details,
    ]);
  }

  it("etcd's request checks come first, with etcd's errors", async () => {
    const [emptyKey, emptyKeyText] = ETCD_ERRORS.emptyKey;
    await expectError('KV', 'Range', { key: Buffer.alloc(0) }, emptyKey, emptyKeyText);
    await expectError('KV', 'Put', { key: Buffer.alloc(0) }, emptyKey, emptyKeyText);
    await expectError('KV', 'DeleteRange', {}, emptyKey, emptyKeyText);
    await expectError(
      'KV',
      'Txn',
      { compare: [{ key: Buffer.alloc(0), target: 'VERSION', result: 'EQUAL', version: 0 }] },
      emptyKey,
      emptyKeyText,
    );
    await expectError(
      'KV',
      'Put',
      { key: key('k'), value: key('v'), ignore_value: true },
      ...ETCD_ERRORS.valueProvided,
    );
    await expectError(
      'KV',
      'Put',
      { key: key('k'), lease: 5, ignore_lease: true },
      ...ETCD_ERRORS.leaseProvided,
    );
    await expectError('KV', 'Txn', { success: [{}] }, ...ETCD_ERRORS.keyNotFound);
  });

  it('revisions and lease ids beyond 2^53 - 1 get the answer etcd gives such values', async () => {
    await expectError(
      'KV',
      'Range',
      { key: key('k'), revision: TOO_BIG },
      ...ETCD_ERRORS.futureRevision,
    );
    await expectError('KV', 'Compact', { revision: TOO_BIG }, ...ETCD_ERRORS.futureRevision);
    await expectError('KV', 'Put', { key: key('k'), lease: TOO_BIG }, ...ETCD_ERRORS.leaseNotFound);
    await expectError('KV', 'Put', { key: key('k'), lease: -5 }, ...ETCD_ERRORS.leaseNotFound);
    await expectError('Lease', 'LeaseRevoke', { ID: TOO_BIG }, ...ETCD_ERRORS.leaseNotFound);
    await expectError(
      'Lease',
      'LeaseGrant',
      { TTL: 9_000_000_001 },
      ...ETCD_ERRORS.leaseTtlTooLarge,
    );
    const lease = serviceClient(address, 'Lease');
    expect((await ok(lease, 'LeaseTimeToLive', { ID: TOO_BIG }))['TTL']).toBe('-1');
    lease.close();
  });

  it('values whose etcd meaning rests on int64 wrap-around are refused, and named', async () => {
    await expectError(
      'Lease',
      'LeaseGrant',
      { TTL: 10, ID: TOO_BIG },
      Status.INVALID_ARGUMENT,
      `shoal: lease ID ${TOO_BIG} is not supported: Shoal's lease ids are 1 to 2^53 - 1 (0 lets the server choose)`,
    );
    await expectError(
      'KV',
      'Txn',
      { compare: [{ key: key('k'), target: 'VERSION', result: 'EQUAL', version: -1 }] },
      Status.INVALID_ARGUMENT,
      'shoal: Compare.version (-1) must not be negative',
    );
    await expectError(
      'KV',
      'Range',
      { key: key('k'), min_mod_revision: -2 },
      Status.INVALID_ARGUMENT,
      'shoal: RangeRequest.min_mod_revision (-2) must not be negative',
    );
    await expectError(
      'KV',
      'Range',
      { key: key('k'), sort_order: 7 },
      Status.INVALID_ARGUMENT,
      'shoal: unknown RangeRequest.sort_order 7',
    );
  });

  it('a revision or limit <= 0 means none, as in etcd', async () => {
    const kv = serviceClient(address, 'KV');
    await ok(kv, 'Put', { key: key('n/a'), value: key('1') });
    await ok(kv, 'Put', { key: key('n/b'), value: key('2') });
    const response = await ok(kv, 'Range', {
      key: key('n/'),
      range_end: key('n0'),
      revision: -1,
      limit: -3,
    });
    expect(response['count']).toBe('2');
    expect((response['kvs'] as unknown[]).length).toBe(2);
    kv.close();
  });

  it('uint64 ids above 2^63 pass through exactly', async () => {
    const kv = serviceClient(address, 'KV');
    const header = (await ok(kv, 'Range', { key: key('k') }))['header'] as Record<string, string>;
    expect(header['member_id']).toBe('17357386176853808775');
    expect(cluster.double.members[0]?.memberId).toBe('17357386176853808775');
    expect(header['cluster_id']).toBe(cluster.double.clusterId);
    kv.close();
  });

  it('a message that does not parse is INVALID_ARGUMENT naming its type, and counted', async () => {
    const before = cluster.servers[0]?.stats().malformed ?? 0;
    // Field 1 (key, bytes) claims 100 bytes; 2 follow.
    const garbage = Buffer.from([0x0a, 100, 1, 2]);
    const error = await rawCall(address, '/etcdserverpb.KV/Range', garbage);
    expect(error?.code).toBe(Status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/^shoal: malformed etcdserverpb\.RangeRequest: /);
    const leaseError = await rawCall(address, '/etcdserverpb.Lease/LeaseGrant', garbage);
    expect(leaseError?.details).toMatch(/^shoal: malformed etcdserverpb\.LeaseGrantRequest: /);
    expect(cluster.servers[0]?.stats().malformed).toBe(before + 2);
  });

  it('a stream message that does not parse ends the stream with INVALID_ARGUMENT', async () => {
    const watch = openStream(serviceClient(address, 'Watch'), 'Watch');
    watch.write({ create_request: { key: key('x') } });
    await watch.until((r) => r.length === 1, 'created');
    // A create request (field 1, 5 bytes) holding a start revision (field 3) cut short.
    const raw = await rawCall(
      address,
      '/etcdserverpb.Watch/Watch',
      Buffer.from([0x0a, 0x05, 0x18]),
    );
    expect(raw?.code).toBe(Status.INVALID_ARGUMENT);
    expect(raw?.details).toMatch(/^shoal: malformed etcdserverpb\.WatchRequest: /);
    watch.cancel();
  });
});

describe('what is not served', () => {
  let cluster: DoubleCluster;
  beforeAll(async () => {
    cluster = await startDoubleCluster();
  });
  afterAll(() => cluster.stop());

  const SERVED = new Set([
    'KV/Range',
    'KV/Put',
    'KV/DeleteRange',
    'KV/Txn',
    'KV/Compact',
    'Watch/Watch',
    'Lease/LeaseGrant',
    'Lease/LeaseRevoke',
    'Lease/LeaseKeepAlive',
    'Lease/LeaseTimeToLive',
    'Lease/LeaseLeases',
    'Cluster/MemberList',
    'Maintenance/Status',
    'Maintenance/Alarm',
  ]);

  it('every other method of the API answers UNIMPLEMENTED at once, naming itself', async () => {
    const address = cluster.endpoints[0] ?? '';
    const notServed = SERVICE_NAMES.flatMap((service) =>
      Object.keys(serviceMethods(service))
        .map((method) => `${service}/${method}`)
        .filter((name) => !SERVED.has(name)),
    );
    expect(notServed).toHaveLength(25);
    for (const name of notServed) {
      const error = await rawCall(address, `/etcdserverpb.${name}`, Buffer.alloc(0));
      expect(error?.code, name).toBe(Status.UNIMPLEMENTED);
      expect(error?.details).toContain(`etcdserverpb.${name} is not served`);
    }
    const later = await rawCall(address, '/etcdserverpb.Maintenance/Downgrade', Buffer.alloc(0));
    expect(later?.code).toBe(Status.UNIMPLEMENTED);
  });

  it('raising an alarm is not served; listing and disarming answer an empty list', async () => {
    const maintenance = serviceClient(cluster.endpoints[0] ?? '', 'Maintenance');
    expect((await ok(maintenance, 'Alarm', { action: 'GET' }))['alarms']).toEqual([]);
    expect((await ok(maintenance, 'Alarm', { action: 'DEACTIVATE' }))['alarms']).toEqual([]);
    const { error } = await call(maintenance, 'Alarm', { action: 'ACTIVATE', alarm: 'NOSPACE' });
    expect(error?.code).toBe(Status.UNIMPLEMENTED);
    maintenance.close();
  });
});
