/**
 * The worker CA (docs/design/worker-tier.md, "Certificates"), built on @peculiar/x509 over
 * node:crypto's WebCrypto: no hand-written ASN.1. Every server has its own CA (an Ed25519 key
 * and a self-signed certificate, CN `shoal-worker-ca-<serverId>`, 10 years, path length 0) in
 * `workerCaDir`: the key is written 0600 and atomically, created once, and never replaced
 * silently (a key that does not match its certificate is ERR_WORKER_CA). CA certificates are
 * public and published in the store; the trust bundle is all of them, so a worker certified by
 * one server is accepted by every other, and no private key ever leaves its server.
 *
 * Leaves: workers send a CSR (PKCS#10, Ed25519, proof of possession checked); the CA ignores the
 * CSR's subject and issues CN `worker-<id>` where id = NodeId of the CSR's public key
 * (hex SHAKE-256(raw key)[0..16], as node identities), with clientAuth and serverAuth, valid
 * `leafValidityMs` (30 days by default) from 5 minutes ago (clock skew). Servers get CN
 * `server-<nodeId>` for their listener. Peers check the CN's prefix, so a worker can never pose
 * as a server.
 *
 * The registration path (`signWorker`) is synchronous and avoids the library's generator: the
 * CSR is parsed with @peculiar/asn1-csr and its signature checked with node:crypto over the
 * request info's original bytes; the leaf is spliced (`leafSplicer`): one certificate encoded
 * once per CA by @peculiar/asn1-schema around the template parts @peculiar/x509 built (so its
 * extensions are the library's), with this leaf's serial, validity, id and key written over
 * fixed-length markers, signed by node:crypto's Ed25519. A leaf the template cannot carry (a
 * date past 2049) is serialized in full (`leafEncoders`' `encode`), which gives the same bytes.
 * Parsing, rebuilding and WebCrypto's thread-pool round trips cost 2.8 ms per registration in
 * a 500-worker storm's profile; serializing per leaf ~1 ms, splicing ~0.4 ms (worker-tier.md,
 * "The registration storm", "Registration CPU").
 */
import { CertificationRequest } from '@peculiar/asn1-csr';
import {
  AsnConvert,
  AsnIntegerArrayBufferConverter,
  AsnProp,
  AsnPropTypes,
} from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Name,
  RelativeDistinguishedName,
  Validity,
} from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  randomBytes,
  sign as signBytes,
  verify as verifyBytes,
  webcrypto,
} from 'node:crypto';
import { join } from 'node:path';
import { ShoalError } from '../base/errors.js';
import { nodeIdFromPublicKey } from '../identity/keys.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, readIfExists, writeFileAtomic } from './files.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type ProviderCrypto = Parameters<typeof x509.cryptoProvider.set>[0];

x509.cryptoProvider.set(webcrypto as unknown as ProviderCrypto);

const ED25519 = { name: 'Ed25519' } as const;
const CA_VALIDITY_MS = 10 * 365 * 24 * 3_600_000;
const SERVER_VALIDITY_MS = 365 * 24 * 3_600_000;
/** Leaves are valid from this long before their issue, for clocks a little behind. */
export const LEAF_BACKDATE_MS = 5 * 60_000;
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_CERT_FILE = 'ca-cert.pem';
/** Ed25519 SPKI DER (RFC 8410 §4) is this 12-byte prefix and the 32-byte raw key. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SPKI_PREFIX_BYTES = ED25519_SPKI_PREFIX.length;
const ED25519_KEY_BYTES = 32;
const SERIAL_BYTES = 16;
const ED25519_OID = '1.3.101.112';
const COMMON_NAME_OID = '2.5.4.3';
const X509_V3 = 2;

/**
 * RFC 5280's TBSCertificate (§4.1) as @peculiar/asn1-schema serializes it, with the parts every
 * leaf of one CA shares (signature algorithm, issuer, extensions) and the CSR's key passed as
 * their DER, encoded once: serializing only what differs per leaf is most of the saving.
 */
class LeafTbs {
  version = X509_V3;
  serialNumber = new ArrayBuffer(0);
  signature = new ArrayBuffer(0);
  issuer = new ArrayBuffer(0);
  validity = new Validity();
  subject = new Name();
  subjectPublicKeyInfo = new ArrayBuffer(0);
  extensions = new ArrayBuffer(0);
  constructor(params: Partial<LeafTbs> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: AsnPropTypes.Integer, context: 0 })(LeafTbs.prototype, 'version');
AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })(
  LeafTbs.prototype,
  'serialNumber',
);
AsnProp({ type: AsnPropTypes.Any })(LeafTbs.prototype, 'signature');
AsnProp({ type: AsnPropTypes.Any })(LeafTbs.prototype, 'issuer');
AsnProp({ type: Validity })(LeafTbs.prototype, 'validity');
AsnProp({ type: Name })(LeafTbs.prototype, 'subject');
AsnProp({ type: AsnPropTypes.Any })(LeafTbs.prototype, 'subjectPublicKeyInfo');
AsnProp({ type: AsnPropTypes.Any, context: 3 })(LeafTbs.prototype, 'extensions');

/** RFC 5280's Certificate (§4.1) around a TBSCertificate already encoded and signed. */
class CertificateOfTbs {
  tbsCertificate = new ArrayBuffer(0);
  signatureAlgorithm = new ArrayBuffer(0);
  signatureValue = new ArrayBuffer(0);
  constructor(params: Partial<CertificateOfTbs> = {}) {
    Object.assign(this, params);
  }
}
AsnProp({ type: AsnPropTypes.Any })(CertificateOfTbs.prototype, 'tbsCertificate');
AsnProp({ type: AsnPropTypes.Any })(CertificateOfTbs.prototype, 'signatureAlgorithm');
AsnProp({ type: AsnPropTypes.BitString })(CertificateOfTbs.prototype, 'signatureValue');

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyRaw: Uint8Array;
}

function pem(label: string, der: ArrayBuffer | Buffer): string {
  const b64 = (Buffer.isBuffer(der) ? der : Buffer.from(der))
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

function derOf(pemText: string): ArrayBuffer {
  const b64 = pemText.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(b64, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
}

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

export async function importKeyPairPem(privateKeyPem: string): Promise<CryptoKeyPair> {
  const privateKey = await webcrypto.subtle.importKey(
    'pkcs8',
    derOf(privateKeyPem),
    ED25519,
    true,
    ['sign'],
  );
  const jwk = await webcrypto.subtle.exportKey('jwk', privateKey);
  delete jwk.d;
  jwk.key_ops = ['verify'];
  const publicKey = await webcrypto.subtle.importKey('jwk', jwk, ED25519, true, ['verify']);
  return { privateKey, publicKey };
}

async function rawPublicKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await webcrypto.subtle.exportKey('raw', key));
}

/** SHA-256 of a certificate's SubjectPublicKeyInfo, hex: what a token pins. */
export function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/** A random positive serial, 16 bytes whose first is never 0 (so its DER is always 16 bytes). */
function serial(): Buffer {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes;
}

/** The CN of a PEM certificate, or undefined. */
export function commonName(certPem: string): string | undefined {
  try {
    return new X509Certificate(certPem).subject.match(/(?:^|\n)CN=([^\n]*)/)?.[1];
  } catch {
    return undefined;
  }
}

export interface WorkerCa {
  readonly serverId: string;
  readonly certPem: string;
  readonly pin: string;
  /**
   * Signs a worker's CSR: the leaf, the worker id and the certificate's serial and expiry.
   * Synchronous (node:crypto); ERR_INVALID_ARGUMENT for a CSR that does not parse, is not
   * Ed25519 or does not verify.
   */
  signWorker(csrPem: string, nowMs: number, validityMs: number): SignedLeaf;
  /** A certificate and key for this server's listener (CN server-<id>, SAN `hosts`). */
  serverIdentity(
    hosts: readonly string[],
    nowMs: number,
  ): Promise<{ certPem: string; keyPem: string }>;
}

export interface SignedLeaf {
  certPem: string;
  workerId: string;
  serialHex: string;
  notAfterMs: number;
}

