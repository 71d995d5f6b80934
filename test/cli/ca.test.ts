/**
 * `shoal ca` and the agent's admission settings, in-process through `main` (docs/cli.md,
 * docs/security.md "Admission"): a CA is created 0600/0644 and never overwritten; a node
 * certificate is signed for a data dir's identity or a given key, with its validity window,
 * and admits exactly that key in that cluster; bad arguments are exit 2 naming the flag. The
 * agent's `--admission-*` flags, `SHOAL_ADMISSION_*` variables and config-file fields reach
 * createNode's `admission` option, and every bad value is exit 2 naming the field, before any
 * port is bound. The same flags over real processes: test/security/agent-admission.test.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';
import { loadOrCreateIdentitySync } from '../../src/identity/identity.js';
import { admissionCheck, admissionPolicy, parseNodeCertificate } from '../../src/node/admission.js';
import { shoal } from '../helpers/run-cli.js';

const root = mkdtempSync(join(tmpdir(), 'shoal-ca-'));
let dirs = 0;
const fresh = (name: string): string => join(root, `${name}-${++dirs}`);

/** A CA in a new dir: its key file, public key file and public key. */
async function newCa(): Promise<{ key: string; pub: string; publicKey: string }> {
  const dir = fresh('ca');
  const { code, out } = await shoal('ca', 'create', '--dir', dir, '--json');
  expect(code).toBe(0);
  const made = JSON.parse(out) as {
    privateKeyFile: string;
    publicKeyFile: string;
    publicKey: string;
  };
  return { key: made.privateKeyFile, pub: made.publicKeyFile, publicKey: made.publicKey };
}

/** A data dir with an identity; its NodeId and base64 public key. */
function node(name: string): { dir: string; id: string; publicKey: string } {
  const dir = fresh(name);
  const identity = loadOrCreateIdentitySync(dir);
  return {
    dir,
    id: identity.nodeId,
    publicKey: Buffer.from(identity.publicKey).toString('base64'),
  };
}

/** Whether a CA's key admits `certificate` (text) for `member` in `clusterId` at `nowMs`. */
function admits(
  caPublicKey: string,
  certificate: string,
  member: { id: string; publicKey: string },
  clusterId: string,
  nowMs = Date.now(),
): string | undefined {
  const policy = admissionPolicy({ ca: [caPublicKey] }, clusterId);
  const decoded = parseNodeCertificate(certificate);
  return admissionCheck(
    policy,
    clusterId,
    () => nowMs,
  )({
    id: member.id as never,
    publicKey: Buffer.from(member.publicKey, 'base64').toString('hex') as never,
    certificate: decoded,
  });
}

describe('shoal ca create', () => {
  it('writes a private key only its owner may read and a public key, and never overwrites them', async () => {
    const ca = await newCa();
    expect(statSync(ca.key).mode & 0o777).toBe(0o600);
    expect(statSync(ca.pub).mode & 0o777).toBe(0o644);
    expect(readFileSync(ca.pub, 'utf8')).toBe(`${ca.publicKey}\n`);
    expect(JSON.parse(readFileSync(ca.key, 'utf8'))).toMatchObject({
      format: 'shoal-cluster-ca',
      version: 1,
      publicKey: ca.publicKey,
    });
    const before = readFileSync(ca.key, 'utf8');
    const again = await shoal('ca', 'create', '--dir', join(ca.key, '..'));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/ca\.key already exists: a CA is never overwritten/);
    expect(readFileSync(ca.key, 'utf8')).toBe(before);
  });
});

