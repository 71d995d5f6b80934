/**
 * Raft mode's sender authentication on real sockets (docs/security.md, "Raft mode"): every
 * stream connection opens with the dialer's signed hello (src/transport/peer-auth.ts), every
 * Raft and node message must name the connection's proved NodeId and address as its sender
 * (raft-rpc.ts `DemuxTransport`), and no message travels as an unauthenticated packet. With
 * admission configured, a dialer the policy refuses cannot open a connection at all, so its
 * join, its votes and its appends never reach the Raft core.
 *
 * Refusals move transport drop counters (`peer_auth_<reason>`, `sender_mismatch`,
 * `packet_unauthenticated`: `shoal_packets_dropped_total{reason}`) and are reported as
 * `security` events at most once per reason per `RAFT_SECURITY_LOG_INTERVAL_MS`, with the number
 * suppressed since, like membership's.
 */
import { toHex } from '../base/hex.js';
import type { Clock } from '../base/time.js';
import type { PublicKey, Signature } from '../identity/signed.js';
import { PeerAuthenticator, type HelloCertificate } from '../transport/peer-auth.js';
import type { Transport } from '../transport/types.js';
import { admissionOf } from './mode-swim.js';
import type { DemuxTransport } from './raft-rpc.js';
import type { SecurityNotice, WiringContext } from './runtime.js';

/** @defaultValue 10 s: as membership's `securityLogIntervalMs`. */
export const RAFT_SECURITY_LOG_INTERVAL_MS = 10_000;

/** One notice per reason per interval; the rest are counted as suppressed. */
export class SecurityNotices {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly publish: (notice: SecurityNotice) => void,
  ) {}

  report(reason: string, detail: string): void {
    const now = this.clock.now();
    const log = this.last.get(reason);
    if (log !== undefined && now - log.atMs < this.intervalMs) {
      log.suppressed++;
      return;
    }
    this.last.set(reason, { atMs: now, suppressed: 0 });
    this.publish({ reason, detail, suppressed: log?.suppressed ?? 0 });
  }
}

/**
 * Makes `transport` authenticate its connections and `demux` check every sender, when the
 * transport has real connections (not the simulator's memory transport) and verification is
 * not switched off (`internals.unsafeSkipVerification`: the tests' positive control). Returns
 * the authenticator (its counters), or undefined when nothing is checked. Call before any send.
 */
export function authenticateRaftPeers(
  ctx: WiringContext,
  transport: Transport,
  demux: DemuxTransport,
): PeerAuthenticator | undefined {
  if (transport.authenticatePeers === undefined || ctx.internals.unsafeSkipVerification === true)
    return undefined;
  const admission = admissionOf(ctx);
  const certificate = admission?.policy.certificate;
  const helloCertificate: HelloCertificate | undefined =
    certificate === undefined
      ? undefined
      : {
          notBeforeMs: certificate.notBeforeMs,
          notAfterMs: certificate.notAfterMs,
          signature: Buffer.from(certificate.signature, 'hex'),
        };
  const auth = new PeerAuthenticator({
    clusterId: ctx.options.clusterId,
    identity: ctx.identity,
    certificate: helloCertificate,
    admit:
      admission === undefined
        ? undefined
        : (hello) =>
            admission.admit({
              id: hello.id,
              publicKey: toHex(hello.publicKey) as PublicKey,
              certificate:
                hello.certificate === undefined
                  ? undefined
                  : {
                      notBeforeMs: hello.certificate.notBeforeMs,
                      notAfterMs: hello.certificate.notAfterMs,
                      signature: toHex(hello.certificate.signature) as Signature,
                    },
            }),
    wallClockMs: ctx.internals.wallClockMs ?? Date.now,
  });
  const notices = new SecurityNotices(ctx.io.clock, RAFT_SECURITY_LOG_INTERVAL_MS, (notice) =>
    ctx.publishSecurity(notice),
  );
  const countDrop = transport.authenticatePeers(auth, (reason, detail) =>
    notices.report(`peer_auth_${reason}`, detail),
  );
  demux.requireAuthenticatedSenders(countDrop, (detail) =>
    notices.report('sender_mismatch', detail),
  );
  return auth;
}
