/**
 * `shoal ca`: the cluster CA of admission (docs/security.md, "Admission"), for operators.
 *
 * - `shoal ca create [--dir DIR]` writes a new CA key pair: `DIR/ca.key` (the private key,
 *   mode 0600, keep it offline: it admits nodes) and `DIR/ca.pub` (the public key members trust
 *   with `--admission-ca`). It never overwrites a CA.
 * - `shoal ca sign (--node-key KEY | --data-dir DIR)` prints a node certificate (or writes it
 *   with `--out`): the CA's signature over the node's public key, its cluster id and a validity
 *   window. The key comes from the node (`shoal identity --json` prints it) or from a data dir
 *   on this machine. The node runs with `--admission-cert FILE`.
 * - `shoal ca show FILE [--ca FILE]` says what a certificate certifies, until when, and whether
 *   a CA signed it.
 *
 * Bad arguments are exit 2 naming the flag (ERR_INVALID_ARGUMENT); an existing CA or an
 * unwritable file is exit 1.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ShoalError } from '../base/errors.js';
import { IDENTITY_FILE_NAME, parseIdentityFile } from '../identity/identity.js';
import { nodeIdFromPublicKey, publicKeyFromSeed } from '../identity/keys.js';
import {
  admissionCheck,
  admissionPolicy,
  createClusterCa,
  keyFromBase64,
  parseNodeCertificate,
  signNodeCertificate,
  type NodeCertificate,
} from '../node/admission.js';
import { DEFAULT_CLUSTER_ID, nodeOptionsSchema } from '../node/options.js';
import { looseMode, readKeyLines, readTrimmed } from '../agent/key-files.js';

export const CA_DIR_DEFAULT = './shoal-ca';
export const CA_KEY_FILE = 'ca.key';
export const CA_PUBLIC_FILE = 'ca.pub';
/** Default validity of a certificate. */
export const CERTIFICATE_VALID_FOR_DEFAULT = '365d';
/** A certificate is valid from this long before it is signed: members' clocks may be behind the CA's. */
export const CERTIFICATE_CLOCK_SKEW_MS = 5 * 60_000;
/** Longest validity `shoal ca sign` writes: 100 years. */
export const CERTIFICATE_VALID_FOR_MAX_MS = 36_500 * 86_400_000;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function badArgument(flag: string, value: unknown, why: string): ShoalError {
  return new ShoalError(
    'ERR_INVALID_ARGUMENT',
    `invalid argument ${flag} ${JSON.stringify(value)}: ${why}`,
  );
}

/** `90d`, `24h`, `30m`, `3600s` in ms; 1 s to 100 years. */
export function parseValidFor(text: string): number {
  const match = /^(\d{1,9})([smhd])$/.exec(text);
  const validForMs = match === null ? NaN : Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? NaN);
  if (!(validForMs >= 1000 && validForMs <= CERTIFICATE_VALID_FOR_MAX_MS))
    throw badArgument(
      '--valid-for',
      text,
      'must be a whole number and a unit s, m, h or d (e.g. 365d, 24h), from 1s to 36500d',
    );
  return validForMs;
}

/** Writes `text` to a new file (never replacing one), durably. */
function writeNewFile(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(
      code === 'EEXIST'
        ? `${path} already exists: a CA is never overwritten (its certificates would stop verifying); use another --dir or move it away`
        : `cannot create ${path} (${code ?? String(err)})`,
      { cause: err },
    );
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What `ca.key` holds: its format tag keeps it from being mistaken for a public key file. */
export interface CaKeyFile {
  format: typeof CA_KEY_FORMAT;
  version: 1;
  /** Raw Ed25519 public key, base64 (what ca.pub holds). */
  publicKey: string;
  /** Raw 32-byte Ed25519 private seed, base64. */
  privateKey: string;
}
export const CA_KEY_FORMAT = 'shoal-cluster-ca';

/** The CA private key (base64 seed) in `file`; warns on stderr when others may read it. */
function readCaKey(file: string): string {
  const refuse = (why: string) => badArgument('--ca-key', file, why);
  let doc: Partial<CaKeyFile>;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as Partial<CaKeyFile>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw refuse(
      code === undefined
        ? `is not a CA private key (the ${CA_KEY_FILE} of shoal ca create, a JSON document; ${CA_PUBLIC_FILE} is the public half)`
        : `cannot be read (${code}); create a CA with shoal ca create`,
    );
  }
  const seed = doc.privateKey === undefined ? undefined : keyFromBase64(doc.privateKey);
  if (doc.format !== CA_KEY_FORMAT || doc.version !== 1 || seed === undefined)
    throw refuse(
      `is not a version-1 ${CA_KEY_FORMAT} key file (the ${CA_KEY_FILE} of shoal ca create)`,
    );
  const derived = Buffer.from(publicKeyFromSeed(Buffer.from(seed, 'hex'))).toString('base64');
  if (derived !== doc.publicKey)
    throw refuse('is damaged: its public key is not the one its private key makes');
  const mode = looseMode(file);
  if (mode !== undefined)
    process.stderr.write(
      `shoal: warning: CA private key ${file} has mode 0${mode.toString(8)} (group or others may read it): run chmod 600 ${file}\n`,
    );
  return doc.privateKey as string;
}