describe('shoal ca sign and show', () => {
  it("certifies a data dir's key, or a given one, for its cluster and validity window", async () => {
    const ca = await newCa();
    const a = node('a');
    const b = node('b');
    const out = join(root, 'a.cert');
    const signed = await shoal(
      ...['ca', 'sign', '--ca-key', ca.key, '--data-dir', a.dir, '--cluster-id', 'prod'],
      ...['--valid-for', '2h', '--not-before', '2026-01-01T00:00:00Z', '--out', out],
    );
    expect(signed.code).toBe(0);
    expect(signed.out).toMatch(new RegExp(`certificate for ${a.id} in cluster prod`));
    const text = readFileSync(out, 'utf8').trim();
    const start = Date.parse('2026-01-01T00:00:00Z');
    expect(parseNodeCertificate(text)).toMatchObject({
      clusterId: 'prod',
      notBeforeMs: start,
      notAfterMs: start + 2 * 3_600_000,
    });
    expect(admits(ca.publicKey, text, a, 'prod', start + 1000)).toBeUndefined();
    expect(admits(ca.publicKey, text, b, 'prod', start + 1000)).toMatch(/no CA key/);
    expect(admits(ca.publicKey, text, a, 'test', start + 1000)).toMatch(/no CA key/);
    expect(admits(ca.publicKey, text, a, 'prod', start + 2 * 3_600_000 + 1)).toMatch(/expired/);

    // By key, printed: valid from five minutes ago (clock skew) for the default 365 days.
    const byKey = await shoal('ca', 'sign', '--ca-key', ca.key, '--node-key', b.publicKey);
    expect(byKey.code).toBe(0);
    const certificate = parseNodeCertificate(byKey.out.trim());
    expect(certificate.clusterId).toBe('default');
    expect(Date.now() - certificate.notBeforeMs).toBeGreaterThanOrEqual(5 * 60_000);
    expect(certificate.notAfterMs - certificate.notBeforeMs).toBe(365 * 86_400_000);
    expect(admits(ca.publicKey, byKey.out.trim(), b, 'default')).toBeUndefined();

    const certFile = join(root, 'b.cert');
    writeFileSync(certFile, byKey.out);
    const shown = await shoal('ca', 'show', certFile, '--ca', ca.pub, '--json');
    expect(JSON.parse(shown.out)).toMatchObject({
      nodeId: b.id,
      clusterId: 'default',
      publicKey: b.publicKey,
      status: 'valid now',
      ca: `signed by ${ca.pub}, admitted now`,
    });
    const other = await newCa();
    const foreign = await shoal('ca', 'show', certFile, '--ca', other.pub);
    expect(foreign.out).toMatch(/ca\s+refused: .*no CA key of this cluster signed/);
  });

  it.each([
    [
      'a NodeId as the node key',
      (f: Fixture) => ['--node-key', f.a.id],
      /--node-key .*a NodeId cannot be certified/,
    ],
    [
      'both a key and a data dir',
      (f: Fixture) => ['--node-key', f.a.publicKey, '--data-dir', f.a.dir],
      /exactly one of --node-key/,
    ],
    ['neither', () => [], /exactly one of --node-key/],
    [
      'a data dir without an identity',
      () => ['--data-dir', fresh('empty')],
      /--data-dir .*has no readable identity\.json \(ENOENT\); create it with shoal identity/,
    ],
    [
      'the public key as the CA key',
      (f: Fixture) => ['--data-dir', f.a.dir, '--ca-key', f.ca.pub],
      /--ca-key .*is not a CA private key/,
    ],
    [
      'a CA key that does not exist',
      (f: Fixture) => ['--data-dir', f.a.dir, '--ca-key', join(root, 'none.key')],
      /--ca-key .*cannot be read \(ENOENT\)/,
    ],
    [
      'a validity in years',
      (f: Fixture) => ['--data-dir', f.a.dir, '--valid-for', '2y'],
      /--valid-for "2y"/,
    ],
    [
      'a validity of 0',
      (f: Fixture) => ['--data-dir', f.a.dir, '--valid-for', '0s'],
      /--valid-for "0s"/,
    ],
    [
      'a cluster id with spaces',
      (f: Fixture) => ['--data-dir', f.a.dir, '--cluster-id', 'a b'],
      /--cluster-id "a b"/,
    ],
    [
      'a start that is not a date',
      (f: Fixture) => ['--data-dir', f.a.dir, '--not-before', 'soon'],
      /--not-before "soon"/,
    ],
  ])('refuses %s with exit 2 naming the flag', async (_what, args, message) => {
    const f = await fixture();
    const hasCaKey = args(f).includes('--ca-key');
    const result = await shoal(
      'ca',
      'sign',
      ...(hasCaKey ? [] : ['--ca-key', f.ca.key]),
      ...args(f),
    );
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.out).toBe('');
  });

  it('warns when the CA private key is open to group or others, and signs anyway', async () => {
    const f = await fixture();
    chmodSync(f.ca.key, 0o644);
    const result = await shoal('ca', 'sign', '--ca-key', f.ca.key, '--data-dir', f.a.dir);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/warning: CA private key .* has mode 0644 .*chmod 600/);
  });
});

interface Fixture {
  ca: Awaited<ReturnType<typeof newCa>>;
  a: ReturnType<typeof node>;
}

async function fixture(): Promise<Fixture> {
  return { ca: await newCa(), a: node('a') };
}

