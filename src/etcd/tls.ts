/**
 * TLS for the etcd endpoint (`--grpc-tls-cert`, `--grpc-tls-key`, `--grpc-tls-ca`). When
 * configured, the endpoint speaks TLS only (a plaintext client fails its handshake) and requires
 * a client certificate signed by the CA: the certificate is the credential, as with etcd's
 * --client-cert-auth. The three files go together; the files are read and checked when the agent
 * starts, so a wrong path, a file that is not PEM, a key that does not match the certificate or
 * an expired certificate is a config error naming the field, not a handshake that fails later.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';

/** PEM bytes of the server's certificate chain, its private key and the CA for client certs. */
export interface GrpcTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

export interface GrpcTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Builds the error for a bad file: (field, value, what is wrong). */
export type TlsFault = (field: keyof GrpcTlsFiles, file: string, problem: string) => Error;

function read(field: keyof GrpcTlsFiles, file: string, fault: TlsFault): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw fault(field, file, `cannot be read (${String((err as { code?: unknown }).code ?? err)})`);
  }
}

function certificate(
  field: 'cert' | 'ca',
  file: string,
  pem: Buffer,
  fault: TlsFault,
  nowMs: number,
): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw fault(field, file, `is not a PEM X.509 certificate (${(err as Error).message})`);
  }
  if (Date.parse(cert.validTo) < nowMs)
    throw fault(field, file, `holds a certificate that expired on ${cert.validTo}`);
  return cert;
}

/** Reads and checks the three files; throws `fault(...)` for the first problem found. */
export function loadGrpcTls(files: GrpcTlsFiles, fault: TlsFault, nowMs = Date.now()): GrpcTls {
  const cert = read('cert', files.cert, fault);
  const key = read('key', files.key, fault);
  const ca = read('ca', files.ca, fault);
  const serverCert = certificate('cert', files.cert, cert, fault, nowMs);
  certificate('ca', files.ca, ca, fault, nowMs);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw fault('key', files.key, `is not a PEM private key (${(err as Error).message})`);
  }
  if (!serverCert.checkPrivateKey(privateKey))
    throw fault('key', files.key, `does not match the certificate in ${files.cert}`);
  return { cert, key, ca };
}

/** Server credentials: TLS with a required client certificate, or plaintext when no TLS. */
export function serverCredentials(tls: GrpcTls | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.ca,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    true,
  );
}
