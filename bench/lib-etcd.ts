/**
 * A fresh etcd 3.4 cluster on loopback for the side-by-side benches (issue 13), the way
 * /work/shared/peers/etcd/cluster.sh runs one, but with ports from the OS
 * (src/transport/free-port.ts) and a temp data dir, so several can run at once and nothing is
 * left behind: start, wait until healthy, find the leader, kill -9 a member by PID, restart it on
 * its data dir, stop.
 *
 * With a placement (`EtcdPlacement`) each member runs on its own host address behind a command
 * prefix, such as `ip netns exec NS` for the Jepsen harness's network namespaces
 * (test/jepsen/netns.ts); the prefix must exec the program in place, so the PID stays etcd's.
 *
 * Every etcd process started here is tracked by PID: `stop()` ends them (SIGTERM, SIGKILL after
 * STOP_GRACE_MS), and if the bench dies first, an exit / SIGINT / SIGTERM hook kills whatever is
 * still tracked. Nothing else is ever signalled. Every wait is bounded.
 *
 * Also `etcdSystem()`, the KvSystem (lib-load.ts) over it with the `etcd3` npm client (1.1.2,
 * the peers harness's client), retries and circuit breakers off so every error is seen.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { allocatePort } from '../src/transport/free-port.js';
import { makeTempDir, removeDir } from './lib-cluster.js';
import { killNow, stopMembers, track } from './lib-tracked-process.js';
import type { ClusterSettings, KvClient, KvSystem } from './lib-load.js';

/** Bound on a cluster (or a restarted member) becoming healthy. */
export const HEALTHY_TIMEOUT_MS = 30_000;
/** Time a member has to exit after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** Bound on one status or health request. */
const REQUEST_TIMEOUT_MS = 1_000;
const POLL_MS = 50;

