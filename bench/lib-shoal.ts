/**
 * A fresh Shoal `raft` cluster of real agent processes, the twin of lib-etcd.ts's EtcdCluster,
 * for the side-by-side benches (`shoalSystem()`, a KvSystem), the etcd compatibility suite
 * (test/etcd/systems.ts), the durability test (test/jepsen/durability.ts) and the Jepsen harness
 * (test/jepsen/shoal-system.ts): each member is `shoal agent --mode raft --peers ... --grpc H:P`
 * run from source (`node --import tsx src/cli/shoal.ts`, in place, so the PID is the agent's),
 * with its own data dir. On loopback each member gets a cluster port, an HTTP port and an etcd
 * gRPC port from the OS; with a placement (`ShoalPlacement`) each runs on its own host address
 * at fixed ports behind a command prefix (`ip netns exec NS` for the Jepsen namespaces). Raft
 * timings (heartbeat, election timeout) go in through a config file's `modeOptions`, as a user
 * sets them. `mode: 'raft-lite'` runs the same agents in raft-lite mode (no store, no gRPC): the
 * Jepsen harness's own tests use it.
 *
 * Every process is tracked by PID (lib-tracked-process.ts): `stop()` ends them (SIGTERM, then
 * SIGKILL after STOP_GRACE_MS), `kill(i)` is kill -9 of member i only, and if the harness dies
 * first an exit hook kills what is still tracked. Every wait is bounded.
 *
 * The API (stable: the benches build on it; add to it, do not change it):
 * - `shoalSystem(options?)`: a `KvSystem` (lib-load.ts), the same shape as lib-etcd.ts's
 *   `etcdSystem()`: `start({members, heartbeatMs, electionMs})`, `stop()`, `pids()`,
 *   `leaderViews()`, `kill(i)`, `restart(i)`, `client(memberIndexes)` (an etcd3 client on those
 *   members' gRPC endpoints). `options` are the ShoalClusterOptions beyond ClusterSettings.
 * - `new ShoalCluster(options)` (`ShoalClusterOptions` = ClusterSettings + mode, placement,
 *   profile, clusterId, logLevel), then `start()` (fresh data dirs; resolves once every member
 *   follows one leader a majority names). Addresses: `endpoint(i)` (etcd gRPC, `http://H:P`),
 *   `http(i)` (the HTTP API, `H:P`), `clusterAddress(i)`. Processes: `size`, `pids()`, `pid(i)`,
 *   `running(i)`, `logTail(i, lines?)`. Leadership: `leaderId(i)` (the NodeId member i follows),
 *   `leaderViews()` (member indexes), `leader()` (the one a majority names). Faults: `kill(i)`
 *   (kill -9), `signal(i, 'SIGSTOP' | 'SIGCONT')`, `spawn(i)` (start again on its data dir, no
 *   wait), `restart(i)` (kill if running, start, wait until it serves), `waitServing(indexes)`.
 *   `stop()` ends every member and removes the data; safe to repeat.
 * - Constants: SHOAL_READY_TIMEOUT_MS, SHOAL_STOP_GRACE_MS, and the fixed ports of placed members
 *   SHOAL_CLUSTER_PORT, SHOAL_HTTP_PORT, SHOAL_GRPC_PORT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatePort } from '../src/transport/free-port.js';
import { makeTempDir, removeDir } from './lib-cluster.js';
import { etcdClient } from './lib-etcd.js';
import type { ClusterSettings, KvSystem } from './lib-load.js';
import { killNow, stopMembers, track } from './lib-tracked-process.js';

/** The ports of a placed member (each has its own host address, so they can be fixed). */
export const SHOAL_CLUSTER_PORT = 7946;
export const SHOAL_HTTP_PORT = 7947;
export const SHOAL_GRPC_PORT = 2379;

/** Where members run: member i on `hosts[i]`, started behind `command(i)` (which must exec in place). */
export interface ShoalPlacement {
  readonly hosts: readonly string[];
  command(index: number): readonly string[];
}

/** Bound on a cluster (or a restarted member) serving: agents start from source, slowly on a loaded machine. */
export const SHOAL_READY_TIMEOUT_MS = 60_000;
/** Time an agent has to exit after SIGTERM before SIGKILL. */
export const SHOAL_STOP_GRACE_MS = 8_000;
const REQUEST_TIMEOUT_MS = 1_000;
const POLL_MS = 100;
/** Lines of a member's log quoted when it exits early. */
const LOG_TAIL_LINES = 15;

const REPO = fileURLToPath(new URL('../', import.meta.url));

