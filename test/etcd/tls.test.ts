/**
 * The endpoint with TLS (--grpc-tls-cert/-key/-ca): clients with a certificate signed by the CA
 * (etcdctl and the etcd3 client) work; a plaintext client, a TLS client without a certificate
 * and a client whose certificate another CA signed are all refused at the handshake. The files
 * are checked when loaded, each problem named. Certificates are made at test time (certs.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Status } from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShoalError } from '../../src/base/errors.js';
import { loadGrpcTls, type GrpcTlsFiles } from '../../src/etcd/tls.js';
import { makeTestCerts, opensslVersion, type TestCerts } from './certs.js';
import { startDoubleCluster, type DoubleCluster } from './double-cluster.js';
import { etcdctl, etcdctlVersion } from './etcdctl.js';
import { call, serviceClient } from './grpc-client.js';

const fault = (field: string, file: string, problem: string): Error =>
  new ShoalError('ERR_INVALID_CONFIG', `${field} ${file} ${problem}`);

describe.skipIf(opensslVersion() === undefined)('TLS with client certificates', () => {
  let certs: TestCerts;
  let cluster: DoubleCluster;
  let address: string;
  let files: GrpcTlsFiles;

  beforeAll(async () => {
    certs = await makeTestCerts();
    files = { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca };
    cluster = await startDoubleCluster({ tls: loadGrpcTls(files, fault) });
    address = cluster.endpoints[0] ?? '';
  });
  afterAll(async () => {
    await cluster?.stop();
    certs?.remove();
  });

  const read = (path: string): Buffer => readFileSync(path);

  it('serves https URLs; the etcd3 client with a CA-signed certificate reads and writes', async () => {
    expect(cluster.servers[0]?.url).toBe(`https://${address}`);
    const client = new Etcd3({
      hosts: [`https://${address}`],
      credentials: {
        rootCertificate: read(certs.ca),
        privateKey: read(certs.clientKey),
        certChain: read(certs.clientCert),
      },
    });
    try {
      await client.put('tls/k').value('v');
      expect(await client.get('tls/k').string()).toBe('v');
    } finally {
      client.close();
    }
  });

  it.skipIf(etcdctlVersion() === undefined)(
    'etcdctl with --cacert --cert --key works',
    async () => {
      const tls = { cacert: certs.ca, cert: certs.clientCert, key: certs.clientKey };
      const put = await etcdctl([`https://${address}`], ['put', 'tls/ctl', 'v'], { tls });
      expect([put.code, put.stdout], put.stderr).toEqual([0, 'OK\n']);
      const plain = await etcdctl([address], ['get', 'tls/ctl'], { timeoutMs: 15_000 });
      expect(plain.code).not.toBe(0);
    },
  );

  async function refused(creds: ReturnType<typeof credentials.createSsl>): Promise<void> {
    const kv = serviceClient(address, 'KV', creds);
    const { error } = await call(kv, 'Range', { key: Buffer.from('k') });
    kv.close();
    expect(error?.code).toBe(Status.UNAVAILABLE);
  }

  it('refuses plaintext, a client without a certificate, and a stranger CA certificate', async () => {
    await refused(credentials.createInsecure());
    await refused(credentials.createSsl(read(certs.ca)));
    await refused(
      credentials.createSsl(read(certs.ca), read(certs.strangerKey), read(certs.strangerCert)),
    );
  });

  it('names the file and the problem when the files are wrong', () => {
    const load = (changed: Partial<GrpcTlsFiles>, nowMs?: number) => () =>
      loadGrpcTls({ ...files, ...changed }, fault, nowMs);
    expect(load({})).not.toThrow();
    expect(load({ cert: join(certs.dir, 'missing.crt') })).toThrow(
      /^cert .*missing\.crt cannot be read \(ENOENT\)$/,
    );
    const notPem = join(certs.dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(load({ ca: notPem })).toThrow(/^ca .*not\.pem is not a PEM X\.509 certificate/);
    expect(load({ key: notPem })).toThrow(/^key .*not\.pem is not a PEM private key/);
    expect(load({ key: certs.clientKey })).toThrow(/does not match the certificate in/);
    const inThreeDays = Date.now() + 3 * 24 * 3600 * 1000;
    expect(load({}, inThreeDays)).toThrow(/^cert .* holds a certificate that expired on /);
  });
});