/** `etcd --version`'s version, or undefined when etcd is not installed. */
export function etcdVersion(): string | undefined {
  try {
    const text = execFileSync('etcd', ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /etcd Version: (\S+)/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Where members run instead of 127.0.0.1 with OS-chosen ports: member i listens on `hosts[i]`
 * at the fixed ports below (each host is a network of its own, so nothing else holds them), and
 * is started as `command(i)` followed by etcd's argv.
 */
export interface EtcdPlacement {
  readonly hosts: readonly string[];
  readonly command: (index: number) => readonly string[];
}

/** etcd's own default ports, used on a placement's hosts. */
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

interface Member {
  readonly name: string;
  readonly host: string;
  readonly command: readonly string[];
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
  /** etcd's member id (decimal text), learned from its status. */
  id: string | undefined;
}

interface Status {
  memberId: string;
  leader: string;
}

export class EtcdCluster {
  private members: Member[] = [];
  private baseDir: string | undefined;
  private readonly token = `shoal-bench-${process.pid}-${Math.floor(performance.now())}`;

  constructor(
    private readonly settings: ClusterSettings,
    private readonly placement?: EtcdPlacement,
    /** More etcd flags for every member (the failover bench's `--pre-vote` control). */
    private readonly extraArgs: readonly string[] = [],
  ) {}

  /** Starts `settings.members` fresh members and waits until every one is healthy. */
  async start(): Promise<void> {
    this.baseDir = makeTempDir('etcd');
    const taken = new Set<number>();
    for (let i = 0; i < this.settings.members; i++) {
      const name = `n${i + 1}`;
      const placed = this.placement;
      const host = placed?.hosts[i];
      if (placed !== undefined && host === undefined)
        throw new Error(`etcd: the placement has no host for member ${i}`);
      this.members.push({
        name,
        host: host ?? '127.0.0.1',
        command: placed?.command(i) ?? [],
        clientPort:
          host === undefined ? await allocatePort('127.0.0.1', taken, false) : ETCD_CLIENT_PORT,
        peerPort:
          host === undefined ? await allocatePort('127.0.0.1', taken, false) : ETCD_PEER_PORT,
        dataDir: join(this.baseDir, name),
        logFile: join(this.baseDir, `${name}.log`),
        child: undefined,
        id: undefined,
      });
    }
    for (const member of this.members) this.spawnMember(member, 'new');
    await this.waitHealthy(this.members.map((_, i) => i));
    for (const [i, member] of this.members.entries()) member.id = (await this.status(i))?.memberId;
  }

  get size(): number {
    return this.members.length;
  }

  endpoint(index: number): string {
    const member = this.member(index);
    return `http://${member.host}:${member.clientPort}`;
  }

  /** Member `index`'s log (zap JSON lines on stderr, appended across restarts). */
  logFile(index: number): string {
    return this.member(index).logFile;
  }

  /** The port member `index` listens on for its peers. */
  peerPort(index: number): number {
    return this.member(index).peerPort;
  }

  /** PIDs of the members running now. */
  pids(): number[] {
    return this.members.flatMap((m) => (m.child?.pid === undefined ? [] : [m.child.pid]));
  }

  pid(index: number): number | undefined {
    return this.member(index).child?.pid;
  }

  private member(index: number): Member {
    const member = this.members[index];
    if (member === undefined) throw new Error(`etcd: no member ${index}`);
    return member;
  }

  private spawnMember(member: Member, state: 'new' | 'existing'): void {
    mkdirSync(member.dataDir, { recursive: true });
    const initialCluster = this.members
      .map((m) => `${m.name}=http://${m.host}:${m.peerPort}`)
      .join(',');
    const log = openSync(member.logFile, 'a');
    const clientUrl = `http://${member.host}:${member.clientPort}`;
    const peerUrl = `http://${member.host}:${member.peerPort}`;
    const [command, ...prefix] = [...member.command, 'etcd'];
    const child = spawn(
      command as string,
      [
        ...prefix,
        ...['--name', member.name, '--data-dir', member.dataDir],
        ...['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
        ...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
        ...['--initial-cluster', initialCluster, '--initial-cluster-state', state],
        ...['--initial-cluster-token', this.token],
        ...['--heartbeat-interval', String(this.settings.heartbeatMs)],
        ...['--election-timeout', String(this.settings.electionMs)],
        ...['--logger', 'zap', '--log-outputs', 'stderr'],
        ...this.extraArgs,
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    if (child.pid === undefined) throw new Error(`etcd ${member.name}: could not spawn`);
    track(child);
    member.child = child;
  }

  /** The member's status, or undefined when it does not answer in time. */
  async status(index: number): Promise<Status | undefined> {
    try {
      const response = await fetch(`${this.endpoint(index)}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      if (!response.ok) return undefined;
      const json = (await response.json()) as { header?: { member_id?: string }; leader?: string };
      const memberId = json.header?.member_id;
      const leader = json.leader;
      return memberId === undefined || leader === undefined ? undefined : { memberId, leader };
    } catch {
      return undefined;
    }
  }

  private async healthy(index: number): Promise<boolean> {
    try {
      const response = await fetch(`${this.endpoint(index)}/health`, {
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      return response.ok && ((await response.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }

  /** Waits until every member in `indexes` reports healthy (it has a leader); throws after HEALTHY_TIMEOUT_MS. */
  async waitHealthy(indexes: readonly number[]): Promise<void> {
    const deadline = performance.now() + HEALTHY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const states = await Promise.all(indexes.map((i) => this.healthy(i)));
      if (states.every(Boolean)) return;
      for (const i of indexes) {
        const child = this.member(i).child;
        if (child !== undefined && child.exitCode !== null)
          throw new Error(
            `etcd ${this.member(i).name} exited (${child.exitCode}); see ${this.member(i).logFile}`,
          );
      }
      await sleep(POLL_MS);
    }
    throw new Error(`etcd members ${indexes.join(',')} not healthy after ${HEALTHY_TIMEOUT_MS} ms`);
  }

  /** Each member's view of the leader, as a member index (undefined: down or no leader). */
  async leaderViews(): Promise<(number | undefined)[]> {
    return Promise.all(
      this.members.map(async (member, i) => {
        if (member.child === undefined) return undefined;
        const status = await this.status(i);
        const leader = this.members.findIndex((m) => m.id !== undefined && m.id === status?.leader);
        return leader === -1 ? undefined : leader;
      }),
    );
  }

  /** The leader as a majority of members reports it, or undefined. */
  async leader(): Promise<number | undefined> {
    const views = await this.leaderViews();
    const majority = Math.floor(this.members.length / 2) + 1;
    for (const candidate of new Set(views))
      if (candidate !== undefined && views.filter((v) => v === candidate).length >= majority)
        return candidate;
    return undefined;
  }

  /** SIGKILL of member `index` by its PID; resolves once it is gone. */
  async kill(index: number): Promise<void> {
    const member = this.member(index);
    const child = member.child;
    if (child === undefined) return;
    await killNow(child);
    member.child = undefined;
  }

  /** Stops (SIGSTOP) or resumes (SIGCONT) member `index`, as a long pause would; only our own PIDs. */
  signal(index: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.member(index).child?.kill(signal);
  }

  /** Starts member `index` again on its data dir and waits until it is healthy. */
  async restart(index: number): Promise<void> {
    const member = this.member(index);
    if (member.child !== undefined) await this.kill(index);
    this.spawnMember(member, 'existing');
    await this.waitHealthy([index]);
  }

  /** SIGTERM every member (SIGKILL after STOP_GRACE_MS), then removes the data. Safe to repeat. */
  async stop(): Promise<void> {
    await stopMembers(this.members, STOP_GRACE_MS);
    if (this.baseDir !== undefined) removeDir(this.baseDir);
    this.baseDir = undefined;
    this.members = [];
  }
}

/**
 * An etcd3 library client of some members, retries and circuit breakers off: every error is seen.
 * `grpcOptions` go to the gRPC channel (the Jepsen harness caps the reconnect backoff so a
 * client of a restarted member comes back within a second).
 */
export function etcd3Client(
  hosts: readonly string[],
  grpcOptions?: IOptions['grpcOptions'],
): Etcd3 {
  return new Etcd3({
    hosts: [...hosts],
    dialTimeout: 3_000,
    faultHandling: { host: () => noop, global: noop },
    ...(grpcOptions === undefined ? {} : { grpcOptions }),
  });
}

/** The KvClient over etcd3Client. */
export function etcdClient(hosts: readonly string[]): KvClient {
  const client = etcd3Client(hosts);
  const deadline = (timeoutMs: number | undefined): { deadline: number } | undefined =>
    timeoutMs === undefined ? undefined : { deadline: Date.now() + timeoutMs };
  return {
    async put(key, value, timeoutMs) {
      const response = await client
        .put(key)
        .value(Buffer.from(value))
        .options(deadline(timeoutMs))
        .exec();
      return { revision: Number(response.header.revision) };
    },
    async get(key, timeoutMs) {
      const response = await client.get(key).options(deadline(timeoutMs)).exec();
      const kv = response.kvs[0];
      return kv === undefined
        ? undefined
        : { value: kv.value, modRevision: Number(kv.mod_revision) };
    },
    close: () => client.close(),
  };
}

/** The etcd KvSystem; `name` carries the installed version. */
export function etcdSystem(): KvSystem {
  let cluster: EtcdCluster | undefined;
  const running = (): EtcdCluster => {
    if (cluster === undefined) throw new Error('etcd: start() first');
    return cluster;
  };
  return {
    name: `etcd ${etcdVersion() ?? '(not installed)'}`,
    async start(settings) {
      cluster = new EtcdCluster(settings);
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
