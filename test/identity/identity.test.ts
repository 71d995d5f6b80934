import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  readdirSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IDENTITY_FILE_NAME,
  loadOrCreateIdentity,
  loadOrCreateIdentitySync,
} from '../../src/identity/identity.js';
import { nodeIdFromPublicKey, verify } from '../../src/identity/keys.js';
import { isNodeId } from '../../src/identity/node-id.js';
import { runUnprivileged } from '../helpers/unprivileged.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'shoal-identity-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Expects `fn` to throw a ShoalError with `code` whose message names `path`. */
function expectCode(fn: () => unknown, code: string, path: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect((caught as { code?: string } | undefined)?.code).toBe(code);
  expect((caught as Error).message).toContain(path);
}

/**
 * Runs `loadOrCreateIdentitySync(dir)` without privileges (test/helpers/unprivileged.ts: as
 * root, a child that loads the module and then drops to `nobody`, so it never has to read the
 * checkout). Returns the error's code and message, or `ok`.
 */
async function identityErrorUnprivileged(dir: string): Promise<{ code: string; message: string }> {
  if (process.getuid?.() === 0) chmodSync(root, 0o755); // let `nobody` reach the dir under test
  return (await runUnprivileged(
    ['src/identity/identity.ts'],
    `try { m0.loadOrCreateIdentitySync(${JSON.stringify(dir)}); return { code: 'ok', message: '' }; }
     catch (e) { return { code: String(e.code), message: e.message }; }`,
  )) as { code: string; message: string };
}

function identityDoc(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, IDENTITY_FILE_NAME), 'utf8')) as Record<string, unknown>;
}

describe('nodeIdFromPublicKey', () => {
  it('is hex of the first 16 bytes of SHAKE-256 over the raw public key (known answer)', () => {
    const publicKey = Uint8Array.from({ length: 32 }, (_, i) => i);
    const expected = createHash('shake256', { outputLength: 16 }).update(publicKey).digest('hex');
    expect(nodeIdFromPublicKey(publicKey)).toBe(expected);
    expect(expected).toHaveLength(32);
  });

  it('uses the raw key of a node:crypto key pair (the jwk x value)', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    const id = nodeIdFromPublicKey(raw);
    expect(isNodeId(id)).toBe(true);
    expect(id).toBe(createHash('shake256', { outputLength: 16 }).update(raw).digest('hex'));
  });
});

describe('loadOrCreateIdentity', () => {
  it('creates the data dir and a 0600 identity, and reloads the same NodeId', async () => {
    const dir = join(root, 'a', 'b');
    const first = await loadOrCreateIdentity(dir);
    expect(first.nodeId).toMatch(/^[0-9a-f]{32}$/);
    const file = join(dir, IDENTITY_FILE_NAME);
    expect(first.filePath).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = identityDoc(dir);
    expect(doc).toMatchObject({ format: 'shoal-identity', version: 1, nodeId: first.nodeId });
    const second = await loadOrCreateIdentity(dir);
    expect(second.nodeId).toBe(first.nodeId);
    expect(Buffer.from(second.publicKey)).toEqual(Buffer.from(first.publicKey));
    expect(readdirSync(dir)).toEqual([IDENTITY_FILE_NAME]);
  });

  it('gives different nodes different NodeIds', () => {
    const a = loadOrCreateIdentitySync(join(root, 'a'));
    const b = loadOrCreateIdentitySync(join(root, 'b'));
    expect(a.nodeId).not.toBe(b.nodeId);
  });

  it('stores a public key that node:crypto derives from the stored private key', () => {
    const id = loadOrCreateIdentitySync(root);
    const doc = identityDoc(root);
    const jwk = createPublicKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: Buffer.from(doc.privateKey as string, 'base64').toString('base64url'),
        x: Buffer.from(id.publicKey).toString('base64url'),
      },
      format: 'jwk',
    }).export({ format: 'jwk' });
    expect(Buffer.from(jwk.x as string, 'base64url')).toEqual(Buffer.from(id.publicKey));
  });

  it('signs, verifies, and detects tampering', () => {
    const id = loadOrCreateIdentitySync(root);
    const data = new TextEncoder().encode('hello shoal');
    const sig = id.sign(data);
    expect(sig).toHaveLength(64);
    expect(verify(id.publicKey, data, sig)).toBe(true);
    const tamperedData = data.slice();
    tamperedData[0] = (tamperedData[0] ?? 0) ^ 1;
    expect(verify(id.publicKey, tamperedData, sig)).toBe(false);
    const tamperedSig = sig.slice();
    tamperedSig[10] = (tamperedSig[10] ?? 0) ^ 0x80;
    expect(verify(id.publicKey, data, tamperedSig)).toBe(false);
    const other = loadOrCreateIdentitySync(join(root, 'other'));
    expect(verify(other.publicKey, data, sig)).toBe(false);
    expect(verify(id.publicKey.subarray(0, 31), data, sig)).toBe(false);
    expect(verify(id.publicKey, data, sig.subarray(0, 63))).toBe(false);
  });
});