interface Member {
  readonly name: string;
  readonly host: string;
  readonly command: readonly string[];
  readonly clusterPort: number;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly configFile: string;
  child: ChildProcess | undefined;
  /** The member's NodeId (it persists in the data dir across restarts). */
  id: string | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

export interface ShoalClusterOptions extends ClusterSettings {
  /** `raft` (default), or `raft-lite` (no store, no gRPC endpoint). */
  readonly mode?: 'raft' | 'raft-lite';
  /** The agents' `--fsync-delay-ms` (benchmark-only slower disk); 0 (default) leaves it out. */
  readonly fsyncDelayMs?: number;
  /** Node flags for each agent process (`--cpu-prof`, which NODE_OPTIONS refuses). */
  readonly nodeArgs?: readonly string[];
  /** Extra `shoal agent` flags for each member (`--grpc-stack grpc-js`). */
  readonly agentArgs?: readonly string[];
  /** Members on their own host addresses behind a command prefix; loopback and free ports by default. */
  readonly placement?: ShoalPlacement;
  /** `lan` (default), `wan` or `local`: timings not set in ClusterSettings come from it. */
  readonly profile?: 'lan' | 'wan' | 'local';
  readonly clusterId?: string;
  /** Agent log level (default `warn`). */
  readonly logLevel?: string;
  /**
   * `source` (default): `node --import tsx src/cli/shoal.ts`; `dist`: `node dist/cli/shoal.js`,
   * the compiled agent (the caller builds it first: lib-raft-systems.ts `agentBuild()`), which
   * starts in a fraction of the time on a loaded machine.
   */
  readonly agentFrom?: 'source' | 'dist';
}

export class ShoalCluster {
  private members: Member[] = [];
  private baseDir: string | undefined;

  constructor(private readonly settings: ShoalClusterOptions) {}

  /** Starts `settings.members` fresh members and waits until they all follow one leader. */
  async start(): Promise<void> {
    this.baseDir = makeTempDir('shoal');
    const taken = new Set<number>();
    const placed = this.settings.placement;
    for (let i = 0; i < this.settings.members; i++) {
      const name = `n${i + 1}`;
      const host = placed?.hosts[i];
      if (placed !== undefined && host === undefined)
        throw new Error(`shoal: the placement has no host for member ${i}`);
      const port = async (udp: boolean, fixed: number): Promise<number> =>
        host === undefined ? allocatePort('127.0.0.1', taken, udp) : fixed;
      this.members.push({
        name,
        host: host ?? '127.0.0.1',
        command: placed?.command(i) ?? [],
        clusterPort: await port(true, SHOAL_CLUSTER_PORT),
        httpPort: await port(false, SHOAL_HTTP_PORT),
        grpcPort: await port(false, SHOAL_GRPC_PORT),
        dataDir: join(this.baseDir, name),
        logFile: join(this.baseDir, `${name}.log`),
        configFile: join(this.baseDir, `${name}.yaml`),
        child: undefined,
        id: undefined,
      });
    }
    for (const member of this.members) this.spawnMember(member);
    await this.waitServing(this.members.map((_, i) => i));
  }

  get size(): number {
    return this.members.length;
  }

  /** Member `index`'s etcd gRPC endpoint, `http://H:P`. */
  endpoint(index: number): string {
    const member = this.member(index);
    return `http://${member.host}:${member.grpcPort}`;
  }

  /** Member `index`'s HTTP API, `H:P`. */
  http(index: number): string {
    const member = this.member(index);
    return `${member.host}:${member.httpPort}`;
  }

  /** Member `index`'s cluster (Raft) address. */
  clusterAddress(index: number): string {
    const member = this.member(index);
    return `${member.host}:${member.clusterPort}`;
  }

  pids(): number[] {
    return this.members.flatMap((m) => (m.child?.pid === undefined ? [] : [m.child.pid]));
  }

  pid(index: number): number | undefined {
    return this.member(index).child?.pid;
  }

  running(index: number): boolean {
    return this.member(index).child !== undefined;
  }

  private member(index: number): Member {
    const member = this.members[index];
    if (member === undefined) throw new Error(`shoal: no member ${index}`);
    return member;
  }

  private spawnMember(member: Member): void {
    mkdirSync(member.dataDir, { recursive: true });
    const { heartbeatMs, electionMs } = this.settings;
    writeFileSync(
      member.configFile,
      `modeOptions:\n  heartbeatIntervalMs: ${heartbeatMs}\n  electionTimeoutMinMs: ${electionMs}\n  electionTimeoutMaxMs: ${2 * electionMs}\n`,
    );
    const peers = this.members.map((m) => `${m.host}:${m.clusterPort}`);
    const mode = this.settings.mode ?? 'raft';
    const log = openSync(member.logFile, 'a');
    const [command, ...prefix] = [...member.command, process.execPath];
    const child = spawn(
      command as string,
      [
        ...prefix,
        ...(this.settings.nodeArgs ?? []),
        ...(this.settings.agentFrom === 'dist'
          ? [join(REPO, 'dist/cli/shoal.js')]
          : ['--import', 'tsx', join(REPO, 'src/cli/shoal.ts')]),
        'agent',
        ...['--config', member.configFile, '--name', member.name, '--mode', mode],
        ...['--data-dir', member.dataDir, '--bind', `${member.host}:${member.clusterPort}`],
        ...['--http', `${member.host}:${member.httpPort}`],
        ...(mode === 'raft' ? ['--grpc', `${member.host}:${member.grpcPort}`] : []),
        ...['--cluster-id', this.settings.clusterId ?? 'bench'],
        ...['--profile', this.settings.profile ?? 'lan'],
        ...['--log-level', this.settings.logLevel ?? 'warn', '--peers', ...peers],
        ...(this.settings.agentArgs ?? []),
        ...((this.settings.fsyncDelayMs ?? 0) > 0
          ? ['--fsync-delay-ms', String(this.settings.fsyncDelayMs)]
          : []),
      ],
      { cwd: REPO, stdio: ['ignore', log, log], env: withoutShoalEnv() },
    );
    closeSync(log);
    if (child.pid === undefined) throw new Error(`shoal ${member.name}: could not spawn`);
    track(child);
    member.child = child;
  }

