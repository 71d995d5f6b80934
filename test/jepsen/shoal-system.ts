/**
 * Shoal as a JepsenSystem: three `shoal agent --mode raft` processes run from source
 * (`node --import tsx src/cli/shoal.ts`, in place, so the PID is the agent's), each in its
 * member's namespace on its own address: the cluster protocol on SHOAL_CLUSTER_PORT (UDP and
 * TCP), the HTTP API on SHOAL_HTTP_PORT, and the etcd v3-compatible gRPC endpoint (`--grpc`,
 * INTERFACE.md) on SHOAL_GRPC_PORT for the harness's etcd3 clients. Leadership comes from each
 * member's `GET /v1/leader` (the leader it follows), mapped to member indexes by `GET /v1/self`.
 *
 * Until the agent has `--mode raft` and `--grpc`, `unavailable()` says so and the run is refused
 * with ERR_JEPSEN_UNAVAILABLE ("raft mode not available yet"). Everything but the key-value
 * clients also runs in `raft-lite` mode, which the harness's own tests use to show that the
 * network cuts Shoal's traffic (UDP heartbeats and votes included) and that kill, restart, pause
 * and leader views work on Shoal's processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeDir } from '../../bench/lib-cluster.js';
import { killNow, stopGracefully, track } from '../../bench/lib-tracked-process.js';
import { AGENT_MODE_KINDS } from '../../src/agent/config.js';
import { buildProgram } from '../../src/cli/main.js';
import { majorityLeader, type JepsenSystem, type MemberNetwork } from './system.js';

export const SHOAL_CLUSTER_PORT = 7946;
export const SHOAL_HTTP_PORT = 7947;
export const SHOAL_GRPC_PORT = 2379;
/** Bound on a cluster (or a restarted member) serving: agents start from source, slowly on a loaded machine. */
export const SHOAL_READY_TIMEOUT_MS = 60_000;
/** Time an agent has to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;
const REQUEST_TIMEOUT_MS = 1_000;
const POLL_MS = 100;
/** Lines of a member's log quoted when it exits early. */
const LOG_TAIL_LINES = 15;

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export type ShoalJepsenMode = 'raft' | 'raft-lite';

