/**
 * Who is calling (docs/design/worker-tier.md, "Certificates"). TLS has already checked that a
 * presented certificate chains to a CA of the trust bundle (grpc-js exposes it only then); these
 * checks add the rest: the CN names a worker (`worker-<id>`) or a server (`server-<id>`), a
 * worker's record exists, is not revoked, and names this certificate's serial (a renewed or
 * re-registered worker's old certificate stops working), and a server is one the store knows.
 */
import type { FailureReason } from './api.js';
import type { StoreView, Revisioned } from './view.js';
import type { WorkerRecord } from './core/records.js';

export type Caller =
  | { ok: true; kind: 'worker'; id: string; record: Revisioned<WorkerRecord> }
  | { ok: true; kind: 'server'; id: string }
  | { ok: false; reason: FailureReason; detail: string };

/** What grpc-js's call.getAuthContext() gives (the peer certificate only when TLS verified it). */
interface AuthContext {
  sslPeerCertificate?: unknown;
}

interface PeerCert {
  subject?: { CN?: string | string[] };
  serialNumber?: string;
}

function peer(call: { getAuthContext?(): AuthContext | null }): PeerCert | undefined {
  const context = call.getAuthContext?.();
  return (context?.sslPeerCertificate ?? undefined) as PeerCert | undefined;
}

function cn(cert: PeerCert): string | undefined {
  const value = cert.subject?.CN;
  return Array.isArray(value) ? value[0] : value;
}

/** Normalized serial: lowercase hex without leading zeros. */
export function normalSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}

export function callerOf(call: { getAuthContext?(): AuthContext | null }, view: StoreView): Caller {
  const cert = peer(call);
  if (cert === undefined)
    return {
      ok: false,
      reason: 'unauthenticated',
      detail: 'this call needs a certificate issued by a server CA of the cluster',
    };
  const name = cn(cert) ?? '';
  const worker = /^worker-([0-9a-f]{32})$/.exec(name);
  if (worker !== null) {
    const id = worker[1] as string;
    const record = view.workers.get(id);
    if (record === undefined)
      return {
        ok: false,
        reason: 'unknown-worker',
        detail: `worker ${id} has no record on this server (yet)`,
      };
    if (record.status === 'revoked')
      return {
        ok: false,
        reason: 'unauthenticated',
        detail: `worker ${id} is revoked: ${record.reason}`,
      };
    if (normalSerial(cert.serialNumber ?? '') !== normalSerial(record.certSerial))
      return {
        ok: false,
        reason: 'unknown-worker',
        detail: `certificate ${cert.serialNumber ?? '?'} is not worker ${id}'s current one here`,
      };
    return { ok: true, kind: 'worker', id, record };
  }
  const server = /^server-([0-9a-f]{32})$/.exec(name);
  if (server !== null) {
    const id = server[1] as string;
    if (!view.servers.has(id) && !view.caPems.has(id))
      return {
        ok: false,
        reason: 'unauthenticated',
        detail: `server ${id} is not a server of this cluster`,
      };
    return { ok: true, kind: 'server', id };
  }
  return {
    ok: false,
    reason: 'unauthenticated',
    detail: `certificate CN ${JSON.stringify(name)} is neither a worker nor a server`,
  };
}