/** Loads this server's CA from `dir`, creating it on first use; ERR_WORKER_CA when it is damaged. */
export async function loadOrCreateCa(
  dir: string,
  serverId: string,
  nowMs: number,
): Promise<WorkerCa> {
  const keyPath = join(dir, CA_KEY_FILE);
  const certPath = join(dir, CA_CERT_FILE);
  let keyPem = readIfExists(keyPath);
  let certPem = readIfExists(certPath);
  if (keyPem === undefined && certPem !== undefined)
    throw new ShoalError(
      'ERR_WORKER_CA',
      `${certPath} exists without ${keyPath}: restore the key or remove both to start a new CA (workers must then register again)`,
    );
  if (keyPem === undefined) {
    const keys = await generateKeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial().toString('hex'),
      name: `CN=shoal-worker-ca-${serverId}`,
      notBefore: new Date(nowMs - LEAF_BACKDATE_MS),
      notAfter: new Date(nowMs + CA_VALIDITY_MS),
      signingAlgorithm: ED25519,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    keyPem = await exportPrivateKeyPem(keys.privateKey);
    certPem = cert.toString('pem');
    writeFileAtomic(keyPath, keyPem, PRIVATE_FILE_MODE);
    writeFileAtomic(certPath, certPem, PUBLIC_FILE_MODE);
  }
  return openCa(serverId, keyPem, certPem ?? '', certPath);
}

