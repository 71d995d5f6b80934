/**
 * The server's cost per registration, piece by piece, in CPU time (process.cpuUsage, so a loaded
 * machine's waits do not count): the token check, the CSR check and leaf signing as the
 * registration path does them now (`WorkerCa.signWorker`: @peculiar/asn1-csr parsing, a
 * template TBSCertificate serialized by @peculiar/asn1-schema, node:crypto Ed25519), and the
 * way it did them before, through @peculiar/x509's objects and generator over WebCrypto (kept
 * here as the baseline). Rounds alternate between the two so load shifts hit both alike.
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
import { createCsr, generateKeyPair, importKeyPairPem, loadOrCreateCa } from '../src/worker/ca.js';
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
    const { token } = issueToken(
      { maxUses: leaves },
      {
        clusterId: 'bench',
        nowMs: Date.now(),
        caPins: [ca.pin],
        signer: { publicKey: pair.publicKey, sign: (data) => signWith(key, data) },
        ttlMsMax: 30 * DAY_MS,
      },
    );
    const checkOnce = () =>
      checkToken(
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
    const now: number[] = [];
    const before: number[] = [];
    const tokens: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t0 = cpuMs();
      for (const csr of csrs) ca.signWorker(csr, Date.now(), 30 * DAY_MS);
      now.push((cpuMs() - t0) / leaves);
      t0 = cpuMs();
      for (const csr of csrs) await libraryLeaf(csr, Date.now());
      before.push((cpuMs() - t0) / leaves);
      t0 = cpuMs();
      for (let i = 0; i < leaves; i++) if (!checkOnce().ok) throw new Error('token refused');
      tokens.push((cpuMs() - t0) / leaves);
    }
    return table(
      [
        'step (CPU ms per registration, median [min–max] of rounds)',
        `${leaves} leaves × ${rounds}`,
      ],
      [
        ['CSR check + leaf, @peculiar/x509 generator over WebCrypto (before)', fmtRange(before, 3)],
        ['CSR check + leaf, template + node:crypto Ed25519 (now)', fmtRange(now, 3)],
        ['token check (signature, claims)', fmtRange(tokens, 3)],
        [
          'leaves per CPU-second, now',
          fmt(1000 / (now.reduce((a, b) => a + b, 0) / Math.max(1, now.length))),
        ],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