describe('bad identity files are refused and left untouched', () => {
  function corruptCase(
    mutate: (text: string, doc: Record<string, unknown>) => string,
    code: string,
  ): void {
    loadOrCreateIdentitySync(root);
    const file = join(root, IDENTITY_FILE_NAME);
    const original = readFileSync(file, 'utf8');
    const bad = mutate(original, JSON.parse(original) as Record<string, unknown>);
    writeFileSync(file, bad, { mode: 0o600 });
    expectCode(() => loadOrCreateIdentitySync(root), code, file);
    expect(readFileSync(file, 'utf8')).toBe(bad);
  }

  it('truncated JSON -> ERR_IDENTITY_CORRUPT', () => {
    corruptCase((text) => text.slice(0, text.length / 2), 'ERR_IDENTITY_CORRUPT');
  });
  it('empty file -> ERR_IDENTITY_CORRUPT', () => {
    corruptCase(() => '', 'ERR_IDENTITY_CORRUPT');
  });
  it('not an object -> ERR_IDENTITY_CORRUPT', () => {
    corruptCase(() => '[1,2]', 'ERR_IDENTITY_CORRUPT');
  });
  it('another format -> ERR_IDENTITY_FOREIGN', () => {
    corruptCase(
      (_, doc) => JSON.stringify({ ...doc, format: 'other-tool' }),
      'ERR_IDENTITY_FOREIGN',
    );
  });
  it('another version -> ERR_IDENTITY_FOREIGN', () => {
    corruptCase((_, doc) => JSON.stringify({ ...doc, version: 2 }), 'ERR_IDENTITY_FOREIGN');
  });
  it('a public key of another pair -> ERR_IDENTITY_CORRUPT', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const x = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString(
      'base64',
    );
    corruptCase((_, doc) => JSON.stringify({ ...doc, publicKey: x }), 'ERR_IDENTITY_CORRUPT');
  });
  it('a nodeId that does not match the key -> ERR_IDENTITY_CORRUPT', () => {
    corruptCase(
      (_, doc) => JSON.stringify({ ...doc, nodeId: '0'.repeat(32) }),
      'ERR_IDENTITY_CORRUPT',
    );
  });
  it('a private key of the wrong length -> ERR_IDENTITY_CORRUPT', () => {
    corruptCase(
      (_, doc) => JSON.stringify({ ...doc, privateKey: Buffer.alloc(31).toString('base64') }),
      'ERR_IDENTITY_CORRUPT',
    );
  });
  it('a key that is not base64 -> ERR_IDENTITY_CORRUPT', () => {
    corruptCase(
      (_, doc) => JSON.stringify({ ...doc, publicKey: '!'.repeat(44) }),
      'ERR_IDENTITY_CORRUPT',
    );
  });
});

describe('I/O failures -> ERR_IDENTITY_IO', () => {
  it('a data dir that is a file', () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    expectCode(() => loadOrCreateIdentitySync(file), 'ERR_IDENTITY_IO', file);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
  it('an identity path that is a directory', () => {
    mkdirSync(join(root, IDENTITY_FILE_NAME));
    expectCode(
      () => loadOrCreateIdentitySync(root),
      'ERR_IDENTITY_IO',
      join(root, IDENTITY_FILE_NAME),
    );
  });
  // Permission checks mean nothing to root, so as root (CI, containers) they run in a child
  // process that drops to the unprivileged user `nobody`; otherwise in this process.
  it('an unreadable identity file', async () => {
    loadOrCreateIdentitySync(root);
    const file = join(root, IDENTITY_FILE_NAME);
    chmodSync(file, 0o000);
    expect(await identityErrorUnprivileged(root)).toMatchObject({
      code: 'ERR_IDENTITY_IO',
      message: expect.stringContaining(file),
    });
    chmodSync(file, 0o600);
  });
  it('a read-only data dir on first start', async () => {
    const dir = join(root, 'ro');
    mkdirSync(dir, { mode: 0o555 });
    expect(await identityErrorUnprivileged(dir)).toMatchObject({
      code: 'ERR_IDENTITY_IO',
      message: expect.stringContaining(dir),
    });
    chmodSync(dir, 0o700);
    expect(readdirSync(dir)).toEqual([]);
  });
});
