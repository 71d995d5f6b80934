/**
 * The persisted node identity: `<dataDir>/identity.json`, created once with mode 0600 and reused
 * on every restart, so a node keeps its NodeId across restarts and address changes.
 *
 * Invariants: the file is written atomically (temp file, fsync, hard link into place, fsync of the
 * directory), so a crash leaves either no identity or a whole one; a file read back is believed
 * only after an fsync of the directory (a kill before the writer's own left its name undurable);
 * an existing file is never replaced, not even when it is corrupt (ERR_IDENTITY_CORRUPT /
 * _FOREIGN / _IO name the path and what to do). Not a protocol core: it touches the disk.
 */
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ShoalError, type ErrorCode } from '../base/errors.js';
import {
  ED25519_KEY_BYTES,
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  publicKeyFromSeed,
  signWith,
} from './keys.js';
import type { NodeId } from './node-id.js';

export const IDENTITY_FILE_NAME = 'identity.json';
export const IDENTITY_FORMAT = 'shoal-identity';
export const IDENTITY_VERSION = 1;
/** Owner read/write only: the file holds the private key. */
export const IDENTITY_FILE_MODE = 0o600;

/** The on-disk JSON document (version 1). Keys are standard base64 of the raw 32 bytes. */
export interface IdentityFile {
  format: typeof IDENTITY_FORMAT;
  version: typeof IDENTITY_VERSION;
  nodeId: string;
  /** Raw Ed25519 public key, base64. */
  publicKey: string;
  /** Raw 32-byte Ed25519 private seed (RFC 8032 §5.1.5), base64. */
  privateKey: string;
}

export interface Identity {
  readonly nodeId: NodeId;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Where the identity is stored. */
  readonly filePath: string;
  /** An Ed25519 signature of `data` with this node's private key; check it with `verify` from keys.ts. */
  sign(data: Uint8Array): Uint8Array;
}

function makeIdentity(
  nodeId: NodeId,
  publicKey: Uint8Array,
  privateKey: KeyObject,
  filePath: string,
): Identity {
  return { nodeId, publicKey, filePath, sign: (data) => signWith(privateKey, data) };
}

function ioError(what: string, path: string, err: unknown): ShoalError {
  const code = (err as { code?: unknown }).code;
  return new ShoalError(
    'ERR_IDENTITY_IO',
    `cannot ${what} ${path} (${String(code ?? err)}): check that the data dir is a writable directory owned by this user`,
    { cause: err },
  );
}

function fileError(code: ErrorCode, path: string, why: string): ShoalError {
  return new ShoalError(
    code,
    `identity file ${path} ${why}; it was left untouched: restore it from a backup, or move it away to give this node a new NodeId`,
  );
}

/** Strict base64 of exactly `bytes` bytes, or undefined. */
function decodeKey(text: unknown, bytes: number): Uint8Array | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const raw = new Uint8Array(Buffer.from(text, 'base64'));
  if (raw.length !== bytes || Buffer.from(raw).toString('base64') !== text) return undefined;
  return raw;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Checks a parsed identity document; throws CORRUPT or FOREIGN naming `path`. */
