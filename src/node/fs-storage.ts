/**
 * The production `Storage` (src/base/storage.ts): real files under one root directory, with
 * real fsync. The plain operations are synchronous (boot-time reads, tools); `writeDurable`, the
 * path every running protocol persists through, runs on libuv's thread pool (fs.promises) and
 * never blocks the event loop. `rename` and `writeDurable` fsync the directory, so the rename
 * itself survives a power cut; `writeDurable` also fsyncs the parent of every directory it
 * creates, so a node's first write of a file is as durable as its later ones.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import { mkdir, open, rename as renameAsync } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ShoalError } from '../base/errors.js';
import { durableReplaceSteps, type DurableStep, type Storage } from '../base/storage.js';

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class FsStorage implements Storage {
  constructor(private readonly root: string) {}

  /** Resolves a storage path under the root; refuses absolute paths and `..` escapes. */
  private resolve(path: string): string {
    const clean = normalize(path);
    if (path.length === 0 || isAbsolute(path) || clean === '..' || clean.startsWith(`..${sep}`)) {
      throw new ShoalError(
        'ERR_STORAGE_IO',
        `storage path ${JSON.stringify(path)} must be relative and stay inside ${this.root}`,
      );
    }
    return join(this.root, clean);
  }

  private io<T>(what: string, path: string, run: () => T): T {
    try {
      return run();
    } catch (err) {
      if (err instanceof ShoalError) throw err;
      throw new ShoalError(
        'ERR_STORAGE_IO',
        `cannot ${what} ${join(this.root, path)}: ${(err as Error).message}`,
        { cause: err },
      );
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
    });
  }

  fsyncDir(dir: string): void {
    const full = dir === '' ? this.root : this.resolve(dir);
    this.io('fsync directory', dir, () => fsyncDir(full));
  }

  remove(path: string): void {
    const full = this.resolve(path);
    this.io('remove', path, () => rmSync(full, { force: true }));
  }

  writeDurable(
    path: string,
    data: Uint8Array,
    done: (error: ShoalError | undefined) => void,
  ): void {
    let full: string;
    try {
      full = this.resolve(path);
    } catch (err) {
      setImmediate(() => done(err as ShoalError));
      return;
    }
    durableReplace(full, data).then(
      () => done(undefined),
      (err: unknown) =>
        done(
          new ShoalError(
            'ERR_STORAGE_IO',
            `cannot durably write ${full}: ${(err as Error).message}`,
            { cause: err },
          ),
        ),
    );
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
      return names
        .map((n) => n.split(sep).join('/'))
        .filter((n) => n.startsWith(prefix))
        .sort();
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

/** Runs `durableReplaceSteps` on real files; a write followed by its fsync shares one handle. */
async function durableReplace(full: string, data: Uint8Array): Promise<void> {
  // The steps name paths relative to the target's directory, which is where they all live.
  const dir = dirname(full);
  const steps = durableReplaceSteps(full);
  const firstCreated = await mkdir(dir, { recursive: true });
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as DurableStep;
    if (step.op === 'write') {
      const next = steps[i + 1];
      const syncNow = next?.op === 'fsync' && next.path === step.path;
      await writeFileAsync(step.path, data, syncNow);
      if (syncNow) i++;
    } else if (step.op === 'fsync') {
      const handle = await open(step.path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else if (step.op === 'rename') {
      await renameAsync(step.from, step.to);
    } else {
      await fsyncDirAsync(step.dir);
      if (firstCreated === undefined || step.dir !== dir) continue;
      // New directories: each one's entry lives in its parent, up to the directory that existed.
      for (let created = dir; created !== dirname(firstCreated); created = dirname(created))
        await fsyncDirAsync(dirname(created));
    }
  }
}

async function writeFileAsync(path: string, data: Uint8Array, sync: boolean): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(data);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDirAsync(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Directories probed by `checkWritableDataDir`, the data dir included (a node makes two or three under it). */
export const DATA_DIR_PROBES_MAX = 64;

/**
 * Refuses, before any port is bound, a data dir this process cannot write: the root and every
 * directory under it (where protocols keep their files) must take a new file. Otherwise the
 * node would start and stop at its first durable write, from a timer, with a stack in the log.
 * Throws ERR_STORAGE_IO naming the directory and what to do.
 */
export function checkWritableDataDir(root: string): void {
  const dirs = [root];
  try {
    mkdirSync(root, { recursive: true });
    // Breadth first, one directory at a time: a data dir pointed at a big tree reads 64 dirs, not the tree.
    for (let i = 0; i < dirs.length && dirs.length <= DATA_DIR_PROBES_MAX; i++) {
      for (const entry of readdirSync(dirs[i] as string, { withFileTypes: true }))
        if (entry.isDirectory() && dirs.length <= DATA_DIR_PROBES_MAX)
          dirs.push(join(dirs[i] as string, entry.name));
    }
  } catch (err) {
    throw notWritable(root, err);
  }
  for (const dir of dirs) {
    const probe = join(dir, `.shoal-write-check-${process.pid}`);
    try {
      writeFileSync(probe, '', { mode: 0o600 });
      unlinkSync(probe);
    } catch (err) {
      throw notWritable(dir, err);
    }
  }
}

function notWritable(dir: string, err: unknown): ShoalError {
  return new ShoalError(
    'ERR_STORAGE_IO',
    `data dir ${dir} is not writable (${errnoOf(err) ?? (err as Error).message}): give this user write access to it, or choose another data dir`,
    { cause: err },
  );
}