async function openCa(
  serverId: string,
  keyPem: string,
  certPem: string,
  certPath: string,
): Promise<WorkerCa> {
  let keys: CryptoKeyPair;
  let cert: x509.X509Certificate;
  try {
    keys = await importKeyPairPem(keyPem);
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new ShoalError(
      'ERR_WORKER_CA',
      `the worker CA in ${certPath}'s directory does not parse: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const certKey = new Uint8Array(cert.publicKey.rawData).slice(SPKI_PREFIX_BYTES);
  if (Buffer.compare(Buffer.from(certKey), Buffer.from(await rawPublicKey(keys.publicKey))) !== 0)
    throw new ShoalError(
      'ERR_WORKER_CA',
      `the CA key does not match ${certPath}: restore the matching pair`,
    );
  const pin = spkiPin(certPem);
  const caKey = createPrivateKey(keyPem);
  const issue = issuerOf(keys, cert);
  const { encode, splice } = await leafEncoders(keys, cert);
  return {
    serverId,
    certPem,
    pin,
    signWorker: (csrPem, nowMs, validityMs) => {
      const rawKey = verifiedCsrKey(csrPem);
      const workerId = nodeIdFromPublicKey(rawKey);
      const serialBytes = serial();
      const fields: LeafFields = {
        serial: serialBytes,
        notBeforeMs: nowMs - LEAF_BACKDATE_MS,
        notAfterMs: nowMs + validityMs,
        workerId,
        rawKey,
        sign: (tbs) => signBytes(null, tbs, caKey),
      };
      return {
        certPem: pem('CERTIFICATE', splice(fields) ?? encode(fields)),
        workerId,
        serialHex: serialBytes.toString('hex'),
        notAfterMs: nowMs + validityMs,
      };
    },
    serverIdentity: async (hosts, nowMs) => {
      const serverKeys = await generateKeyPair();
      const san = new x509.SubjectAlternativeNameExtension(
        hosts.map((h) =>
          /^[\d.]+$|:/.test(h)
            ? { type: 'ip' as const, value: h }
            : { type: 'dns' as const, value: h },
        ),
      );
      const leaf = await issue(
        `CN=server-${serverId}`,
        serverKeys.publicKey,
        nowMs,
        SERVER_VALIDITY_MS,
        [san],
      );
      return {
        certPem: leaf.toString('pem'),
        keyPem: await exportPrivateKeyPem(serverKeys.privateKey),
      };
    },
  };
}

type Issue = (
  subject: string,
  publicKey: CryptoKey | x509.PublicKey,
  nowMs: number,
  validityMs: number,
  extra: x509.Extension[],
) => Promise<x509.X509Certificate>;

/** Issues a leaf (clientAuth + serverAuth, not a CA) through @peculiar/x509's generator. */
function issuerOf(keys: CryptoKeyPair, cert: x509.X509Certificate): Issue {
  return async (subject, publicKey, nowMs, validityMs, extra) =>
    x509.X509CertificateGenerator.create({
      serialNumber: serial().toString('hex'),
      subject,
      issuer: cert.subject,
      notBefore: new Date(nowMs - LEAF_BACKDATE_MS),
      notAfter: new Date(nowMs + validityMs),
      signingAlgorithm: ED25519,
      publicKey,
      signingKey: keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.clientAuth,
          x509.ExtendedKeyUsage.serverAuth,
        ]),
        ...extra,
      ],
    });
}

/**
 * A CA's two encodings of a worker leaf, which give the same bytes: `encode` serializes the
 * whole certificate (@peculiar/asn1-schema) around the CA's template parts, `splice` writes a
 * leaf's fields into bytes encoded once (undefined when it cannot: see `leafSplicer`).
 */
export async function leafEncoders(
  keys: CryptoKeyPair,
  cert: x509.X509Certificate,
): Promise<{
  encode: (leaf: LeafFields) => Buffer;
  splice: (leaf: LeafFields) => Buffer | undefined;
}> {
  // The leaf template: a certificate the library builds once (for the CA's own key; subject,
  // serial, validity and key are replaced per leaf), so every leaf carries its extensions.
  const prototype = await issuerOf(keys, cert)('CN=worker-template', keys.publicKey, 0, 1, []);
  const prototypeTbs = AsnConvert.parse(prototype.rawData, Certificate).tbsCertificate;
  const template = {
    signature: AsnConvert.serialize(prototypeTbs.signature),
    issuer: AsnConvert.serialize(prototypeTbs.issuer),
    extensions: AsnConvert.serialize(prototypeTbs.extensions),
  };
  const encode = (leaf: LeafFields): Buffer => {
    const tbs = AsnConvert.serialize(
      new LeafTbs({
        serialNumber: toArrayBuffer(leaf.serial),
        signature: template.signature,
        issuer: template.issuer,
        validity: new Validity({
          notBefore: new Date(leaf.notBeforeMs),
          notAfter: new Date(leaf.notAfterMs),
        }),
        subject: commonNameOf(`worker-${leaf.workerId}`),
        subjectPublicKeyInfo: toArrayBuffer(ed25519Spki(leaf.rawKey)),
        extensions: template.extensions,
      }),
    );
    const cert = new CertificateOfTbs({
      tbsCertificate: tbs,
      signatureAlgorithm: template.signature,
      signatureValue: toArrayBuffer(leaf.sign(Buffer.from(tbs))),
    });
    return Buffer.from(AsnConvert.serialize(cert));
  };
  return { encode, splice: leafSplicer(encode) };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function commonNameOf(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({
        type: COMMON_NAME_OID,
        value: new AttributeValue({ utf8String: cn }),
      }),
    ]),
  ]);
}

/** What varies between two leaves of one CA; `sign` signs the TBSCertificate's DER. */
export interface LeafFields {
  serial: Buffer;
  notBeforeMs: number;
  notAfterMs: number;
  workerId: string;
  rawKey: Uint8Array;
  sign: (tbs: Buffer) => Buffer;
}

function ed25519Spki(rawKey: Uint8Array): Buffer {
  return Buffer.concat([ED25519_SPKI_PREFIX, rawKey]);
}

/** RFC 5280 §4.1.2.5.1 UTCTime (YYMMDDHHMMSSZ) for 1950-2049, where X.509 uses it; else undefined. */
function utcTime(ms: number): string | undefined {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (!(year >= 1950 && year <= 2049)) return undefined;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(year % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
}

/** Where a DER element's contents start and end, from its header at `at` (our own output). */
function derContents(der: Buffer, at: number): { start: number; end: number } {
  const first = der[at + 1] as number;
  if (first < 0x80) return { start: at + 2, end: at + 2 + first };
  let length = 0;
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (der[at + 2 + i] as number);
  const start = at + 2 + (first & 0x7f);
  return { start, end: start + length };
}

/**
 * The fast leaf: one certificate encoded by `encode` (the library's serialization) with marker
 * values in every per-leaf field and a marker signature, whose markers are found once; each leaf
 * is then a copy of those bytes with its serial, validity, worker id and key written over the
 * markers, and its own signature over the TBSCertificate. Every spliced field has a fixed length
 * (a 16-byte serial whose first byte is not 0, UTCTime, a 32-hex-digit id, a 32-byte key, a
 * 64-byte signature), so no length changes. Returns undefined for a leaf the template cannot
 * carry (a date outside UTCTime's years): the caller encodes that one in full. Throws
 * ERR_WORKER_CA when a marker is not found exactly once (the library's encoding changed).
 * `test/worker/ca.test.ts` checks that it gives byte for byte what `encode` gives.
 */
export function leafSplicer(
  encode: (leaf: LeafFields) => Buffer,
): (leaf: LeafFields) => Buffer | undefined {
  const markers = {
    serial: Buffer.alloc(SERIAL_BYTES, 0x5a),
    notBeforeMs: Date.UTC(2031, 1, 3, 4, 5, 6),
    notAfterMs: Date.UTC(2042, 7, 9, 10, 11, 12),
    workerId: 'q'.repeat(32),
    rawKey: Buffer.alloc(ED25519_KEY_BYTES, 0xa5),
    signature: Buffer.alloc(64, 0xe7),
  };
  const bytes = encode({ ...markers, sign: () => markers.signature });
  const find = (what: Buffer | string, name: string): number => {
    const at = bytes.indexOf(what);
    if (at < 0 || bytes.indexOf(what, at + 1) >= 0)
      throw new ShoalError(
        'ERR_WORKER_CA',
        `the leaf template's ${name} is not found exactly once`,
      );
    return at;
  };
  const at = {
    serial: find(markers.serial, 'serial'),
    notBefore: find(utcTime(markers.notBeforeMs) ?? '', 'notBefore'),
    notAfter: find(utcTime(markers.notAfterMs) ?? '', 'notAfter'),
    workerId: find(`worker-${markers.workerId}`, 'subject') + 'worker-'.length,
    rawKey: find(ed25519Spki(markers.rawKey), 'key') + SPKI_PREFIX_BYTES,
    signature: find(markers.signature, 'signature'),
  };
  const outer = derContents(bytes, 0);
  const tbs = { start: outer.start, end: derContents(bytes, outer.start).end };
  return (leaf) => {
    const notBefore = utcTime(leaf.notBeforeMs);
    const notAfter = utcTime(leaf.notAfterMs);
    if (
      notBefore === undefined ||
      notAfter === undefined ||
      leaf.serial.length !== SERIAL_BYTES ||
      leaf.serial[0] === 0 ||
      leaf.workerId.length !== markers.workerId.length ||
      leaf.rawKey.length !== ED25519_KEY_BYTES
    )
      return undefined;
    const out = Buffer.from(bytes);
    out.set(leaf.serial, at.serial);
    out.write(notBefore, at.notBefore, 'latin1');
    out.write(notAfter, at.notAfter, 'latin1');
    out.write(leaf.workerId, at.workerId, 'latin1');
    out.set(leaf.rawKey, at.rawKey);
    out.set(leaf.sign(out.subarray(tbs.start, tbs.end)), at.signature);
    return out;
  };
}

