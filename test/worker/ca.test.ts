/**
 * The worker CA's registration path (src/worker/ca.ts, worker-tier.md "Certificates"): leaves
 * signed from the template with node:crypto carry exactly the fields the design names (RFC 5280
 * §4.1 structure, read back by node:crypto's own X.509 parser and by @peculiar/x509), and a CSR
 * without proof of possession, with a key other than Ed25519, or that does not parse, is refused
 * with ERR_INVALID_ARGUMENT and signs nothing.
 */
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, sign, webcrypto } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import {
  LEAF_BACKDATE_MS,
  certFacts,
  createCsr,
  createCsrWithLibrary,
  generateKeyPair,
  importKeyPairPem,
  leafEncoders,
  leafSplicer,
  loadOrCreateCa,
  signedByOneOf,
  verifiedCsrKey,
  verifiedCsrKeyWithLibrary,
  workerIdOf,
  type LeafFields,
  type WorkerCa,
} from '../../src/worker/ca.js';

const NOW_MS = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(hasErrorCode(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('worker CA leaves (template + node:crypto Ed25519)', () => {
  let dir: string;
  let ca: WorkerCa;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-ca-test-'));
    ca = await loadOrCreateCa(dir, 'srv1', NOW_MS);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('issues CN worker-<NodeId of the CSR key>, the CA as issuer, the validity window and clientAuth + serverAuth', async () => {
    const keys = await generateKeyPair();
    const leaf = ca.signWorker(await createCsr(keys, 'ignored-subject'), NOW_MS, 30 * DAY_MS);
    const id = await workerIdOf(keys);
    expect(leaf.workerId).toBe(id);
    const facts = certFacts(leaf.certPem);
    expect(facts.cn).toBe(`worker-${id}`);
    expect(facts.serialHex).toBe(leaf.serialHex.replace(/^0+/, ''));
    expect(facts.notBeforeMs).toBe(NOW_MS - LEAF_BACKDATE_MS);
    expect(facts.notAfterMs).toBe(NOW_MS + 30 * DAY_MS);
    expect(leaf.notAfterMs).toBe(NOW_MS + 30 * DAY_MS);
    expect(signedByOneOf(leaf.certPem, [ca.certPem])).toBe(true);
    const parsed = new x509.X509Certificate(leaf.certPem);
    expect(parsed.issuer).toBe('CN=shoal-worker-ca-srv1');
    const spki = new Uint8Array(parsed.publicKey.rawData);
    const expected = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    expect(Buffer.from(spki).equals(Buffer.from(expected))).toBe(true);
    const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
    expect(eku?.usages).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
      x509.ExtendedKeyUsage.serverAuth,
    ]);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(new X509Certificate(leaf.certPem).ca).toBe(false);
  });

  it('gives every leaf its own serial, and a leaf is not signed by another CA', async () => {
    const other = await loadOrCreateCa(join(dir, 'other'), 'srv2', NOW_MS);
    const csr = await createCsr(await generateKeyPair(), 'w');
    const a = ca.signWorker(csr, NOW_MS, DAY_MS);
    const b = ca.signWorker(csr, NOW_MS, DAY_MS);
    expect(a.serialHex).not.toBe(b.serialHex);
    expect(signedByOneOf(a.certPem, [other.certPem])).toBe(false);
  });

  it("writes the CSR's DER as @peculiar/x509's generator does, byte for byte, and the CA accepts it", async () => {
    const der = (pem: string) =>
      Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const keys = await generateKeyPair();
    const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', keys.publicKey));
    // Printable and UTF-8 names, escaped characters, a name long enough for a two-byte length.
    for (const name of ['w1', 'wörker-ß', 'a b(c)?', 'bad,name=+"x<y>', 'é'.repeat(70), '']) {
      const ours = await createCsr(keys, name);
      expect(der(ours).equals(der(await createCsrWithLibrary(keys, name)))).toBe(true);
      expect(Buffer.from(verifiedCsrKey(ours)).equals(Buffer.from(raw))).toBe(true);
      expect(await new x509.Pkcs10CertificateRequest(ours).verify()).toBe(true);
    }
  });

  it('checks CSRs by hand as the library parse did: same key accepted, every mutant refused with a stable code', async () => {
    const keys = await generateKeyPair();
    const plain = await createCsr(keys, 'w1');
    // With attributes (an extension request), as other tools write them.
    const withAttributes = (
      await x509.Pkcs10CertificateRequestGenerator.create({
        name: 'CN=other-tool',
        keys,
        signingAlgorithm: { name: 'Ed25519' },
        extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature)],
      })
    ).toString('pem');
    const pemOf = (b: Uint8Array) =>
      `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(b).toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const derOfPem = (pem: string) =>
      Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const ours = (pem: string): Uint8Array | string => {
      try {
        return verifiedCsrKey(pem);
      } catch (err) {
        expect(hasErrorCode(err, 'ERR_INVALID_ARGUMENT')).toBe(true);
        return 'refused';
      }
    };
    for (const pem of [plain, withAttributes])
      expect(ours(pem)).toEqual(verifiedCsrKeyWithLibrary(pem));
    const good = derOfPem(plain);
    let seed = 7;
    const next = (bound: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % bound;
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(good);
      const kind = i % 4;
      let mutant: Buffer;
      if (kind === 0) {
        const at = next(b.length);
        b[at] = (b[at] as number) ^ (1 << next(8));
        mutant = b;
      } else if (kind === 1) mutant = b.subarray(0, next(b.length));
      else if (kind === 2) mutant = Buffer.concat([b, Buffer.from([next(256)])]);
      else {
        const at = next(b.length);
        mutant = Buffer.concat([b.subarray(0, at), Buffer.from([next(256)]), b.subarray(at)]);
      }
      const pem = pemOf(mutant);
      const reference = verifiedCsrKeyWithLibrary(pem);
      const result = ours(pem);
      // Never more lenient than the library; as strict or stricter (DER only).
      if (result !== 'refused') expect(result).toEqual(reference);
      if (reference === undefined) expect(result).toBe('refused');
    }
  });

  it('refuses a CSR whose signature does not verify (no proof of possession)', async () => {
    const csr = new x509.Pkcs10CertificateRequest(await createCsr(await generateKeyPair(), 'w'));
    const der = new Uint8Array(csr.rawData);
    der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01; // the signature's last byte
    const forged = new x509.Pkcs10CertificateRequest(der).toString('pem');
    expect(refusal(() => ca.signWorker(forged, NOW_MS, DAY_MS))).toMatch(/proof of possession/);
  });

  it("refuses a CSR whose key is replaced by another's (signed by the first key)", async () => {
    const csr = await createCsr(await generateKeyPair(), 'w');
    const victim = new x509.Pkcs10CertificateRequest(await createCsr(await generateKeyPair(), 'w'));
    const mine = new x509.Pkcs10CertificateRequest(csr);
    const a = Buffer.from(new Uint8Array(mine.rawData));
    const theirs = Buffer.from(new Uint8Array(victim.publicKey.rawData)).subarray(12);
    const at = a.indexOf(Buffer.from(new Uint8Array(mine.publicKey.rawData)).subarray(12));
    theirs.copy(a, at);
    const swapped = new x509.Pkcs10CertificateRequest(a).toString('pem');
    expect(refusal(() => ca.signWorker(swapped, NOW_MS, DAY_MS))).toMatch(/proof of possession/);
  });

  it('refuses a CSR for a P-256 key, and one that does not parse', async () => {
    const ec = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=w',
      keys: ec,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    expect(refusal(() => ca.signWorker(csr.toString('pem'), NOW_MS, DAY_MS))).toMatch(/Ed25519/);
    expect(
      refusal(() =>
        ca.signWorker(
          '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
          NOW_MS,
          DAY_MS,
        ),
      ),
    ).toMatch(/does not parse/);
  });

  it('splices leaves byte for byte as the full encoding gives them, and falls back past 2049', async () => {
    const keyPem = readFileSync(join(dir, 'ca-key.pem'), 'utf8');
    const { encode, splice } = await leafEncoders(
      await importKeyPairPem(keyPem),
      new x509.X509Certificate(ca.certPem),
    );
    const caKey = createPrivateKey(keyPem);
    const fields = (notAfterMs: number): LeafFields => {
      const serial = randomBytes(16);
      serial[0] = 0x01 | ((serial[0] as number) & 0x7f);
      return {
        serial,
        notBeforeMs: NOW_MS - LEAF_BACKDATE_MS + 999, // milliseconds are dropped by both
        notAfterMs,
        workerId: randomBytes(16).toString('hex'),
        rawKey: randomBytes(32),
        sign: (tbs) => sign(null, tbs, caKey),
      };
    };
    for (let i = 0; i < 20; i++) {
      const leaf = fields(NOW_MS + (i + 1) * 7 * DAY_MS + i * 1_001);
      const spliced = splice(leaf);
      expect(spliced?.toString('hex')).toBe(encode(leaf).toString('hex'));
      const cert = new X509Certificate(spliced as Buffer);
      expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    }
    expect(splice(fields(Date.UTC(2050, 0, 1)))).toBeUndefined();
    expect(splice({ ...fields(NOW_MS), workerId: 'short' })).toBeUndefined();
    const late = await loadOrCreateCa(join(dir, 'late'), 'srv3', NOW_MS);
    const leaf = late.signWorker(
      await createCsr(await generateKeyPair(), 'w'),
      NOW_MS,
      Date.UTC(2051, 0, 1) - NOW_MS,
    );
    expect(certFacts(leaf.certPem).notAfterMs).toBe(Date.UTC(2051, 0, 1));
    expect(signedByOneOf(leaf.certPem, [late.certPem])).toBe(true);
  });

  it('refuses to build a template whose encoding hides a field (a broken encoder is caught)', () => {
    const broken = (leaf: LeafFields): Buffer =>
      Buffer.concat([Buffer.from([0x30, 0x03, 0x30, 0x01, 0x00]), leaf.serial]); // no key, no dates
    expect(() => leafSplicer(broken)).toThrow(/not found exactly once/);
  });
});
