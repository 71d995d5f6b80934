/**
 * TLS for the worker API (docs/design/worker-tier.md, "Certificates"). Servers present a leaf
 * of their own CA (CN server-<id>) and accept, without requiring one, client certificates that
 * chain to the trust bundle (every server CA in the store): Register and TrustBundle must work
 * without a certificate, and every other call checks the caller itself (auth.ts). The bundle is
 * pushed to grpc-js through a CertificateProvider, so a server that joins later is trusted by
 * the others without a restart.
 *
 * Workers and servers verify the server they talk to against the bundle and require its CN to
 * start with `server-`: a worker's certificate (also from a server CA) cannot pose as a server.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';

/** PEM certificates as one text, each ending in a newline (a missing one would merge two blocks). */
export function joinPems(pems: readonly string[]): string {
  return pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

export class TrustProvider implements grpc.experimental.CertificateProvider {
  private ca: { caCertificate: Buffer } | undefined;
  private identity: { certificate: Buffer; privateKey: Buffer } | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private bundleText = '';

  setBundle(pems: readonly string[]): void {
    const text = joinPems(pems);
    if (text === this.bundleText) return;
    this.bundleText = text;
    this.ca = { caCertificate: Buffer.from(text) };
    for (const l of this.caListeners) l(this.ca);
  }

  setIdentity(certPem: string, keyPem: string): void {
    this.identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
    for (const l of this.identityListeners) l(this.identity);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Later, not now: grpc-js registers its own watcher only after adding the listener, and an
    // update delivered before that is lost (the server would drop every connection).
    setImmediate(() => {
      if (this.ca !== undefined && this.caListeners.has(listener)) listener(this.ca);
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    setImmediate(() => {
      if (this.identity !== undefined && this.identityListeners.has(listener))
        listener(this.identity);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  /** Server credentials: this identity, client certificates requested and checked against the bundle, not required. */
  serverCredentials(): grpc.ServerCredentials {
    return grpc.experimental.createCertificateProviderServerCredentials(this, this, false);
  }
}

/** Accepts only a server's certificate (CN server-<id>); hostnames are not used (ids are). */
export function checkServerCn(_host: string, cert: PeerCertificate): Error | undefined {
  const cn = cert.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  return typeof name === 'string' && /^server-[0-9a-f]{32}$/.test(name)
    ? undefined
    : new Error(`the peer's certificate CN ${JSON.stringify(name)} is not a server's`);
}

/** mTLS to a server: trust `bundle`, present `identity`, require a server CN. */
export function serverChannelCredentials(
  bundle: readonly string[],
  identity: { certPem: string; keyPem: string } | undefined,
): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    Buffer.from(joinPems(bundle)),
    identity === undefined ? null : Buffer.from(identity.keyPem),
    identity === undefined ? null : Buffer.from(identity.certPem),
    { checkServerIdentity: checkServerCn },
  );
}

/**
 * TLS without verification: only for fetching the public trust bundle before registration; the
 * worker trusts nothing it learns this way but CAs whose pins its signed token carries.
 */
export function unverifiedCredentials(): grpc.ChannelCredentials {
  // One for the process: building it loads the system's root CAs (about 30 ms), which matter
  // nothing here since nothing is verified.
  unverified ??= grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false });
  return unverified;
}

let unverified: grpc.ChannelCredentials | undefined;
