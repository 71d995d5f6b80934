/**
 * The server's cost per registration, piece by piece, in CPU time (process.cpuUsage, so a loaded
 * machine's waits do not count): the token check, the CSR check and leaf signing as the
 * registration path does them now (`WorkerCa.signWorker`: @peculiar/asn1-csr parsing, the
 * CSR's key imported as a JWK, the leaf spliced into a per-CA template, node:crypto Ed25519),
 * the previous round's way (the same CSR check, the leaf serialized in full by
 * @peculiar/asn1-schema: `leafEncoders`' `encode`), and the first way, through
 * @peculiar/x509's objects and generator over WebCrypto. The token check is measured on a
 * token's first use (a fresh token each time) and on a token seen before (its signature
 * remembered). Rounds alternate between the ways so load shifts hit them alike.
 *
 * `npx tsx bench/worker-ca.ts --leaves 500 --rounds 5`
 */
import * as x509 from '@peculiar/x509';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
} from '../src/identity/keys.js';
import { createPrivateKey, sign } from 'node:crypto';
import {
  LEAF_BACKDATE_MS,
  createCsr,
  generateKeyPair,
  importKeyPairPem,
  leafEncoders,
  loadOrCreateCa,
  verifiedCsrKey,
} from '../src/worker/ca.js';
import { checkToken } from '../src/worker/core/token.js';
import { issueToken, nodeIdOfKeyHex, verifyHex } from '../src/worker/tokens.js';
import { fmt, fmtRange, isMain, parseFlags, table } from './lib-report.js';

const DAY_MS = 86_400_000;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  const leaves = Number(flags.get('leaves') ?? 500);
  const rounds = Number(flags.get('rounds') ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'shoal-worker-ca-'));
  try {
    const ca = await loadOrCreateCa(dir, 'bench', Date.now());
    const caKeys = await importKeyPairPem(readFileSync(join(dir, 'ca-key.pem'), 'utf8'));
    const caCert = new x509.X509Certificate(ca.certPem);
    const csrs: string[] = [];
    for (let i = 0; i < leaves; i++) csrs.push(await createCsr(await generateKeyPair(), `w${i}`));
    // Before: the library's objects and generator, WebCrypto's sign and verify.
    const libraryLeaf = async (csrPem: string, nowMs: number): Promise<string> => {
      const csr = new x509.Pkcs10CertificateRequest(csrPem);
      if (!(await csr.verify())) throw new Error('CSR does not verify');
      const id = nodeIdFromPublicKey(new Uint8Array(csr.publicKey.rawData).slice(12));
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: '01',
        subject: `CN=worker-${id}`,
        issuer: caCert.subject,
        notBefore: new Date(nowMs),
        notAfter: new Date(nowMs + 30 * DAY_MS),
        signingAlgorithm: { name: 'Ed25519' },
        publicKey: csr.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.clientAuth,
            x509.ExtendedKeyUsage.serverAuth,
          ]),
        ],
      });
      return leaf.toString('pem');
    };
    const pair = generateRawKeyPair();
    const key = privateKeyFromSeed(pair.privateSeed);
    const serverId = nodeIdFromPublicKey(pair.publicKey);
    const issue = () =>
      issueToken(
        { maxUses: leaves },
        {
          clusterId: 'bench',
          nowMs: Date.now(),
          caPins: [ca.pin],
          signer: { publicKey: pair.publicKey, sign: (data) => signWith(key, data) },
          ttlMsMax: 30 * DAY_MS,
        },
      ).token;
    const check = (token: string) => {
      const result = checkToken(
        token,
        {},
        {
          clusterId: 'bench',
          nowMs: Date.now(),
          skewMs: 60_000,
          isServerKey: (hex) => nodeIdOfKeyHex(hex) === serverId,
          verify: verifyHex,
        },
      );
      if (!result.ok) throw new Error('token refused');
    };
    // The previous round's leaf: the same CSR check, the certificate serialized in full.
    const caKeyPem = readFileSync(join(dir, 'ca-key.pem'), 'utf8');
    const caKeyObject = createPrivateKey(caKeyPem);
    const { encode } = await leafEncoders(caKeys, caCert);
    const serializedLeaf = (csrPem: string, nowMs: number): Buffer => {
      const rawKey = verifiedCsrKey(csrPem);
      return encode({
        serial: Buffer.from('01'.repeat(16), 'hex'),
        notBeforeMs: nowMs - LEAF_BACKDATE_MS,
        notAfterMs: nowMs + 30 * DAY_MS,
        workerId: nodeIdFromPublicKey(rawKey),
        rawKey,
        sign: (tbs) => sign(null, tbs, caKeyObject),
      });
    };
    const token = issue();
    const fresh = Array.from({ length: leaves }, issue);
    const now: number[] = [];
    const serialized: number[] = [];
    const before: number[] = [];
    const tokensSeen: number[] = [];
    const tokensFirst: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t0 = cpuMs();
      for (const csr of csrs) ca.signWorker(csr, Date.now(), 30 * DAY_MS);
      now.push((cpuMs() - t0) / leaves);
      t0 = cpuMs();
      for (const csr of csrs) serializedLeaf(csr, Date.now());
      serialized.push((cpuMs() - t0) / leaves);
      t0 = cpuMs();
      for (const csr of csrs) await libraryLeaf(csr, Date.now());
      before.push((cpuMs() - t0) / leaves);
      t0 = cpuMs();
      for (let i = 0; i < leaves; i++) check(token);
      tokensSeen.push((cpuMs() - t0) / leaves);
      // Fresh tokens, more than the remembered signatures (64), in turn: every check verifies.
      t0 = cpuMs();
      for (const each of fresh) check(each);
      tokensFirst.push((cpuMs() - t0) / leaves);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return table(
      [
        'step (CPU ms per registration, median [min–max] of rounds)',
        `${leaves} leaves × ${rounds}`,
      ],
      [
        ['CSR check + leaf, @peculiar/x509 generator over WebCrypto (first)', fmtRange(before, 3)],
        [
          'CSR check + leaf, template serialized by @peculiar/asn1-schema (previous)',
          fmtRange(serialized, 3),
        ],
        ['CSR check + leaf, spliced template + node:crypto Ed25519 (now)', fmtRange(now, 3)],
        ['token check, a token seen before (signature remembered)', fmtRange(tokensSeen, 3)],
        ["token check, a token's first use (signature verified)", fmtRange(tokensFirst, 3)],
        [
          'registrations per CPU-second, now (leaf + seen token)',
          fmt(1000 / (mean(now) + mean(tokensSeen))),
        ],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
