/**
 * The production `Storage` (src/base/storage.ts): real files under one root directory, with
 * real fsync. Synchronous on purpose (see the interface's comment): the few files written here
 * are small (an incarnation, a peer cache), and a persist must finish before the sends after it.
 * `rename` also fsyncs the parent directory, so the rename itself survives a power cut.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ShoalError } from '../base/errors.js';
import type { Storage } from '../base/storage.js';

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class FsStorage implements Storage {
  constructor(private readonly root: string) {}

  /** Resolves a storage path under the root; refuses absolute paths and `..` escapes. */
  private resolve(path: string): string {
    const clean = normalize(path);
    if (path.length === 0 || isAbsolute(path) || clean === '..' || clean.startsWith(`..${sep}`)) {
      throw new ShoalError('ERR_STORAGE_IO', `storage path ${JSON.stringify(path)} must be relative and stay inside ${this.root}`);
    }
    return join(this.root, clean);
  }

  private io<T>(what: string, path: string, run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (err instanceof ShoalError) throw err;
      throw new ShoalError('ERR_STORAGE_IO', `cannot ${what} ${join(this.root, path)}: ${(err as Error).message}`, { cause: err });
    }
  }

  writeFile(path: string, data: Uint8Array): void {
    const full = this.resolve(path);
    this.io('write', path, () => {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, data, { mode: 0o600 });
    });
  }

  append(path: string, data: Uint8Array): void {
    const full = this.resolve(path);
    this.io('append to', path, () => {
      mkdirSync(dirname(full), { recursive: true });
      appendFileSync(full, data, { mode: 0o600 });
    });
  }

  fsync(path: string): void {
    const full = this.resolve(path);
    this.io('fsync', path, () => {
      let fd: number;
      try {
        fd = openSync(full, 'r');
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return fsyncDir(dirname(full));
        throw err;
      }
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    });
  }

  read(path: string): Uint8Array | undefined {
    const full = this.resolve(path);
    return this.io('read', path, () => {
      try {
        return new Uint8Array(readFileSync(full));
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return undefined;
        throw err;
      }
    });
  }

  rename(from: string, to: string): void {
    const source = this.resolve(from);
    const target = this.resolve(to);
    this.io('rename', from, () => {
      mkdirSync(dirname(target), { recursive: true });
      renameSync(source, target);
      fsyncDir(dirname(target));
    });
  }

  remove(path: string): void {
    const full = this.resolve(path);
    this.io('remove', path, () => rmSync(full, { force: true }));
  }

  list(prefix: string): string[] {
    return this.io('list', prefix, () => {
      let names: string[];
      try {
        names = readdirSync(this.root, { recursive: true, encoding: 'utf8' });
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return [];
        throw err;
      }
      return names.map((n) => n.split(sep).join('/')).filter((n) => n.startsWith(prefix)).sort();
    });
  }
}

/** Makes a directory entry change (create, rename) durable. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
