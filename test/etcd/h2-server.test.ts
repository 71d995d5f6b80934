/**
 * The lean gRPC server (src/etcd/h2-server.ts) at the wire: what grpc-js's server does for the
 * same bytes, checked against both stacks (`stack: 'http2'` and `'grpc-js'`) where they must
 * agree: an unknown method, a request over receiveMessageBytesMax, a gzip-compressed request,
 * an unknown compression, and several responses of one stream written in one turn; then the
 * lean server's own answers to a request that is not gRPC (415), a malformed grpc-timeout and
 * a unary call with two messages. The rest of test/etcd runs on the default (http2) stack.
 */
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { startEtcdGrpcServer, type EtcdGrpcServer } from '../../src/etcd/server.js';
import { KvDouble } from './kv-double.js';
import { call, ok, openStream, rawCall, serviceClient } from './grpc-client.js';

let server: EtcdGrpcServer | undefined;
let double: KvDouble | undefined;
afterEach(async () => {
  await server?.close();
  double?.close();
  server = undefined;
  double = undefined;
});

async function start(stack: 'http2' | 'grpc-js', receiveMessageBytesMax?: number) {
  double = new KvDouble();
  server = await startEtcdGrpcServer(double.service(0), {
    address: '127.0.0.1:0',
    stack,
    ...(receiveMessageBytesMax === undefined ? {} : { config: { receiveMessageBytesMax } }),
  });
  return server.address;
}

/** One raw HTTP/2 request; the response headers and trailers (merged) and the body. */
function rawH2(
  address: string,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer,
): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    const request = session.request(headers);
    const got: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    request.on('response', (h) => Object.assign(got, h));
    request.on('trailers', (h) => Object.assign(got, h));
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      session.close();
      resolve({ headers: got, body: Buffer.concat(chunks) });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** A gRPC message: flag byte, big-endian length, bytes. */
function framed(bytes: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([prefix, bytes]);
}

/** RangeRequest{key: "k"} as protobuf bytes (field 1, length-delimited). */
const RANGE_K = Buffer.from([0x0a, 0x01, 0x6b]);

describe.each(['http2', 'grpc-js'] as const)('stack %s', (stack) => {
  it('an unknown method is UNIMPLEMENTED, naming it', async () => {
    const address = await start(stack);
    const err = await rawCall(address, '/etcdserverpb.KV/Nope', Buffer.alloc(0));
    expect(err?.code).toBe(Status.UNIMPLEMENTED);
    expect(err?.details).toBe('The server does not implement the method /etcdserverpb.KV/Nope');
  });

  it('a request over receiveMessageBytesMax is RESOURCE_EXHAUSTED; one at it is served', async () => {
    const address = await start(stack, 64);
    const kv = serviceClient(address, 'KV');
    // Put{key: "k", value: v}: 2 + 1 + 2 + |v| bytes.
    const atMax = await call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.alloc(59) });
    expect(atMax.error).toBeNull();
    const over = await call(kv, 'Put', { key: Buffer.from('k'), value: Buffer.alloc(60) });
    expect(over.error?.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(over.error?.details).toMatch(/larger than max \(65 vs\.? 64\)/);
    kv.close();
  });

  it('serves a gzip-compressed request', async () => {
    const address = await start(stack);
    const kv = serviceClient(address, 'KV');
    await ok(kv, 'Put', { key: Buffer.from('k'), value: Buffer.from('v') });
    kv.close();
    const answer = await rawH2(
      address,
      {
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Range',
        'content-type': 'application/grpc',
        'grpc-encoding': 'gzip',
        te: 'trailers',
      },
      framed(gzipSync(RANGE_K), true),
    );
    expect(answer.headers['grpc-status']).toBe('0');
    // The response carries the value "v" of key "k".
    expect(answer.body.includes(Buffer.from('k'))).toBe(true);
    expect(answer.body.length).toBeGreaterThan(5);
  });

  it('a compressed flag with an encoding it does not know is UNIMPLEMENTED', async () => {
    const address = await start(stack);
    const answer = await rawH2(
      address,
      {
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Range',
        'content-type': 'application/grpc',
        'grpc-encoding': 'snappy',
        te: 'trailers',
      },
      framed(RANGE_K, true),
    );
    expect(answer.headers['grpc-status']).toBe(String(Status.UNIMPLEMENTED));
    expect(decodeURI(String(answer.headers['grpc-message']))).toBe(
      'Received message compressed with unsupported encoding "snappy"',
    );
  });

  it('a watch stream delivers every watch its own response for one put, in order', async () => {
    const address = await start(stack);
    const watch = openStream(serviceClient(address, 'Watch'), 'Watch');
    for (let i = 0; i < 20; i++) watch.write({ create_request: { key: Buffer.from('w') } });
    await watch.until((r) => r.length === 20, '20 created');
    const kv = serviceClient(address, 'KV');
    await ok(kv, 'Put', { key: Buffer.from('w'), value: Buffer.from('x') });
    await watch.until((r) => r.length === 40, '20 events');
    const ids = watch.responses.slice(20).map((r) => Number(r['watch_id']));
    expect(new Set(ids).size).toBe(20);
    for (const r of watch.responses.slice(20)) expect((r['events'] as unknown[]).length).toBe(1);
    watch.halfClose();
    expect(await watch.end()).toBeNull();
    kv.close();
  });
});

describe('http2 stack only', () => {
  it('a request that is not gRPC gets HTTP 415', async () => {
    const address = await start('http2');
    const answer = await rawH2(
      address,
      { ':method': 'POST', ':path': '/etcdserverpb.KV/Range', 'content-type': 'text/plain' },
      Buffer.from('hello'),
    );
    expect(answer.headers[':status']).toBe(415);
  });

  it('a malformed grpc-timeout is INTERNAL, naming it', async () => {
    const address = await start('http2');
    const answer = await rawH2(
      address,
      {
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Range',
        'content-type': 'application/grpc',
        'grpc-timeout': 'soon',
        te: 'trailers',
      },
      framed(RANGE_K),
    );
    expect(answer.headers['grpc-status']).toBe(String(Status.INTERNAL));
    expect(decodeURI(String(answer.headers['grpc-message']))).toBe(
      'Invalid grpc-timeout value "soon"',
    );
  });

  it('a unary call with two request messages is refused', async () => {
    const address = await start('http2');
    const answer = await rawH2(
      address,
      {
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Range',
        'content-type': 'application/grpc',
        te: 'trailers',
      },
      Buffer.concat([framed(RANGE_K), framed(RANGE_K)]),
    );
    expect(answer.headers['grpc-status']).toBe(String(Status.UNIMPLEMENTED));
  });
});