describe("the agent's admission settings", () => {
  it('flags, SHOAL_* variables and config-file fields reach the admission option', async () => {
    const f = await fixture();
    const cert = join(root, 'layer.cert');
    expect(
      (await shoal('ca', 'sign', '--ca-key', f.ca.key, '--data-dir', f.a.dir, '--out', cert)).code,
    ).toBe(0);
    const file = join(root, 'admission.yaml');
    writeFileSync(file, `admissionCa: [${f.ca.pub}]\nadmissionAllow: [${f.a.id}]\n`);
    const config = resolveAgentConfig(
      { config: file, admissionCert: cert, admissionDeny: [f.a.publicKey] },
      { SHOAL_ADMISSION_ALLOW: `${f.a.id},${f.a.publicKey}` },
    );
    expect(config.node.admission).toEqual({
      allow: [f.a.id, f.a.publicKey],
      deny: [f.a.publicKey],
      ca: [f.ca.publicKey],
      certificate: readFileSync(cert, 'utf8').trim(),
    });
    expect(resolveAgentConfig({}, {}).node.admission).toBeUndefined();
  });

  it.each([
    [
      'an allow entry that is no id or key',
      (f: Fixture) => ['--admission-allow', f.a.id, 'x'],
      /admissionAllow\.1 \(from --admission-allow\) "x": must be a NodeId/,
    ],
    [
      'a deny entry that is no id or key',
      () => ['--admission-deny', 'x'],
      /admissionDeny\.0 \(from --admission-deny\) "x"/,
    ],
    [
      'the private key as a CA file',
      (f: Fixture) => ['--admission-ca', f.ca.key],
      /admissionCa \(from --admission-ca\) ".*ca\.key": line 1 is not a base64 Ed25519 public key/,
    ],
    [
      'a CA file that does not exist',
      () => ['--admission-ca', join(root, 'none.pub')],
      /admissionCa \(from --admission-ca\) .*cannot be read \(ENOENT\)/,
    ],
    [
      'a certificate without a CA',
      (f: Fixture) => ['--admission-cert', f.ca.pub],
      /admissionCert \(from --admission-cert\) .*given without admissionCa/,
    ],
    [
      'a certificate file that is not one',
      (f: Fixture) => ['--admission-ca', f.ca.pub, '--admission-cert', f.ca.key],
      /admissionCert \(from --admission-cert\) .*certificate is not canonical base64/,
    ],
    [
      'admission outside swim',
      (f: Fixture) => ['--mode', 'single', '--admission-allow', f.a.id],
      /admissionAllow \(from --admission-allow\) .*applies to mode swim, but mode is single/,
    ],
    [
      'a CA that does not admit the node itself',
      (f: Fixture) => ['--admission-ca', f.ca.pub],
      /admissionCert missing: this node's own policy refuses it \(.*carries no certificate\); certify this node with shoal ca sign --data-dir/,
    ],
    [
      'an allow list without the node itself',
      () => ['--admission-allow', 'a'.repeat(32)],
      /admissionAllow \(from --admission-allow\) .*own policy refuses it/,
    ],
    [
      'the node itself revoked',
      (f: Fixture) => ['--admission-deny', f.a.id],
      /admissionDeny \(from --admission-deny\) .*own policy revokes it/,
    ],
  ])('refuses %s with exit 2 naming the field', async (_what, args, message) => {
    const f = await fixture();
    const result = await shoal(
      ...['agent', '--name', 'adm', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0'],
      ...['--data-dir', f.a.dir],
      ...args(f),
    );
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.err.trim().split('\n')).toHaveLength(1);
  });

  it('a certificate of another node, or of another cluster, is refused naming admissionCert', async () => {
    const f = await fixture();
    const b = node('b');
    const cert = join(root, 'b-for-a.cert');
    await shoal('ca', 'sign', '--ca-key', f.ca.key, '--data-dir', b.dir, '--out', cert);
    const run = (...extra: string[]) =>
      shoal(
        ...['agent', '--name', 'adm', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0'],
        ...['--data-dir', f.a.dir, '--admission-ca', f.ca.pub, '--admission-cert', cert],
        ...extra,
      );
    const other = await run();
    expect(other.code).toBe(2);
    expect(other.err).toMatch(
      new RegExp(
        `admissionCert \\(from --admission-cert\\) ".*b-for-a\\.cert": it certifies another key than this node's \\(${f.a.id}\\)`,
      ),
    );
    const cluster = await run('--cluster-id', 'prod');
    expect(cluster.code).toBe(2);
    expect(cluster.err).toMatch(
      /admissionCert .*certifies a member of cluster "default", but clusterId is "prod"/,
    );
  });
});
