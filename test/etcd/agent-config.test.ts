/**
 * `shoal agent --grpc H:P [--grpc-tls-cert F --grpc-tls-key F --grpc-tls-ca F]`: the flags and
 * SHOAL_GRPC* variables reach the one config validator, every refusal names the field, its
 * source, the value and what is allowed (exit 2), and the endpoint starts over a node that
 * serves a KvService, refusing one that keeps no store.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';
import { hasErrorCode } from '../../src/base/errors.js';
import { main } from '../../src/cli/main.js';
import { grpcEndpointOf, startEtcdEndpoint } from '../../src/etcd/agent-endpoint.js';
import { SILENT_LOG } from '../../src/etcd/endpoint.js';
import { etcd3Client } from '../../bench/lib-etcd.js';
import { makeTestCerts, opensslVersion, type TestCerts } from './certs.js';
import { KvDouble } from './kv-double.js';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(hasErrorCode(err, 'ERR_INVALID_CONFIG')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected ERR_INVALID_CONFIG');
}

const fault = (field: string, value: unknown, allowed: string): Error =>
  Object.assign(new Error(`${field} ${JSON.stringify(value)}: ${allowed}`), {
    code: 'ERR_INVALID_CONFIG',
  });

describe('agent config: grpc', () => {
  it('is off unless given', () => {
    expect(resolveAgentConfig({}, {}).grpc).toBeUndefined();
  });

  it('is served by mode raft only; the refusal names the source', () => {
    expect(refusal(() => resolveAgentConfig({ grpc: '127.0.0.1:2379' }, {}))).toBe(
      'invalid config: grpc (from --grpc) "127.0.0.1:2379": the etcd endpoint is only served by mode raft, but mode is swim',
    );
    expect(refusal(() => resolveAgentConfig({}, { SHOAL_GRPC: '127.0.0.1:2379' }))).toContain(
      'grpc (from SHOAL_GRPC)',
    );
  });

  it('refuses a malformed address and TLS files without grpc', () => {
    expect(refusal(() => resolveAgentConfig({ grpc: 'localhost' }, {}))).toBe(
      'invalid config: grpc (from --grpc) "localhost": must be host:port, e.g. 127.0.0.1:2379',
    );
    expect(refusal(() => resolveAgentConfig({ grpcTlsCa: 'ca.pem' }, {}))).toBe(
      'invalid config: grpcTlsCa (from --grpc-tls-ca) "ca.pem": only used with grpc (--grpc H:P)',
    );
  });

  it('with mode raft: plaintext, or all three TLS files, never some', () => {
    expect(grpcEndpointOf({ mode: 'raft', grpc: '127.0.0.1:0' }, fault)).toEqual({
      address: '127.0.0.1:0',
      tls: undefined,
    });
    expect(
      refusal(() =>
        grpcEndpointOf(
          { mode: 'raft', grpc: '127.0.0.1:0', grpcTlsCert: 'c', grpcTlsCa: 'a' },
          fault,
        ),
      ),
    ).toBe(
      'grpcTlsKey undefined: grpcTlsCert, grpcTlsKey and grpcTlsCa go together (TLS always requires client certificates)',
    );
  });

  it('grpcStack picks the gRPC server: http2 or grpc-js, only with grpc', () => {
    expect(
      grpcEndpointOf({ mode: 'raft', grpc: '127.0.0.1:0', grpcStack: 'grpc-js' }, fault),
    ).toEqual({ address: '127.0.0.1:0', tls: undefined, stack: 'grpc-js' });
    expect(refusal(() => resolveAgentConfig({ grpcStack: 'grpc-js' }, {}))).toBe(
      'invalid config: grpcStack (from --grpc-stack) "grpc-js": only used with grpc (--grpc H:P)',
    );
    expect(refusal(() => resolveAgentConfig({}, { SHOAL_GRPC_STACK: 'grpc' }))).toContain(
      'grpcStack (from SHOAL_GRPC_STACK)',
    );
  });

  it('a CLI refusal exits 2 with one line', async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const code = await main(['node', 'shoal', 'agent', '--name', 'n', '--grpc', '127.0.0.1:0']);
    vi.restoreAllMocks();
    expect(code).toBe(2);
    expect(written.join('')).toMatch(
      /^shoal: invalid config: grpc \(from --grpc\) .*mode raft.*\n$/,
    );
  });
});

describe.skipIf(opensslVersion() === undefined)('agent config: grpc TLS files', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await makeTestCerts();
  });
  afterAll(() => certs?.remove());

  it('reads the three files, and names the field of a bad one', () => {
    const fields = {
      mode: 'raft',
      grpc: '127.0.0.1:0',
      grpcTlsCert: certs.serverCert,
      grpcTlsKey: certs.serverKey,
      grpcTlsCa: certs.ca,
    };
    const tls = grpcEndpointOf(fields, fault)?.tls;
    expect(tls?.ca.toString()).toContain('BEGIN CERTIFICATE');
    expect(
      refusal(() => grpcEndpointOf({ ...fields, grpcTlsKey: certs.clientKey }, fault)),
    ).toMatch(/^grpcTlsKey ".*client\.key": does not match the certificate in /);
  });
});

describe('startEtcdEndpoint', () => {
  const doubles: KvDouble[] = [];
  afterEach(() => {
    for (const d of doubles.splice(0)) d.close();
  });

  it("serves the node's KvService", async () => {
    const double = new KvDouble();
    doubles.push(double);
    const node = { mode: { kind: 'raft' }, kvService: double.service(0) };
    const server = await startEtcdEndpoint(
      node,
      { address: '127.0.0.1:0', tls: undefined },
      SILENT_LOG,
    );
    const client = etcd3Client([server.url]);
    try {
      await client.put('agent/k').value('v');
      expect(await client.get('agent/k').string()).toBe('v');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('refuses a node that keeps no replicated store', async () => {
    const error = await startEtcdEndpoint(
      { mode: { kind: 'swim' } },
      { address: '127.0.0.1:0', tls: undefined },
      SILENT_LOG,
    ).catch((err: unknown) => err);
    expect(hasErrorCode(error, 'ERR_INVALID_CONFIG')).toBe(true);
    expect((error as Error).message).toBe(
      'invalid config: grpc "127.0.0.1:0": mode swim keeps no replicated store to serve',
    );
  });
});