/** The node public key (base64) to certify: `--node-key`, or the identity in `--data-dir`. */
function nodeKeyOf(flags: { nodeKey?: string; dataDir?: string }): string {
  if ((flags.nodeKey === undefined) === (flags.dataDir === undefined))
    throw badArgument(
      '--node-key',
      flags.nodeKey ?? null,
      'give exactly one of --node-key KEY (the publicKey of `shoal identity --json` on the node) or --data-dir DIR',
    );
  if (flags.nodeKey !== undefined) {
    if (keyFromBase64(flags.nodeKey) === undefined)
      throw badArgument(
        '--node-key',
        flags.nodeKey,
        'must be a base64 Ed25519 public key (44 characters; `shoal identity --json` prints it as publicKey; a NodeId cannot be certified)',
      );
    return flags.nodeKey;
  }
  const path = join(flags.dataDir ?? '', IDENTITY_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw badArgument(
      '--data-dir',
      flags.dataDir,
      `has no readable ${IDENTITY_FILE_NAME} (${(err as { code?: string }).code ?? String(err)}); create it with shoal identity --data-dir ${flags.dataDir}`,
    );
  }
  return Buffer.from(parseIdentityFile(text, path).publicKey).toString('base64');
}

function clusterIdOf(text: string): string {
  const parsed = nodeOptionsSchema.shape.clusterId.safeParse(text);
  if (!parsed.success)
    throw badArgument('--cluster-id', text, parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}

function notBeforeOf(text: string | undefined, nowMs: number): number {
  if (text === undefined) return nowMs - CERTIFICATE_CLOCK_SKEW_MS;
  const ms = Date.parse(text);
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw badArgument(
      '--not-before',
      text,
      'must be a date and time (ISO 8601, e.g. 2026-01-31T00:00:00Z)',
    );
  return ms;
}

/** A decoded certificate as text lines (or JSON fields), with its status now. */
function describeCertificate(
  certificate: NodeCertificate,
  nowMs: number,
): {
  nodeId: string;
  clusterId: string;
  publicKey: string;
  notBefore: string;
  notAfter: string;
  status: string;
} {
  const status =
    nowMs < certificate.notBeforeMs
      ? 'not valid yet'
      : nowMs > certificate.notAfterMs
        ? 'expired'
        : 'valid now';
  return {
    nodeId: nodeIdFromPublicKey(Buffer.from(certificate.publicKey, 'hex')),
    clusterId: certificate.clusterId,
    publicKey: Buffer.from(certificate.publicKey, 'hex').toString('base64'),
    notBefore: new Date(certificate.notBeforeMs).toISOString(),
    notAfter: new Date(certificate.notAfterMs).toISOString(),
    status,
  };
}

export function registerCaCommands(program: Command, write: (text: string) => void): void {
  const ca = program
    .command('ca')
    .description('the cluster CA of admission: create it, sign node certificates, show one');
  ca.command('create')
    .description(
      `write a new cluster CA: DIR/${CA_KEY_FILE} (private, 0600) and DIR/${CA_PUBLIC_FILE}`,
    )
    .option('--dir <dir>', 'where to write the CA (created 0700 if missing)', CA_DIR_DEFAULT)
    .option('--json', 'print JSON')
    .action((flags: { dir: string; json?: boolean }) => {
      const pair = createClusterCa();
      mkdirSync(flags.dir, { recursive: true, mode: 0o700 });
      const keyFile = join(flags.dir, CA_KEY_FILE);
      const publicFile = join(flags.dir, CA_PUBLIC_FILE);
      const doc: CaKeyFile = { format: CA_KEY_FORMAT, version: 1, ...pair };
      writeNewFile(keyFile, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
      writeNewFile(publicFile, `${pair.publicKey}\n`, 0o644);
      write(
        flags.json
          ? `${JSON.stringify({ privateKeyFile: keyFile, publicKeyFile: publicFile, publicKey: pair.publicKey })}\n`
          : `cluster CA written: ${keyFile} (private: keep it offline, it admits nodes), ${publicFile}\n` +
              `public key ${pair.publicKey}\n` +
              `members trust it with --admission-ca ${publicFile}; certify a node with shoal ca sign --ca-key ${keyFile} --data-dir DIR\n`,
      );
    });
  ca.command('sign')
    .description(
      'print a node certificate (or write it with --out) for --node-key KEY or the identity in --data-dir',
    )
    .option('--ca-key <file>', 'the CA private key', join(CA_DIR_DEFAULT, CA_KEY_FILE))
    .option('--node-key <base64>', "the node's public key (`shoal identity --json` on the node)")
    .option('--data-dir <dir>', "a node data dir on this machine: certify its identity's key")
    .option('--cluster-id <id>', 'the cluster the node may join', DEFAULT_CLUSTER_ID)
    .option('--valid-for <duration>', 'validity: s, m, h or d', CERTIFICATE_VALID_FOR_DEFAULT)
    .option('--not-before <time>', 'start of validity, ISO 8601 (default: 5 minutes ago)')
    .option('--out <file>', 'write the certificate here instead of printing it')
    .option('--json', 'print JSON')
    .action(
      (flags: {
        caKey: string;
        nodeKey?: string;
        dataDir?: string;
        clusterId: string;
        validFor: string;
        notBefore?: string;
        out?: string;
        json?: boolean;
      }) => {
        const clusterId = clusterIdOf(flags.clusterId);
        const validForMs = parseValidFor(flags.validFor);
        const notBeforeMs = notBeforeOf(flags.notBefore, Date.now());
        const publicKey = nodeKeyOf(flags);
        const caKey = readCaKey(flags.caKey);
        const text = signNodeCertificate(caKey, {
          clusterId,
          publicKey,
          notBeforeMs,
          notAfterMs: notBeforeMs + validForMs,
        });
        const about = describeCertificate(parseNodeCertificate(text), Date.now());
        if (flags.out !== undefined) {
          try {
            writeFileSync(flags.out, `${text}\n`, { mode: 0o644 });
          } catch (err) {
            throw new Error(
              `cannot write --out ${flags.out} (${(err as { code?: string }).code ?? String(err)})`,
              { cause: err },
            );
          }
        }
        if (flags.json) write(`${JSON.stringify({ certificate: text, ...about })}\n`);
        else if (flags.out === undefined) write(`${text}\n`);
        else
          write(
            `certificate for ${about.nodeId} in cluster ${about.clusterId}, valid ${about.notBefore} to ${about.notAfter}, written to ${flags.out}\n`,
          );
      },
    );
  ca.command('show')
    .description(
      'what a certificate certifies and until when; with --ca, whether that CA signed it',
    )
    .argument('<file>', 'a certificate file (from shoal ca sign)')
    .option(
      '--ca <file>',
      `a CA public key file (${CA_PUBLIC_FILE}) to check the signature against`,
    )
    .option('--json', 'print JSON')
    .action((file: string, flags: { ca?: string; json?: boolean }) => {
      let text: string;
      try {
        text = readTrimmed(file);
      } catch (err) {
        throw badArgument('<file>', file, (err as Error).message);
      }
      const certificate = parseNodeCertificate(text);
      const about = describeCertificate(certificate, Date.now());
      const signed = flags.ca === undefined ? undefined : signedBy(certificate, flags.ca);
      const answer = { ...about, ...(signed === undefined ? {} : { ca: signed }) };
      write(
        flags.json
          ? `${JSON.stringify(answer)}\n`
          : Object.entries(answer)
              .map(([key, value]) => `${key.padEnd(10)} ${value}\n`)
              .join(''),
      );
    });
}

/** `signed by <file>`, or why the CA keys in `caFile` do not admit the certificate's key. */
function signedBy(certificate: NodeCertificate, caFile: string): string {
  let keys: string[];
  try {
    keys = readKeyLines(caFile);
  } catch (err) {
    throw badArgument('--ca', caFile, (err as Error).message);
  }
  if (keys.length === 0 || keys.some((key) => keyFromBase64(key) === undefined))
    throw badArgument(
      '--ca',
      caFile,
      `must hold base64 public keys, one per line (the ${CA_PUBLIC_FILE} of shoal ca create)`,
    );
  const policy = admissionPolicy({ ca: keys }, certificate.clusterId);
  const refusal = admissionCheck(
    policy,
    certificate.clusterId,
    Date.now,
  )({
    id: nodeIdFromPublicKey(Buffer.from(certificate.publicKey, 'hex')),
    publicKey: certificate.publicKey,
    certificate,
  });
  return refusal === undefined ? `signed by ${caFile}, admitted now` : `refused: ${refusal}`;
}
