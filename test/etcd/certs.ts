/**
 * Test certificates made at test time with the `openssl` command (never committed): a CA, a
 * server certificate for 127.0.0.1 and localhost, a client certificate, and a second CA with a
 * client certificate of its own (a stranger). EC P-256 keys, valid for 2 days. Files go to a
 * temp dir the caller removes.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly strangerCa: string;
  readonly strangerCert: string;
  readonly strangerKey: string;
  remove(): void;
}

/** `openssl version`, or undefined when it is not installed. */
export function opensslVersion(): string | undefined {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('openssl', args, { timeout: 30_000 }, (err, _out, stderr) =>
      err === null ? resolve() : reject(new Error(`openssl ${args[0]}: ${stderr}`)),
    ),
  );
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    ...EC,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
  return { cert, key };
}

async function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await openssl(['req', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl([
    ...['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial'],
    ...['-out', cert, '-days', '2', '-extfile', ext],
  ]);
  return { cert, key };
}

export async function makeTestCerts(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-etcd-tls-'));
  const ca = await makeCa(dir, 'ca');
  const server = await makeLeaf(
    dir,
    'server',
    ca,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  const client = await makeLeaf(dir, 'client', ca, 'extendedKeyUsage=clientAuth\n');
  const strangerCa = await makeCa(dir, 'stranger-ca');
  const stranger = await makeLeaf(dir, 'stranger', strangerCa, 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    strangerCa: strangerCa.cert,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
