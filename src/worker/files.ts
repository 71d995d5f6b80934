/**
 * Small file helpers of the worker tier's shells: PEM files written atomically (temp file with
 * the final mode, fsync, rename over the target, fsync of the directory), so a crash leaves
 * either the old file or the new one, never a torn key; and a reader that tells "absent" from
 * "unreadable".
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ShoalError } from '../base/errors.js';

/** Mode of private keys: readable and writable by the owner only. */
export const PRIVATE_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;

/**
 * `fsync` false skips both syncs (the rename stays atomic, but a crash may lose the file): only
 * for benchmarks that host thousands of workers in one process, where every sync would stall
 * the one event loop they share.
 */
export function writeFileAtomic(path: string, text: string, mode: number, fsync = true): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(temp, 'wx', mode);
    try {
      writeSync(fd, text);
      if (fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    if (!fsync) return;
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch (err) {
    throw new ShoalError('ERR_WORKER_CA', `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The file's text, or undefined when it does not exist; other errors are ERR_WORKER_CA. */
export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new ShoalError('ERR_WORKER_CA', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
