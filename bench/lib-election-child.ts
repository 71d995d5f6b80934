/**
 * One election node in a child process, for the failover bench and the kill -9 tests: a true
 * SIGKILL of the leader's whole process. Run as a script it is the child: it creates a node in
 * the given mode, prints one JSON line per leader change on stdout (`ready`, then `leader` with
 * the leader id, term and wall-clock `atMs`) and closes on a `close` line or when stdin ends.
 * Imported, `spawnElectionChild` is the parent's handle; the parent keeps the PID and kills only it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MembershipConfig } from '../src/membership/config.js';
import { createNode, type NodeInternals } from '../src/node/node.js';
import { freeClusterAddresses } from '../src/transport/free-port.js';
import type { NodeOptions } from '../src/node/options.js';
import { epochNowMs, isMain } from './lib-report.js';

export type ElectionModeKind = 'raft-lite' | 'static' | 'swim';

export interface ElectionChildSpec {
  name: string;
  dataDir: string;
  bind: string;
  mode: ElectionModeKind;
  /** Every member's address, self included (raft-lite, static); seeds (swim). */
  peers: string[];
  /** swim only: SWIM timing overrides. */
  membership?: Partial<MembershipConfig>;
}

export interface LeaderReport {
  leader: string | undefined;
  term: number;
  atMs: number;
}

export interface ElectionChild {
  readonly pid: number;
  readonly id: string;
  readonly spec: ElectionChildSpec;
  /** Every leader change the child reported, in order. */
  readonly reports: LeaderReport[];
  /** The last report, or undefined before the first. */
  current(): LeaderReport | undefined;
  /** SIGKILL this child's PID: no close, sockets die with the process. Resolves on exit. */
  kill(): Promise<void>;
  /** Asks the child to close and waits for its exit (SIGKILL after 5 s). */
  close(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a child and resolves once its node is bound (its `ready` line). */
export async function spawnElectionChild(spec: ElectionChildSpec): Promise<ElectionChild> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(spec)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${spec.name}`);
  const reports: LeaderReport[] = [];
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${spec.name} (pid ${pid}) not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited with ${String(code)} before ready`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const msg = JSON.parse(line) as { kind: string; id?: string } & Partial<LeaderReport>;
      if (msg.kind === 'ready') {
        clearTimeout(timer);
        resolve(msg.id ?? '');
      }
      if (msg.kind === 'leader')
        reports.push({ leader: msg.leader ?? undefined, term: msg.term ?? 0, atMs: msg.atMs ?? 0 });
    });
  });
  const stop = async (signal: 'SIGKILL' | undefined): Promise<void> => {
    if (signal !== undefined) child.kill(signal);
    else if (child.exitCode === null && child.signalCode === null) child.stdin?.end('close\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    await exited(child);
    clearTimeout(timer);
  };
  try {
    const id = await ready;
    return {
      pid,
      id,
      spec,
      reports,
      current: () => reports.at(-1),
      kill: () => stop('SIGKILL'),
      close: () => stop(undefined),
    };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

/** N children of one mode on 127.0.0.1, each with its own temp data dir; `close` removes them. */
export class ElectionCluster {
  readonly children: ElectionChild[] = [];
  private readonly dirs: string[] = [];

  constructor(
    readonly mode: ElectionModeKind,
    private readonly membership?: Partial<MembershipConfig>,
  ) {}

  async start(count: number): Promise<void> {
    const peers = await freeClusterAddresses(count);
    const specs = peers.map((bind, i): ElectionChildSpec => {
      const dataDir = mkdtempSync(join(tmpdir(), `shoal-election-${this.mode}-`));
      this.dirs.push(dataDir);
      return {
        name: `e${i}`,
        dataDir,
        bind,
        mode: this.mode,
        peers,
        ...(this.membership === undefined ? {} : { membership: this.membership }),
      };
    });
    for (const spec of specs) this.children.push(await spawnElectionChild(spec));
  }

  /** The children still running (not killed). */
  alive(): ElectionChild[] {
    return this.children.filter((c) => !this.killed.has(c));
  }

  /** SIGKILLs `child` (its PID only). */
  async kill(child: ElectionChild): Promise<void> {
    this.killed.add(child);
    await child.kill();
  }

  /** Starts `child` again on its data dir and address. */
  async restart(child: ElectionChild): Promise<ElectionChild> {
    const fresh = await spawnElectionChild(child.spec);
    this.children[this.children.indexOf(child)] = fresh;
    this.killed.delete(child);
    return fresh;
  }

  /** The leader all of `group` report with one term, if they agree. */
  static agreed(group: readonly ElectionChild[]): { leader: string; term: number } | undefined {
    const first = group[0]?.current();
    if (first?.leader === undefined) return undefined;
    return group.every(
      (c) => c.current()?.leader === first.leader && c.current()?.term === first.term,
    )
      ? { leader: first.leader, term: first.term }
      : undefined;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.children.map((c) => c.close()));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  private readonly killed = new Set<ElectionChild>();
}

function nodeOptions(spec: ElectionChildSpec): NodeOptions {
  const base = {
    name: spec.name,
    dataDir: spec.dataDir,
    bind: spec.bind,
    clusterId: 'election-bench',
    profile: 'local' as const,
  };
  if (spec.mode === 'swim')
    return { ...base, mode: { kind: 'swim', seeds: spec.peers.filter((p) => p !== spec.bind) } };
  if (spec.mode === 'static')
    return {
      ...base,
      mode: {
        kind: 'static',
        peers: spec.peers,
        failureThresholdMs: 400,
        heartbeatIntervalMs: 100,
      },
    };
  return {
    ...base,
    mode: {
      kind: 'raft-lite',
      peers: spec.peers,
      electionTimeoutMinMs: 150,
      electionTimeoutMaxMs: 300,
      heartbeatIntervalMs: 50,
      minClusterSize: spec.peers.length,
    },
  };
}

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The child side: create the node, report leader changes, close on request or when the parent goes. */
async function childMain(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ElectionChildSpec;
  const internals: NodeInternals =
    spec.membership === undefined ? {} : { membership: spec.membership };
  const node = await createNode(nodeOptions(spec), {}, internals);
  node.on('leader', (e) =>
    emit({ kind: 'leader', leader: e.leader ?? null, term: e.term, atMs: epochNowMs() }),
  );
  emit({ kind: 'ready', id: node.id });
  const current = node.leader();
  if (current !== undefined)
    emit({ kind: 'leader', leader: current.id, term: current.term, atMs: epochNowMs() });
  const shutdown = (): void => void node.close().then(() => process.exit(0));
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'close') shutdown();
  });
  // The parent's end of stdin closing means the parent is gone: do not outlive it.
  process.stdin.on('end', shutdown);
}

if (isMain(import.meta.url)) await childMain();
