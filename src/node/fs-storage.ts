/**
 * The production `Storage` (src/base/storage.ts): real files under one root directory, with
 * real fsync. The plain operations are synchronous (boot-time reads, tools); `writeDurable`, the
 * path every running protocol persists through, runs on libuv's thread pool (fs.promises) and
 * never blocks the event loop. `rename` and `writeDurable` fsync the directory, so the rename
 * itself survives a power cut; `writeDurable` also fsyncs the parent of every directory it
 * creates, so a node's first write of a file is as durable as its later ones.
 *
 * The log-file operations (a WAL's hot path) are asynchronous too: `writeAtDurable` writes and
 * fdatasyncs through a file descriptor cached per path (one open per segment, not per batch),
 * released by `closeFile`, `renameDurable` and `removeDurable` once the operations in flight on
 * it finish. `createDurable` preallocates by writing zeros (Node has no fallocate(2)), so a later
 * write into the file allocates no blocks and its fdatasync has no size or extent metadata to
 * commit. `fsyncDelayMs` (benchmarks only) holds back each asynchronous operation's completion,
 * to show how a design behaves on a disk slower than this one.
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
  writeSync,
  appendFileSync,
} from 'node:fs';
import { mkdir, open, rename as renameAsync, rm, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { ShoalError } from '../base/errors.js';
import {
  durableReplaceSteps,
  type DurableStep,
  type Storage,
  type StorageDone,
} from '../base/storage.js';

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export interface FsStorageOptions {
  /**
   * Extra time before each asynchronous durable operation (a WAL batch's fdatasync, a file
   * replace) reports completion, ms: benchmarks only, to model a slower disk (a cloud volume's
   * fsync costs 1-10 ms; this machine's about 0.1 ms). 0 disables. @defaultValue 0
   */
  fsyncDelayMs?: number;
}

/** A file descriptor cached for one path, with the operations using it. */
interface CachedHandle {
  opened: Promise<FileHandle>;
  inFlight: number;
  closing: boolean;
}

/** Zeros written per call when preallocating a file. */
const PREALLOCATE_CHUNK_BYTES = 1024 * 1024;

export class FsStorage implements Storage {
  private readonly fsyncDelayMs: number;
  private readonly handles = new Map<string, CachedHandle>();