  /** The leader member `index` follows, as a NodeId; undefined when it does not answer or has none. */
  async leaderId(index: number): Promise<string | undefined> {
    const member = this.member(index);
    if (member.child === undefined) return undefined;
    try {
      member.id ??= ((await getJson(`http://${this.http(index)}/v1/self`)) as { id?: string }).id;
      const answer = (await getJson(`http://${this.http(index)}/v1/leader`)) as {
        leader?: string | null;
      };
      return answer.leader ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** Each member's view of the leader, as a member index (undefined: down or no leader). */
  async leaderViews(): Promise<(number | undefined)[]> {
    const ids = await Promise.all(this.members.map((_, i) => this.leaderId(i)));
    return ids.map((id) => {
      const index = this.members.findIndex((m) => m.id !== undefined && m.id === id);
      return index === -1 ? undefined : index;
    });
  }

  /** The leader a majority of members names, or undefined. */
  async leader(): Promise<number | undefined> {
    const views = await this.leaderViews();
    const majority = Math.floor(this.members.length / 2) + 1;
    for (const candidate of new Set(views))
      if (candidate !== undefined && views.filter((v) => v === candidate).length >= majority)
        return candidate;
    return undefined;
  }

  /** Waits until every member in `indexes` follows one leader a majority names; bounded. */
  async waitServing(indexes: readonly number[]): Promise<void> {
    const deadline = performance.now() + SHOAL_READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      for (const i of indexes) this.failIfExited(i);
      const views = await this.leaderViews();
      const leader = await this.leader();
      if (leader !== undefined && indexes.every((i) => views[i] === leader)) return;
      await sleep(POLL_MS);
    }
    throw new Error(
      `shoal members ${indexes.join(',')} not serving after ${SHOAL_READY_TIMEOUT_MS} ms; logs in ${this.baseDir ?? '?'}`,
    );
  }

  /** The last lines of member `index`'s log. */
  logTail(index: number, lines = LOG_TAIL_LINES): string {
    try {
      return readFileSync(this.member(index).logFile, 'utf8')
        .trim()
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  private failIfExited(index: number): void {
    const child = this.member(index).child;
    if (child === undefined || (child.exitCode === null && child.signalCode === null)) return;
    throw new Error(
      `shoal ${this.member(index).name} exited (${child.exitCode ?? child.signalCode}):\n${this.logTail(index)}`,
    );
  }

  /** kill -9 of member `index` by its PID; resolves once it is gone. */
  async kill(index: number): Promise<void> {
    const member = this.member(index);
    const child = member.child;
    if (child === undefined) return;
    await killNow(child);
    member.child = undefined;
  }

  signal(index: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.member(index).child?.kill(signal);
  }

  /** Starts member `index` again on its data dir (killing it first if it runs); does not wait. */
  async spawn(index: number): Promise<void> {
    if (this.member(index).child !== undefined) await this.kill(index);
    this.spawnMember(this.member(index));
  }

  /** Starts member `index` again on its data dir and waits until it serves. */
  async restart(index: number): Promise<void> {
    await this.spawn(index);
    await this.waitServing([index]);
  }

  /** SIGTERM every member (SIGKILL after SHOAL_STOP_GRACE_MS), then removes the data. Safe to repeat. */
  async stop(): Promise<void> {
    await stopMembers(this.members, SHOAL_STOP_GRACE_MS);
    if (this.baseDir !== undefined) removeDir(this.baseDir);
    this.baseDir = undefined;
    this.members = [];
  }
}

function withoutShoalEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
}

/** Shoal as a KvSystem: the cluster above, driven through its etcd endpoint by the same etcd3 client as etcd. */
export function shoalSystem(
  options: Omit<ShoalClusterOptions, keyof ClusterSettings> = {},
): KvSystem {
  let cluster: ShoalCluster | undefined;
  const running = (): ShoalCluster => {
    if (cluster === undefined) throw new Error('shoal: start() first');
    return cluster;
  };
  return {
    name: 'shoal raft',
    async start(settings) {
      cluster = new ShoalCluster({ ...options, ...settings });
      try {
        await cluster.start();
      } catch (err) {
        await cluster.stop();
        throw err;
      }
    },
    async stop() {
      await cluster?.stop();
      cluster = undefined;
    },
    pids: () => running().pids(),
    leaderViews: () => running().leaderViews(),
    kill: (index) => running().kill(index),
    restart: (index) => running().restart(index),
    client: async (members) => etcdClient(members.map((i) => running().endpoint(i))),
  };
}