/** One DER TLV: its tag, where its contents start and end (the next TLV starts at `end`). */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/**
 * The TLV at `at`, within `limit`: single-byte tags and definite lengths of up to 3 bytes in
 * minimal form (DER), nothing past `limit`; undefined otherwise.
 */
function readTlv(b: Buffer, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = b[at] as number;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = b[at + 1] as number;
  let p = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || p + n > limit || b[p] === 0) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (b[p++] as number);
    if (length < 0x80) return undefined;
  }
  if (p + length > limit) return undefined;
  return { tag, start: p, end: p + length };
}

/**
 * A PKCS#10 CertificationRequest (RFC 2986 §4) cut into its parts by hand: the request info's
 * bytes as received (what the signature covers), the SPKI's and the signature algorithm's whole
 * TLVs, and the signature BIT STRING's contents. Structure only (version 0, a Name, an SPKI,
 * optional [0] attributes, nothing after); undefined for anything else. ~2 µs where
 * @peculiar/asn1-csr's schema parse took ~100 (the largest part of the server's CSR check).
 */
function csrParts(
  der: Buffer,
): { info: Buffer; spki: Buffer; algorithm: Buffer; signature: Buffer } | undefined {
  const outer = readTlv(der, 0, der.length);
  if (outer?.tag !== DER_SEQUENCE || outer.end !== der.length) return undefined;
  const info = readTlv(der, outer.start, outer.end);
  if (info?.tag !== DER_SEQUENCE) return undefined;
  const algorithm = readTlv(der, info.end, outer.end);
  if (algorithm?.tag !== DER_SEQUENCE) return undefined;
  const signature = readTlv(der, algorithm.end, outer.end);
  if (signature?.tag !== DER_BIT_STRING || signature.end !== outer.end) return undefined;
  const version = readTlv(der, info.start, info.end);
  if (version?.tag !== 0x02 || version.end - version.start !== 1 || der[version.start] !== 0)
    return undefined;
  const subject = readTlv(der, version.end, info.end);
  if (subject?.tag !== DER_SEQUENCE) return undefined;
  const spki = readTlv(der, subject.end, info.end);
  if (spki?.tag !== DER_SEQUENCE) return undefined;
  let end = spki.end;
  if (end < info.end) {
    const attributes = readTlv(der, end, info.end);
    if (attributes?.tag !== 0xa0) return undefined;
    end = attributes.end;
  }
  if (end !== info.end || signature.end - signature.start < 1 || der[signature.start] !== 0)
    return undefined;
  const whole = (t: Tlv, at: number): Buffer => der.subarray(at, t.end);
  return {
    info: whole(info, outer.start),
    spki: whole(spki, subject.end),
    algorithm: whole(algorithm, info.end),
    signature: der.subarray(signature.start + 1, signature.end),
  };
}