  constructor(
    private readonly root: string,
    options: FsStorageOptions = {},
  ) {
    const delayMs = options.fsyncDelayMs ?? 0;
    if (!Number.isSafeInteger(delayMs) || delayMs < 0)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `fsyncDelayMs (${delayMs}) must be a non-negative integer`,
      );
    this.fsyncDelayMs = delayMs;
  }

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
    this.run(done, 'durably write', [path], ([full]) => durableReplace(full as string, data));
  }

  writeAt(path: string, offset: number, data: Uint8Array): void {
    const full = this.resolve(path);
    this.io('write into', path, () => {
      const fd = openSync(full, 'r+');
      try {
        for (let done = 0; done < data.length;)
          done += writeSync(fd, data, done, data.length - done, offset + done);
      } finally {
        closeSync(fd);
      }
    });
  }

  createDurable(path: string, sizeBytes: number, done: StorageDone): void {
    this.run(done, 'create', [path], ([full]) => createZeroFilled(full as string, sizeBytes));
  }

  writeAtDurable(path: string, offset: number, data: Uint8Array, done: StorageDone): void {
    const full = this.resolveOr(path, done);
    if (full === undefined) return;
    const cached = this.acquire(full);
    writeAtAndSync(cached.opened, offset, data)
      .finally(() => this.release(full, cached))
      .then(
        () => this.complete(done),
        (err: unknown) => done(ioError('write and sync', full, err)),
      );
  }

  renameDurable(from: string, to: string, done: StorageDone): void {
    this.run(done, 'rename', [from, to], async ([source, target]) => {
      await renameAsync(source as string, target as string);
      await fsyncDirAsync(dirname(target as string));
      if (dirname(source as string) !== dirname(target as string))
        await fsyncDirAsync(dirname(source as string));
    });
  }

  removeDurable(paths: readonly string[], done: StorageDone): void {
    this.run(done, 'remove', paths, async (fulls) => {
      for (const full of fulls) await rm(full, { force: true });
      for (const dir of new Set(fulls.map((full) => dirname(full)))) await fsyncDirAsync(dir);
    });
  }

  closeFile(path: string): void {
    const full = this.resolve(path);
    const cached = this.handles.get(full);
    if (cached === undefined) return;
    this.handles.delete(full);
    cached.closing = true;
    if (cached.inFlight === 0) closeQuietly(cached);
  }

  /**
   * Runs an asynchronous operation on `paths` (resolved, their cached descriptors released
   * first: a rename, removal or re-creation leaves them pointing at another inode).
   */
  private run(
    done: StorageDone,
    what: string,
    paths: readonly string[],
    op: (fulls: string[]) => Promise<void>,
  ): void {
    const fulls: string[] = [];
    for (const path of paths) {
      const full = this.resolveOr(path, done);
      if (full === undefined) return;
      fulls.push(full);
    }
    for (const path of paths) this.closeFile(path);
    op(fulls).then(
      () => this.complete(done),
      (err: unknown) => done(ioError(what, fulls.join(', '), err)),
    );
  }

  /** Resolves `path`, or reports its refusal to `done` (asynchronously, as promised) and returns undefined. */
  private resolveOr(path: string, done: StorageDone): string | undefined {
    try {
      return this.resolve(path);
    } catch (err) {
      setImmediate(() => done(err as ShoalError));
      return undefined;
    }
  }

  /** Reports success, after `fsyncDelayMs` when a benchmark asked for a slower disk. */
  private complete(done: StorageDone): void {
    if (this.fsyncDelayMs === 0) return done(undefined);
    sleep(this.fsyncDelayMs).then(
      () => done(undefined),
      () => done(undefined),
    );
  }

  private acquire(full: string): CachedHandle {
    let cached = this.handles.get(full);
    if (cached === undefined) {
      cached = { opened: open(full, 'r+'), inFlight: 0, closing: false };
      cached.opened.catch(() => undefined); // a failed open is reported by the operation
      this.handles.set(full, cached);
    }
    cached.inFlight++;
    return cached;
  }

  private release(full: string, cached: CachedHandle): void {
    cached.inFlight--;
    // A descriptor that failed to open is dropped, so the next operation tries again.
    cached.opened.catch(() => {
      if (this.handles.get(full) === cached) this.handles.delete(full);
    });
    if (cached.closing && cached.inFlight === 0) closeQuietly(cached);
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
      if (step.dir === dir) await fsyncCreatedParents(dir, firstCreated);
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

function ioError(what: string, path: string, err: unknown): ShoalError {
  return new ShoalError('ERR_STORAGE_IO', `cannot ${what} ${path}: ${(err as Error).message}`, {
    cause: err,
  });
}

function closeQuietly(cached: CachedHandle): void {
  cached.opened.then(
    (handle) => handle.close().catch(() => undefined),
    () => undefined,
  );
}

/** Writes all of `data` at `offset` through the handle, then fdatasyncs it. */
async function writeAtAndSync(
  opened: Promise<FileHandle>,
  offset: number,
  data: Uint8Array,
): Promise<void> {
  const handle = await opened;
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, offset + done);
    done += bytesWritten;
  }
  await handle.datasync();
}

/** Creates `full` as `sizeBytes` zeros, fsyncs it and its directory (and any directory created for it). */
async function createZeroFilled(full: string, sizeBytes: number): Promise<void> {
  const dir = dirname(full);
  const firstCreated = await mkdir(dir, { recursive: true });
  const handle = await open(full, 'w', 0o600);
  try {
    const zeros = new Uint8Array(Math.min(sizeBytes, PREALLOCATE_CHUNK_BYTES));
    for (let at = 0; at < sizeBytes;) {
      const { bytesWritten } = await handle.write(
        zeros,
        0,
        Math.min(zeros.length, sizeBytes - at),
        at,
      );
      at += bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDirAsync(dir);
  await fsyncCreatedParents(dir, firstCreated);
}

/** Each directory `mkdir` created holds its entry in its parent: fsync those, up to the one that existed. */
async function fsyncCreatedParents(dir: string, firstCreated: string | undefined): Promise<void> {
  if (firstCreated === undefined) return;
  for (let created = dir; created !== dirname(firstCreated); created = dirname(created))
    await fsyncDirAsync(dirname(created));
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
