/**
 * An identity file read back is believed only once its name is durable (identity.ts, `believed`;
 * the rule of base/storage.ts `readDurable`): a process killed between linking identity.json into
 * place and fsyncing the data dir leaves a file a power loss would undo, so the next start fsyncs
 * the directory before it runs under that NodeId. The fs calls are observed through a mock of
 * node:fs that passes every call through.
 */
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadOrCreateIdentitySync } from '../../src/identity/identity.js';

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof fs>();
  return { ...actual, openSync: vi.fn(actual.openSync), fsyncSync: vi.fn(actual.fsyncSync) };
});

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'shoal-identity-durable-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  vi.mocked(fs.openSync).mockClear();
  vi.mocked(fs.fsyncSync).mockClear();
});

/** How many times `dir` was opened for reading and that descriptor fsynced next (a directory fsync). */
function dirFsyncs(dir: string): number {
  const opened = vi.mocked(fs.openSync).mock;
  const synced = vi.mocked(fs.fsyncSync).mock;
  return opened.calls.filter((call, i) => {
    if (call[0] !== dir || call[1] !== 'r') return false;
    const fd = opened.results[i]?.value as number;
    const after = opened.invocationCallOrder[i] as number;
    const next = opened.invocationCallOrder.find((order) => order > after) ?? Infinity;
    // Descriptors are reused: only an fsync of this fd before the next open counts.
    return synced.calls.some(
      ([syncedFd], j) =>
        syncedFd === fd &&
        (synced.invocationCallOrder[j] as number) > after &&
        (synced.invocationCallOrder[j] as number) < next,
    );
  }).length;
}

describe('identity.json is believed only with a durable name', () => {
  it('a restart fsyncs the data dir before it uses the identity it read', () => {
    const first = loadOrCreateIdentitySync(root);
    expect(dirFsyncs(root)).toBe(1); // the creation's own directory fsync
    vi.mocked(fs.openSync).mockClear();
    vi.mocked(fs.fsyncSync).mockClear();
    const again = loadOrCreateIdentitySync(root);
    expect(again.nodeId).toBe(first.nodeId);
    expect(dirFsyncs(root)).toBe(1);
  });

  it('a directory fsync that fails is ERR_IDENTITY_IO naming the data dir, not an identity used', () => {
    loadOrCreateIdentitySync(root);
    vi.mocked(fs.fsyncSync).mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    expect(() => loadOrCreateIdentitySync(root)).toThrow(
      expect.objectContaining({
        code: 'ERR_IDENTITY_IO',
        message: expect.stringContaining(`fsync ${root} (EIO)`),
      }),
    );
  });
});