/**
 * The raw Ed25519 key of a CSR whose signature verifies over its request info's bytes as
 * received (proof of possession). ERR_INVALID_ARGUMENT otherwise.
 */
export function verifiedCsrKey(csrPem: string): Uint8Array {
  const parts = csrParts(Buffer.from(derOf(csrPem)));
  if (parts === undefined)
    throw new ShoalError('ERR_INVALID_ARGUMENT', 'the CSR does not parse as PKCS#10 DER');
  if (
    parts.spki.length !== SPKI_PREFIX_BYTES + ED25519_KEY_BYTES ||
    !parts.spki.subarray(0, SPKI_PREFIX_BYTES).equals(ED25519_SPKI_PREFIX) ||
    !parts.algorithm.equals(ED25519_ALGORITHM_DER)
  )
    throw new ShoalError('ERR_INVALID_ARGUMENT', 'the CSR key must be Ed25519');
  const rawKey = new Uint8Array(parts.spki.subarray(SPKI_PREFIX_BYTES));
  let ok: boolean;
  try {
    // The key as a JWK (RFC 8037): node:crypto imports it in ~5 µs, the same key's SPKI DER in ~75.
    const key: KeyObject = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(rawKey).toString('base64url') },
      format: 'jwk',
    });
    ok = verifyBytes(null, parts.info, key, parts.signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      'the CSR signature does not verify (no proof of possession)',
    );
  return rawKey;
}

/**
 * The previous round's check (@peculiar/asn1-csr's parse), kept as the reference the hand
 * parser is tested against: the raw key, or undefined where it refuses.
 */
export function verifiedCsrKeyWithLibrary(csrPem: string): Uint8Array | undefined {
  try {
    const csr = AsnConvert.parse(derOf(csrPem), CertificationRequest);
    const spki = csr.certificationRequestInfo.subjectPKInfo;
    const rawKey = new Uint8Array(spki.subjectPublicKey);
    const info = csr.certificationRequestInfoRaw;
    if (
      spki.algorithm.algorithm !== ED25519_OID ||
      csr.signatureAlgorithm.algorithm !== ED25519_OID ||
      rawKey.length !== ED25519_KEY_BYTES ||
      info === undefined
    )
      return undefined;
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(rawKey).toString('base64url') },
      format: 'jwk',
    });
    return verifyBytes(null, Buffer.from(info), key, Buffer.from(csr.signature))
      ? rawKey
      : undefined;
  } catch {
    return undefined;
  }
}

/** DER definite length octets (X.690 §8.1.3). */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER TLV: `tag`, the length of the parts, the parts. */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const DER_SEQUENCE = 0x30;
const DER_SET = 0x31;
const DER_UTF8_STRING = 0x0c;
const DER_PRINTABLE_STRING = 0x13;
/** PrintableString's alphabet (X.680 §41.4): a name of only these is encoded as one, as X.509 libraries do. */
const PRINTABLE_RE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const DER_BIT_STRING = 0x03;
/** INTEGER 0: the CSR's version (RFC 2986 §4.1, v1). */
const CSR_VERSION_V1 = Buffer.from('020100', 'hex');
/** attributes [0] IMPLICIT SET OF, empty. */
const CSR_NO_ATTRIBUTES = Buffer.from('a000', 'hex');
/** AlgorithmIdentifier { id-Ed25519 } with no parameters (RFC 8410 §3). */
const ED25519_ALGORITHM_DER = Buffer.from('300506032b6570', 'hex');
/** OBJECT IDENTIFIER 2.5.4.3 (commonName). */
const COMMON_NAME_OID_DER = Buffer.from('0603550403', 'hex');