/** Why this checkout's agent cannot serve the harness in `mode`, or undefined. */
export function shoalAgentGaps(mode: ShoalJepsenMode): string | undefined {
  const gaps: string[] = [];
  if (!(AGENT_MODE_KINDS as readonly string[]).includes(mode))
    gaps.push(`\`shoal agent\` has no --mode ${mode} (it has ${AGENT_MODE_KINDS.join(', ')})`);
  const agent = buildProgram(() => undefined).commands.find((c) => c.name() === 'agent');
  if (mode === 'raft' && !(agent?.options.some((o) => o.long === '--grpc') ?? false))
    gaps.push('no --grpc flag (the etcd v3 gRPC endpoint the clients use)');
  if (gaps.length === 0) return undefined;
  return `${mode} mode not available yet: ${gaps.join('; ')}. The lead wires mode raft and the gRPC endpoint (INTERFACE.md).`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

interface Member {
  readonly name: string;
  readonly host: string;
  readonly dataDir: string;
  readonly logFile: string;
  child: ChildProcess | undefined;
  /** The member's NodeId, from /v1/self (it persists in the data dir across restarts). */
  id: string | undefined;
}

class ShoalCluster {
  private readonly members: Member[];
  private readonly baseDir = makeTempDir('jepsen-shoal');

  constructor(
    private readonly mode: ShoalJepsenMode,
    private readonly network: MemberNetwork,
  ) {
    this.members = network.hosts.map((host, i) => ({
      name: `n${i + 1}`,
      host,
      dataDir: join(this.baseDir, `n${i + 1}`),
      logFile: join(this.baseDir, `n${i + 1}.log`),
      child: undefined,
      id: undefined,
    }));
  }

  member(index: number): Member {
    const member = this.members[index];
    if (member === undefined) throw new Error(`shoal: no member ${index}`);
    return member;
  }

  get size(): number {
    return this.members.length;
  }

  spawnMember(index: number): void {
    const member = this.member(index);
    mkdirSync(member.dataDir, { recursive: true });
    const peers = this.members.map((m) => `${m.host}:${SHOAL_CLUSTER_PORT}`);
    const [command, ...prefix] = [...this.network.command(index), process.execPath];
    const log = openSync(member.logFile, 'a');
    const child = spawn(
      command as string,
      [
        ...prefix,
        ...['--import', 'tsx', join(REPO, 'src/cli/shoal.ts'), 'agent'],
        ...['--name', member.name, '--mode', this.mode, '--data-dir', member.dataDir],
        ...['--bind', `${member.host}:${SHOAL_CLUSTER_PORT}`],
        ...['--http', `${member.host}:${SHOAL_HTTP_PORT}`],
        ...(this.mode === 'raft' ? ['--grpc', `${member.host}:${SHOAL_GRPC_PORT}`] : []),
        ...['--cluster-id', 'jepsen', '--profile', 'lan', '--log-level', 'warn'],
        ...['--peers', ...peers],
      ],
      { cwd: REPO, stdio: ['ignore', log, log], env: withoutShoalEnv() },
    );
    closeSync(log);
    if (child.pid === undefined) throw new Error(`shoal ${member.name}: could not spawn`);
    track(child);
    member.child = child;
  }

  private http(index: number, path: string): string {
    return `http://${this.member(index).host}:${SHOAL_HTTP_PORT}${path}`;
  }

  /** The leader member `index` follows, as a NodeId; undefined when it does not answer or has none. */
  async leaderId(index: number): Promise<string | undefined> {
    const member = this.member(index);
    if (member.child === undefined) return undefined;
    try {
      member.id ??= ((await getJson(this.http(index, '/v1/self'))) as { id?: string }).id;
      return (
        ((await getJson(this.http(index, '/v1/leader'))) as { leader?: string | null }).leader ??
        undefined
      );
    } catch {
      return undefined;
    }
  }

  async leaderViews(): Promise<(number | undefined)[]> {
    const ids = await Promise.all(this.members.map((_, i) => this.leaderId(i)));
    return ids.map((id) => {
      const index = this.members.findIndex((m) => m.id !== undefined && m.id === id);
      return index === -1 ? undefined : index;
    });
  }

  /** Waits until every member in `indexes` follows one leader that a majority names; bounded. */
  async waitServing(indexes: readonly number[]): Promise<void> {
    const deadline = performance.now() + SHOAL_READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      for (const i of indexes) this.failIfExited(i);
      const views = await this.leaderViews();
      const leader = majorityLeader(views);
      if (leader !== undefined && indexes.every((i) => views[i] === leader)) return;
      await sleep(POLL_MS);
    }
    throw new Error(
      `shoal members ${indexes.join(',')} not serving after ${SHOAL_READY_TIMEOUT_MS} ms; logs in ${this.baseDir}`,
    );
  }

  private failIfExited(index: number): void {
    const member = this.member(index);
    const child = member.child;
    if (child === undefined || (child.exitCode === null && child.signalCode === null)) return;
    let tail: string;
    try {
      tail = readFileSync(member.logFile, 'utf8')
        .trim()
        .split('\n')
        .slice(-LOG_TAIL_LINES)
        .join('\n');
    } catch {
      tail = '(no log)';
    }
    throw new Error(
      `shoal ${member.name} exited (${child.exitCode ?? child.signalCode}):\n${tail}`,
    );
  }

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

  pids(): number[] {
    return this.members.flatMap((m) => (m.child?.pid === undefined ? [] : [m.child.pid]));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (member) => {
        const child = member.child;
        if (child === undefined) return;
        await stopGracefully(child, STOP_GRACE_MS);
        member.child = undefined;
      }),
    );
    removeDir(this.baseDir);
  }
}

function withoutShoalEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
}

/** Shoal's JepsenSystem; `raft-lite` serves no key-value API (endpoints() throws) and exists for the harness's tests. */
export function shoalJepsenSystem(mode: ShoalJepsenMode = 'raft'): JepsenSystem {
  let cluster: ShoalCluster | undefined;
  const running = (): ShoalCluster => {
    if (cluster === undefined) throw new Error('shoal: start() first');
    return cluster;
  };
  return {
    name: `shoal ${mode}`,
    unavailable: () => shoalAgentGaps(mode),
    peerPort: SHOAL_CLUSTER_PORT,
    async start(network) {
      const started = new ShoalCluster(mode, network);
      cluster = started;
      const all = network.hosts.map((_, i) => i);
      try {
        for (const i of all) started.spawnMember(i);
        await started.waitServing(all);
      } catch (err) {
        await started.stop();
        cluster = undefined;
        throw err;
      }
    },
    async stop() {
      await cluster?.stop();
      cluster = undefined;
    },
    endpoints() {
      const c = running();
      if (mode !== 'raft') throw new Error(`shoal ${mode} serves no key-value API`);
      return Array.from(
        { length: c.size },
        (_, i) => `http://${c.member(i).host}:${SHOAL_GRPC_PORT}`,
      );
    },
    pids: () => running().pids(),
    leaderViews: () => running().leaderViews(),
    kill: (index) => running().kill(index),
    async restart(index) {
      const c = running();
      await c.kill(index);
      c.spawnMember(index);
      await c.waitServing([index]);
    },
    signal: (index, signal) => running().signal(index, signal),
  };
}