export function parseIdentityFile(text: string, path: string): Identity {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw fileError('ERR_IDENTITY_CORRUPT', path, 'is not valid JSON (truncated or damaged)');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw fileError('ERR_IDENTITY_CORRUPT', path, 'is not a JSON object');
  const fields = doc as Record<string, unknown>;
  if (fields.format !== IDENTITY_FORMAT)
    throw fileError(
      'ERR_IDENTITY_FOREIGN',
      path,
      `has format ${JSON.stringify(fields.format)}, expected ${JSON.stringify(IDENTITY_FORMAT)}`,
    );
  if (fields.version !== IDENTITY_VERSION)
    throw fileError(
      'ERR_IDENTITY_FOREIGN',
      path,
      `has version ${JSON.stringify(fields.version)}; this Shoal reads version ${IDENTITY_VERSION}`,
    );
  const publicKey = decodeKey(fields.publicKey, ED25519_KEY_BYTES);
  const seed = decodeKey(fields.privateKey, ED25519_KEY_BYTES);
  if (publicKey === undefined)
    throw fileError(
      'ERR_IDENTITY_CORRUPT',
      path,
      `has a publicKey that is not base64 of ${ED25519_KEY_BYTES} bytes`,
    );
  if (seed === undefined)
    throw fileError(
      'ERR_IDENTITY_CORRUPT',
      path,
      `has a privateKey that is not base64 of ${ED25519_KEY_BYTES} bytes`,
    );
  if (!sameBytes(publicKeyFromSeed(seed), publicKey))
    throw fileError(
      'ERR_IDENTITY_CORRUPT',
      path,
      'has a publicKey that does not belong to its privateKey',
    );
  const nodeId = nodeIdFromPublicKey(publicKey);
  if (fields.nodeId !== nodeId)
    throw fileError(
      'ERR_IDENTITY_CORRUPT',
      path,
      `has nodeId ${JSON.stringify(fields.nodeId)} but its key gives ${nodeId}`,
    );
  return makeIdentity(nodeId, publicKey, privateKeyFromSeed(seed), path);
}

/** The document for a fresh key pair. */
function newIdentityFile(): IdentityFile {
  const pair = generateRawKeyPair();
  return {
    format: IDENTITY_FORMAT,
    version: IDENTITY_VERSION,
    nodeId: nodeIdFromPublicKey(pair.publicKey),
    publicKey: Buffer.from(pair.publicKey).toString('base64'),
    privateKey: Buffer.from(pair.privateSeed).toString('base64'),
  };
}

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to `path` atomically without ever replacing an existing file: the temp file is
 * hard-linked into place (link fails with EEXIST where rename would overwrite). Returns false when
 * another process created `path` first.
 */
function writeNewFileAtomic(dir: string, path: string, text: string): boolean {
  const tmp = join(
    dir,
    `.${IDENTITY_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = openSync(tmp, 'wx', IDENTITY_FILE_MODE);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  fsyncPath(dir, 'r');
  return true;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw ioError('read', path, err);
  }
}

/**
 * Loads `<dataDir>/identity.json`, creating the directory (recursively) and a fresh identity on
 * first start. Throws ShoalError ERR_IDENTITY_CORRUPT, ERR_IDENTITY_FOREIGN or ERR_IDENTITY_IO.
 */
export function loadOrCreateIdentitySync(dataDir: string): Identity {
  const path = join(dataDir, IDENTITY_FILE_NAME);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ioError('create data dir', dataDir, err);
  }
  const existing = readIfExists(path);
  if (existing !== undefined) return parseIdentityFile(believed(dataDir, existing), path);
  const doc = newIdentityFile();
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  let created: boolean;
  try {
    created = writeNewFileAtomic(dataDir, path, text);
  } catch (err) {
    throw ioError('write', path, err);
  }
  // Lost a creation race with another process on the same data dir: use the file it wrote
  // (once its name is durable: that process may not have reached its directory fsync yet).
  return parseIdentityFile(created ? text : believed(dataDir, readIfExists(path) ?? ''), path);
}

/**
 * An identity file read back is believed only once its name is durable: a process killed
 * between the link into place and the directory fsync leaves a file a power loss would still
 * undo, and a node that ran under that NodeId would come back under a new one while the
 * cluster holds records of the old. The bytes were fsynced before the link, so an fsync of the
 * directory makes the whole file durable (the rule of base/storage.ts `readDurable`, which the
 * stores on the Storage seam use; identity is read before any Storage exists).
 */
function believed(dataDir: string, text: string): string {
  try {
    fsyncPath(dataDir, 'r');
  } catch (err) {
    throw ioError('fsync', dataDir, err);
  }
  return text;
}

/**
 * The async form of `loadOrCreateIdentitySync`. Identity is loaded once at startup and is a few
 * small file operations, so this runs the synchronous version rather than keeping two copies of
 * the create/validate logic in step.
 */
export function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  return new Promise((resolve, reject) => {
    try {
      resolve(loadOrCreateIdentitySync(dataDir));
    } catch (err) {
      reject(err);
    }
  });
}