/** A worker's key as node:crypto handles: what createCsr needs, read synchronously. */
export interface CsrKeys {
  privateKey: KeyObject;
  /** The raw 32-byte Ed25519 public key. */
  rawPublicKey: Uint8Array;
}

/**
 * A PKCS#8 PEM Ed25519 private key as CsrKeys (node:crypto, synchronous: ~0.1 ms where the
 * WebCrypto import, its JWK export and re-import took ~1 ms). Throws for another key type.
 */
export function csrKeysFromPem(privateKeyPem: string): CsrKeys {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`not an Ed25519 key (${privateKey.asymmetricKeyType ?? 'unknown'})`);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { privateKey, rawPublicKey: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')) };
}

/** CsrKeys of WebCrypto keys, made once per CryptoKey. */
const csrKeys = new WeakMap<CryptoKey, CsrKeys>();

/**
 * A CSR for `keys` (the worker's), PEM: PKCS#10 (RFC 2986) with subject CN=`name`, the Ed25519
 * key and no attributes, written as DER here and signed by node:crypto (synchronous), the same
 * bytes @peculiar/x509's generator gives (test/worker/ca.test.ts) at a fraction of its CPU. The
 * subject is informative: the CA sets its own.
 */
export async function createCsr(keys: CryptoKeyPair | CsrKeys, name: string): Promise<string> {
  let handles = 'rawPublicKey' in keys ? keys : csrKeys.get(keys.privateKey);
  if (handles === undefined) {
    const jwk = KeyObject.from((keys as CryptoKeyPair).publicKey).export({ format: 'jwk' });
    handles = {
      privateKey: KeyObject.from((keys as CryptoKeyPair).privateKey),
      rawPublicKey: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')),
    };
    csrKeys.set((keys as CryptoKeyPair).privateKey, handles);
  }
  const cn = name.replace(/[,=+<>#;"\\]/g, '_');
  const value = der(
    PRINTABLE_RE.test(cn) ? DER_PRINTABLE_STRING : DER_UTF8_STRING,
    Buffer.from(cn, 'utf8'),
  );
  const subject = der(DER_SEQUENCE, der(DER_SET, der(DER_SEQUENCE, COMMON_NAME_OID_DER, value)));
  const info = der(
    DER_SEQUENCE,
    CSR_VERSION_V1,
    subject,
    ed25519Spki(handles.rawPublicKey),
    CSR_NO_ATTRIBUTES,
  );
  const signature = signBytes(null, info, handles.privateKey);
  return pem(
    'CERTIFICATE REQUEST',
    der(
      DER_SEQUENCE,
      info,
      ED25519_ALGORITHM_DER,
      der(DER_BIT_STRING, Buffer.from([0]), signature),
    ),
  );
}

/** The same CSR through @peculiar/x509's generator (WebCrypto): the reference createCsr matches. */
export async function createCsrWithLibrary(keys: CryptoKeyPair, name: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name.replace(/[,=+<>#;"\\]/g, '_')}`,
    keys,
    signingAlgorithm: ED25519,
  });
  return csr.toString('pem');
}

/** The worker id (NodeId) a key pair certifies as. */
export async function workerIdOf(keys: CryptoKeyPair): Promise<string> {
  return nodeIdFromPublicKey(await rawPublicKey(keys.publicKey));
}

/** Facts of a PEM certificate: CN, serial (lowercase hex), validity, and whether `caPem` signed it. */
export function certFacts(certPem: string): {
  cn: string | undefined;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
} {
  const cert = new X509Certificate(certPem);
  return {
    cn: cert.subject.match(/(?:^|\n)CN=([^\n]*)/)?.[1],
    serialHex: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    notBeforeMs: Date.parse(cert.validFrom),
    notAfterMs: Date.parse(cert.validTo),
  };
}

/** True when one of `caPems` signed `certPem` (its signature verifies with that CA's key). */
export function signedByOneOf(certPem: string, caPems: readonly string[]): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return false;
  }
  return caPems.some((ca) => {
    try {
      const caCert = new X509Certificate(ca);
      return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
    } catch {
      return false;
    }
  });
}
