/**
 * One swim node in a child process, for benchmarks that must hurt a node's whole process: a true
 * `kill -9` (SIGKILL, no close) or an event-loop stall (a busy loop, as a long GC pause or a
 * blocking call would cause). Run as a script it is the child: it prints one JSON line per event
 * on stdout (`ready`, `member` with wall-clock `atMs`, `stalled`) and obeys `stall <ms>` / `close`
 * lines on stdin. Imported, `spawnChildNode` is the parent's handle; the parent keeps the PID and
 * kills only that process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MembershipConfig } from '../src/membership/config.js';
import { createNode } from '../src/node/node.js';
import { makeTempDir, removeDir } from './lib-cluster.js';
import { epochNowMs, isMain } from './lib-report.js';

export interface ChildSpec {
  name: string;
  seeds: string[];
  profile?: 'lan' | 'wan' | 'local';
  membership?: Partial<MembershipConfig>;
}

export interface ChildEvent {
  type: string;
  targetId: string;
  /** Wall clock (`epochNowMs`), comparable with the parent's. */
  atMs: number;
}

/** The parent's handle on a child node. */
export interface ChildNode {
  readonly pid: number;
  readonly id: string;
  readonly address: string;
  readonly events: ChildEvent[];
  /** Busy-loops the child's event loop for `ms`; resolves when the child reports it is done. */
  stall(ms: number): Promise<void>;
  /** SIGKILL: no close, no leave, sockets die with the process. Resolves on exit. */
  kill(): Promise<void>;
  /** Closes the node, waits for exit (SIGKILL after 5 s) and removes the data dir. */
  close(): Promise<void>;
}

const CHILD_READY_TIMEOUT_MS = 30_000;
const CHILD_EXIT_TIMEOUT_MS = 5000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a child node and resolves once it is bound (its `ready` line). */
export async function spawnChildNode(spec: ChildSpec): Promise<ChildNode> {
  const dataDir = makeTempDir(spec.name);
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify({ ...spec, dataDir })],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn child node ${spec.name}`);
  const events: ChildEvent[] = [];
  const stallWaiters: (() => void)[] = [];
  const ready = new Promise<{ id: string; address: string }>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`child ${spec.name} (pid ${pid}) not ready after ${CHILD_READY_TIMEOUT_MS} ms`),
        ),
      CHILD_READY_TIMEOUT_MS,
    );
    child.once('exit', (code) =>
      reject(new Error(`child ${spec.name} exited with ${String(code)} before ready`)),
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const msg = JSON.parse(line) as {
        kind: string;
        id?: string;
        address?: string;
      } & Partial<ChildEvent>;
      if (msg.kind === 'ready') {
        clearTimeout(timer);
        resolve({ id: msg.id ?? '', address: msg.address ?? '' });
      } else if (msg.kind === 'member')
        events.push({ type: msg.type ?? '', targetId: msg.targetId ?? '', atMs: msg.atMs ?? 0 });
      else if (msg.kind === 'stalled') stallWaiters.shift()?.();
    });
  });
  const finish = async (): Promise<void> => {
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_EXIT_TIMEOUT_MS);
    await exited(child);
    clearTimeout(timer);
    removeDir(dataDir);
  };
  try {
    const { id, address } = await ready;
    return {
      pid,
      id,
      address,
      events,
      stall: (ms) =>
        new Promise<void>((resolve) => {
          stallWaiters.push(resolve);
          child.stdin?.write(`stall ${ms}\n`);
        }),
      kill: async () => {
        child.kill('SIGKILL');
        await exited(child);
      },
      close: async () => {
        if (child.exitCode === null && child.signalCode === null) child.stdin?.write('close\n');
        await finish();
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    await finish();
    throw err;
  }
}

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The child side: create the node, report events, obey commands. */
async function childMain(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec & { dataDir: string };
  const node = await createNode(
    {
      name: spec.name,
      dataDir: spec.dataDir,
      bind: '127.0.0.1:0',
      clusterId: 'bench',
      profile: spec.profile ?? 'lan',
      mode: { kind: 'swim', seeds: spec.seeds },
    },
    {},
    spec.membership === undefined ? {} : { membership: spec.membership },
  );
  node.on('member', (e) =>
    emit({ kind: 'member', type: e.type, targetId: e.member.id, atMs: epochNowMs() }),
  );
  emit({ kind: 'ready', id: node.id, address: node.address });
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, arg] = line.trim().split(/\s+/);
    if (command === 'stall') {
      // Deliberately blocks the event loop: this is the fault being measured.
      const endMs = performance.now() + Number(arg);
      while (performance.now() < endMs) {
        /* busy */
      }
      emit({ kind: 'stalled', ms: Number(arg) });
    } else if (command === 'close') {
      void node.close().then(() => process.exit(0));
    }
  });
  // The parent's end of stdin closing means the parent is gone: do not outlive it.
  process.stdin.on('end', () => void node.close().then(() => process.exit(0)));
}

if (isMain(import.meta.url)) await childMain();
