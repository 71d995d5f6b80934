/**
 * The endpoint's life and limits: config validation (each field at 0 and 1, the cross-field
 * rule at limit - 1, limit, limit + 1), listen failures with ERR_GRPC_LISTEN, a bounded close
 * with streams still open, and the per-method call counters.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { ETCD_GRPC_DEFAULTS, etcdGrpcConfig } from '../../src/etcd/config.js';
import { startEtcdGrpcServer } from '../../src/etcd/server.js';
import { startDoubleCluster, type DoubleCluster } from './double-cluster.js';
import { KvDouble } from './kv-double.js';
import { call, ok, openStream, serviceClient } from './grpc-client.js';
import { waitFor } from '../helpers/wait.js';
import type { KvService } from '../../src/node/kv-service.js';
import { status as Status } from '@grpc/grpc-js';

let cluster: DoubleCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('etcdGrpcConfig', () => {
  it('fills the defaults and refuses fields that are not positive integers', () => {
    expect(etcdGrpcConfig()).toEqual(ETCD_GRPC_DEFAULTS);
    expect(etcdGrpcConfig({ closeGraceMs: 1 }).closeGraceMs).toBe(1);
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => etcdGrpcConfig({ watchProgressIntervalMs: bad })).toThrow(
        /watchProgressIntervalMs \(.*\) must be a positive integer/,
      );
  });

  it('streamResponsesQueuedMax must exceed watchesPerStreamMax', () => {
    const at = (queued: number) => () =>
      etcdGrpcConfig({ watchesPerStreamMax: 10, streamResponsesQueuedMax: queued });
    expect(at(9)).toThrow(/streamResponsesQueuedMax \(9\) must exceed watchesPerStreamMax \(10\)/);
    expect(at(10)).toThrow(/must exceed/);
    expect(at(11)).not.toThrow();
  });
});

describe('listening', () => {
  it('refuses a malformed address and a taken port with ERR_GRPC_LISTEN', async () => {
    const double = new KvDouble();
    const kv = double.service(0);
    await expect(startEtcdGrpcServer(kv, { address: 'nope' })).rejects.toSatisfy((err) =>
      hasErrorCode(err, 'ERR_GRPC_LISTEN'),
    );
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await startEtcdGrpcServer(kv, { address: `127.0.0.1:${port}` }).catch(
        (err: unknown) => err,
      );
      expect(hasErrorCode(error, 'ERR_GRPC_LISTEN')).toBe(true);
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    } finally {
      blocker.close();
      double.close();
    }
  });

  it('binds IPv6 loopback and reports its URL', async () => {
    const double = new KvDouble();
    const server = await startEtcdGrpcServer(double.service(0), { address: '[::1]:0' });
    try {
      expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const kv = serviceClient(server.address, 'KV');
      await ok(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
      kv.close();
    } finally {
      await server.close();
      double.close();
    }
  });
});

describe('closing', () => {
  it('ends open watch and keep-alive streams within closeGraceMs', async () => {
    cluster = await startDoubleCluster({ config: { closeGraceMs: 200 } });
    const address = cluster.endpoints[0] ?? '';
    const watch = openStream(serviceClient(address, 'Watch'), 'Watch');
    watch.write({ create_request: { key: Buffer.from('a') } });
    await watch.until((r) => r.length === 1, 'created');
    const keepAlive = openStream(serviceClient(address, 'Lease'), 'LeaseKeepAlive');
    keepAlive.write({ ID: 1 });
    await keepAlive.until((r) => r.length === 1, 'answered');
    // Resolves although neither stream would end by itself (closeGraceMs, then cut).
    await cluster.servers[0]?.close();
    expect((await watch.end())?.code).toBeDefined();
    expect((await keepAlive.end())?.code).toBeDefined();
    expect(cluster.servers[0]?.stats().streamsOpen).toBe(0);
  });

  it("a client's cancel or deadline aborts the KvService call; an answered call is not aborted", async () => {
    const signals: AbortSignal[] = [];
    cluster = await startDoubleCluster({
      wrap: (inner) =>
        new Proxy(inner, {
          get: (target, name, receiver) => {
            if (name === 'range')
              return (_request: unknown, options: { signal: AbortSignal }) =>
                new Promise((_, reject) => {
                  signals.push(options.signal);
                  options.signal.addEventListener('abort', () => reject(new Error('aborted')));
                });
            if (name === 'put')
              return (
                request: Parameters<KvService['put']>[0],
                options: { signal: AbortSignal },
              ) => {
                signals.push(options.signal);
                return inner.put(request, options);
              };
            return Reflect.get(target, name, receiver) as unknown;
          },
        }) as KvService,
    });
    const kv = serviceClient(cluster.endpoints[0] ?? '', 'KV');
    await ok(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
    const { error } = await call(kv, 'Range', { key: Buffer.from('k') }, 200);
    expect(error?.code).toBe(Status.DEADLINE_EXCEEDED);
    await waitFor(() => signals[1]?.aborted === true, 10_000, 'the range is aborted');
    expect(signals[0]?.aborted).toBe(false);
    kv.close();
  });

  it('counts calls by method', async () => {
    cluster = await startDoubleCluster();
    const kv = serviceClient(cluster.endpoints[0] ?? '', 'KV');
    await ok(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
    await ok(kv, 'Range', { key: Buffer.from('k') });
    await ok(kv, 'Range', { key: Buffer.from('k') });
    expect(cluster.servers[0]?.stats().calls).toMatchObject({ 'KV/Put': 1, 'KV/Range': 2 });
    kv.close();
  });
});
