/**
 * The processes of `shoal demo`: N `shoal agent` children on 127.0.0.1, profile `local`, cluster
 * id `demo`, one data dir each; in swim mode the first is the seed the others join, in raft mode
 * (`shoal demo --mode raft`) every agent gets every member as `--peers` (the initial voters); in
 * worker-tier mode (`shoal demo --mode worker-tier`, issue 15) three `worker-server` agents form
 * the Raft cluster, the demo asks the leader for a bootstrap token (as many uses as workers),
 * writes it to `worker.token` in the demo's dir, starts N `worker` agents with it, and scales a
 * demo service `web` to one replica per worker. Children run on the same runtime as this process (`process.execPath` + `process.execArgv` + the sibling `shoal` entry script), so
 * the demo works from source under tsx and from dist alike.
 *
 * Invariants: only PIDs this class spawned are ever signalled; a node's ports and data dir are
 * fixed at creation, so a restart brings the same NodeId back on the same address (it rejoins
 * and refutes with a higher incarnation); every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShoalError } from '../base/errors.js';
import { allocatePort } from '../transport/free-port.js';

export const DEMO_NODES_MIN = 1;
export const DEMO_NODES_MAX = 50;
/** Longest an agent may take from spawn to answering `/v1/health` (tsx compiles on start). */
export const AGENT_READY_TIMEOUT_MS = 60_000;
/** How long a stopping agent gets after SIGTERM before SIGKILL. */
export const AGENT_STOP_GRACE_MS = 5_000;
/** Bounds of a pause (SIGSTOP, then SIGCONT). */
export const PAUSE_MS_MIN = 500;
export const PAUSE_MS_MAX = 30_000;
export const PAUSE_MS_DEFAULT = 5_000;
const HEALTH_POLL_MS = 200;
/** Labels spread over the nodes, so the dashboard has labels to show. */
const DEMO_ZONES = ['a', 'b', 'c'];
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
const LOG_TAIL_CHARS = 2_000;

export type DemoNodeState = 'running' | 'paused' | 'killed';

/** The cluster mode the demo runs. */
export type DemoMode = 'swim' | 'raft' | 'worker-tier';

/** worker-tier: the Raft servers of the tier (`--nodes` counts the workers). */
export const DEMO_TIER_SERVERS = 3;
/**
 * worker-tier: the tier's timings, short so a killed worker is down and its replica moved within
 * seconds (TTL base 2 s, TTLs in [2, 4) s, grace 5 s), and a 20 s TTL after a leader change (at least 10 × the minimum, a config rule).
 */
export const DEMO_TIER_OPTIONS = [
  'modeOptions:',
  '  minHeartbeatTtlMs: 2000',
  '  heartbeatGraceMs: 5000',
  '  failoverHeartbeatTtlMs: 20000',
].join('\n');
/** worker-tier: the demo service, one replica per worker, never on a server. */
export const DEMO_TIER_SERVICE = 'web';
/** Bound on one token or scale request to a server agent. */
const TIER_REQUEST_TIMEOUT_MS = 5_000;

/** What a demo process is: a cluster member (swim, raft), or a tier's server or worker. */
export type DemoRole = 'member' | 'server' | 'worker';

/** What `GET /demo/nodes` answers for one node. */
export interface DemoNodeInfo {
  name: string;
  pid: number | null;
  http: string;
  bind: string;
  dataDir: string;
  state: DemoNodeState;
  /** What the process is (absent: a member, as in swim and raft mode). */
  role?: DemoRole;
}

/** How to run `shoal agent`: a program and the arguments that come before `agent ...`. */
export interface AgentLauncher {
  command: string;
  prefixArgs: readonly string[];
}

interface DemoNode {
  name: string;
  role: DemoRole;
  /** worker-tier servers: the workers' gRPC listener. */
  workerListen: string | undefined;
  bind: string;
  http: string;
  dataDir: string;
  logFile: string;
  child: ChildProcess | undefined;
  state: DemoNodeState;
  resumeTimer: NodeJS.Timeout | undefined;
}

/** The `shoal` entry script next to this module (`shoal.ts` from source, `shoal.js` in dist). */
export function defaultLauncher(): AgentLauncher {
  const self = new URL(import.meta.url);
  const entry = new URL(self.pathname.endsWith('.ts') ? './shoal.ts' : './shoal.js', self);
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  return {
    command: process.execPath,
    prefixArgs: [...execArgv, decodeURIComponent(entry.pathname)],
  };
}

function invalid(message: string): ShoalError {
  return new ShoalError('ERR_INVALID_ARGUMENT', message);
}

function notFound(name: string): ShoalError {
  return new ShoalError('ERR_NOT_FOUND', `no demo node named ${JSON.stringify(name)}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** POSTs JSON to a tier server agent; throws ERR_AGENT_UNREACHABLE on anything but 2xx. */
async function tierPost<T>(node: DemoNode, path: string, body: object): Promise<T> {
  let answer: Response;
  try {
    answer = await fetch(`http://${node.http}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIER_REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ShoalError(
      'ERR_AGENT_UNREACHABLE',
      `POST ${path} to ${node.name}: ${(err as Error).message}`,
    );
  }
  if (!answer.ok)
    throw new ShoalError(
      'ERR_AGENT_UNREACHABLE',
      `POST ${path} to ${node.name} answered ${answer.status}: ${(await answer.text()).slice(0, 200)}`,
    );
  return (await answer.json()) as T;
}

export class DemoCluster {
  private readonly nodes: DemoNode[];
  private stopping = false;

  private constructor(
    nodes: DemoNode[],
    private readonly launcher: AgentLauncher,
    readonly host: string,
    readonly mode: DemoMode,
    private readonly dir: string,
  ) {
    this.nodes = nodes;
  }

  /** Picks free ports and creates the data dirs; starts nothing. */
  static async create(options: {
    nodes: number;
    dir: string;
    host?: string;
    launcher?: AgentLauncher;
    mode?: DemoMode;
  }): Promise<DemoCluster> {
    const count = options.nodes;
    if (!Number.isSafeInteger(count) || count < DEMO_NODES_MIN || count > DEMO_NODES_MAX) {
      throw invalid(
        `--nodes ${JSON.stringify(String(count))} is not allowed: expected an integer in ${DEMO_NODES_MIN}..${DEMO_NODES_MAX}`,
      );
    }
    const host = options.host ?? '127.0.0.1';
    const mode = options.mode ?? 'swim';
    const taken = new Set<number>();
    const nodes: DemoNode[] = [];
    const roles: [string, DemoRole][] =
      mode === 'worker-tier'
        ? [
            ...Array.from({ length: DEMO_TIER_SERVERS }, (_, i): [string, DemoRole] => [
              `server-${i + 1}`,
              'server',
            ]),
            ...Array.from({ length: count }, (_, i): [string, DemoRole] => [
              `worker-${i + 1}`,
              'worker',
            ]),
          ]
        : Array.from({ length: count }, (_, i): [string, DemoRole] => [`node-${i + 1}`, 'member']);
    for (const [name, role] of roles) {
      const dataDir = join(options.dir, name);
      mkdirSync(dataDir, { recursive: true });
      const bind = `${host}:${await allocatePort(host, taken, true)}`;
      const http = `${host}:${await allocatePort(host, taken, false)}`;
      const workerListen =
        role === 'server' ? `${host}:${await allocatePort(host, taken, false)}` : undefined;
      nodes.push({
        name,
        role,
        workerListen,
        bind,
        http,
        dataDir,
        logFile: join(dataDir, 'agent.log'),
        child: undefined,
        state: 'killed',
        resumeTimer: undefined,
      });
    }
    if (mode === 'worker-tier')
      writeFileSync(join(options.dir, 'tier.yaml'), `${DEMO_TIER_OPTIONS}\n`);
    return new DemoCluster(nodes, options.launcher ?? defaultLauncher(), host, mode, options.dir);
  }

  /**
   * Starts the seed, waits for it, then the rest (raft: all at once, since a leader needs a
   * majority); resolves when every agent answers /v1/health (raft: once it follows a leader).
   */
  async start(): Promise<void> {
    if (this.mode === 'worker-tier') return this.startTier();
    if (this.mode === 'raft') {
      for (const node of this.nodes) this.spawnNode(node);
      await Promise.all(this.nodes.map((node) => this.waitReady(node)));
      return;
    }
    const [seed, ...rest] = this.nodes;
    if (seed === undefined) return;
    this.spawnNode(seed);
    await this.waitReady(seed);
    for (const node of rest) this.spawnNode(node);
    await Promise.all(rest.map((node) => this.waitReady(node)));
  }

  list(): DemoNodeInfo[] {
    return this.nodes.map((n) => ({
      name: n.name,
      pid: n.child?.pid ?? null,
      http: n.http,
      bind: n.bind,
      dataDir: n.dataDir,
      state: n.state,
      role: n.role,
    }));
  }

  info(name: string): DemoNodeInfo {
    const found = this.list().find((n) => n.name === name);
    if (found === undefined) throw notFound(name);
    return found;
  }

  /** Running (not paused, not killed) nodes: the ones that can answer an HTTP request now. */
  running(): DemoNodeInfo[] {
    return this.list().filter((n) => n.state === 'running');
  }

  /** SIGKILL: the node gets no chance to leave, so the others must detect it (suspect, then dead). */
  kill(name: string): DemoNodeInfo {
    const node = this.find(name);
    if (node.child === undefined || node.state === 'killed')
      throw invalid(`${name} is not running`);
    this.clearResume(node);
    node.child.kill('SIGKILL');
    node.state = 'killed';
    return this.info(name);
  }

  /** SIGSTOP for `pauseMs`, then SIGCONT: the node misses probes and must refute the suspicion. */
  pause(name: string, pauseMs: number = PAUSE_MS_DEFAULT): DemoNodeInfo {
    const node = this.find(name);
    if (!Number.isSafeInteger(pauseMs) || pauseMs < PAUSE_MS_MIN || pauseMs > PAUSE_MS_MAX) {
      throw invalid(
        `pause ${pauseMs} ms is not allowed: expected an integer in ${PAUSE_MS_MIN}..${PAUSE_MS_MAX}`,
      );
    }
    const child = node.child;
    if (child === undefined || node.state !== 'running')
      throw invalid(`${name} is ${node.state}; only a running node can be paused`);
    child.kill('SIGSTOP');
    node.state = 'paused';
    node.resumeTimer = setTimeout(() => this.resume(node, child), pauseMs);
    return this.info(name);
  }

  /** Starts a killed node again on the same data dir and ports. */
  async restart(name: string): Promise<DemoNodeInfo> {
    const node = this.find(name);
    if (node.state !== 'killed')
      throw invalid(`${name} is ${node.state}; kill it before restarting`);
    if (this.stopping) throw invalid('the demo is stopping');
    await this.waitExited(node, AGENT_STOP_GRACE_MS);
    this.spawnNode(node);
    return this.info(name);
  }

  /** Stops every process this cluster started: SIGCONT if paused, SIGTERM, then SIGKILL after the grace. */
  async stop(graceMs: number = AGENT_STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.nodes.map(async (node) => {
        this.clearResume(node);
        const child = node.child;
        if (child === undefined) return;
        if (node.state === 'paused') child.kill('SIGCONT');
        child.kill('SIGTERM');
        node.state = 'killed';
        if (await this.waitExited(node, graceMs)) return;
        child.kill('SIGKILL');
        await this.waitExited(node, graceMs);
      }),
    );
  }

  /** Last resort on process exit: SIGKILL whatever is still ours. Synchronous. */
  killAllNow(): void {
    for (const node of this.nodes) {
      if (
        node.child !== undefined &&
        node.child.exitCode === null &&
        node.child.signalCode === null
      )
        node.child.kill('SIGKILL');
    }
  }

  private find(name: string): DemoNode {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined) throw notFound(name);
    return node;
  }

  /**
   * worker-tier: the servers all at once, then a token from the leader, then the workers, then
   * the demo service; resolves once every agent answers /v1/health and the service is written.
   */
  private async startTier(): Promise<void> {
    const servers = this.nodes.filter((n) => n.role === 'server');
    const workers = this.nodes.filter((n) => n.role === 'worker');
    for (const node of servers) this.spawnNode(node);
    await Promise.all(servers.map((node) => this.waitReady(node)));
    const leader = await this.tierLeader(servers);
    const issued = await tierPost<{ token?: unknown }>(leader, '/v1/tokens', {
      maxUses: workers.length,
      ttlMs: 24 * 3_600_000,
    });
    if (typeof issued.token !== 'string')
      throw new ShoalError('ERR_AGENT_UNREACHABLE', `no token from ${leader.name}`);
    writeFileSync(this.tokenFile(), `${issued.token}\n`, { mode: 0o600 });
    for (const node of workers) this.spawnNode(node);
    await Promise.all(workers.map((node) => this.waitReady(node)));
    await tierPost(leader, `/v1/scale/${DEMO_TIER_SERVICE}`, {
      replicas: workers.length,
      spec: { image: 'demo/web', port: 8080 },
      placement: { servers: false },
    });
  }

  /** The server whose /v1/workers says it leads the tier (bounded by AGENT_READY_TIMEOUT_MS). */
  private async tierLeader(servers: readonly DemoNode[]): Promise<DemoNode> {
    const deadline = Date.now() + AGENT_READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      for (const node of servers) {
        try {
          const res = await fetch(`http://${node.http}/v1/workers`, {
            signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS),
          });
          if (res.ok && ((await res.json()) as { leading?: unknown }).leading === true) return node;
        } catch {
          // Not serving yet: ask the next one, then again until the deadline.
        }
      }
      await sleep(HEALTH_POLL_MS);
    }
    throw new ShoalError(
      'ERR_AGENT_UNREACHABLE',
      `no worker-server led the tier within ${AGENT_READY_TIMEOUT_MS} ms; logs in ${this.dir}`,
    );
  }

  private tokenFile(): string {
    return join(this.dir, 'worker.token');
  }

  private agentArgs(node: DemoNode): string[] {
    if (node.role === 'server' || node.role === 'worker') return this.tierArgs(node);
    const seed = this.nodes[0];
    const index = this.nodes.indexOf(node);
    const args = [
      'agent',
      '--name',
      node.name,
      '--bind',
      node.bind,
      '--http',
      node.http,
      '--mode',
      this.mode,
      '--data-dir',
      node.dataDir,
      '--cluster-id',
      'demo',
      '--profile',
      'local',
      '--label',
      `zone=${DEMO_ZONES[index % DEMO_ZONES.length]}`,
    ];
    if (this.mode === 'raft') args.push('--peers', ...this.nodes.map((n) => n.bind));
    else if (seed !== undefined && seed !== node) args.push('--join', seed.bind);
    return args;
  }

  private tierArgs(node: DemoNode): string[] {
    const index = this.nodes.filter((n) => n.role === node.role).indexOf(node);
    const common = [
      'agent',
      '--name',
      node.name,
      '--http',
      node.http,
      '--data-dir',
      node.dataDir,
      '--cluster-id',
      'demo',
      '--profile',
      'local',
      '--label',
      `zone=${DEMO_ZONES[index % DEMO_ZONES.length]}`,
    ];
    if (node.role === 'worker')
      return [
        ...common,
        '--mode',
        'worker',
        '--servers',
        ...this.nodes.flatMap((n) => (n.workerListen === undefined ? [] : [n.workerListen])),
        '--token-file',
        this.tokenFile(),
      ];
    return [
      ...common,
      '--config',
      join(this.dir, 'tier.yaml'),
      '--mode',
      'worker-server',
      '--bind',
      node.bind,
      '--peers',
      ...this.nodes.filter((n) => n.role === 'server').map((n) => n.bind),
      '--worker-listen',
      node.workerListen as string,
    ];
  }

  private spawnNode(node: DemoNode): void {
    const log = openSync(node.logFile, 'a');
    try {
      const child = spawn(
        this.launcher.command,
        [...this.launcher.prefixArgs, ...this.agentArgs(node)],
        { stdio: ['ignore', log, log], env: process.env },
      );
      node.child = child;
      node.state = 'running';
      child.once('exit', () => {
        if (node.child !== child) return;
        this.clearResume(node);
        node.child = undefined;
        node.state = 'killed';
      });
      child.once('error', () => undefined);
    } finally {
      closeSync(log);
    }
  }

  private resume(node: DemoNode, child: ChildProcess): void {
    node.resumeTimer = undefined;
    if (node.child !== child || node.state !== 'paused') return;
    child.kill('SIGCONT');
    node.state = 'running';
  }

  private clearResume(node: DemoNode): void {
    if (node.resumeTimer !== undefined) clearTimeout(node.resumeTimer);
    node.resumeTimer = undefined;
  }

  /** Resolves true once the node's process has exited (or none is running), false after `timeoutMs`. */
  private async waitExited(node: DemoNode, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (node.child !== undefined) {
      if (Date.now() > deadline) return false;
      await sleep(20);
    }
    return true;
  }

  private async waitReady(node: DemoNode): Promise<void> {
    const deadline = Date.now() + AGENT_READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (node.child === undefined)
        throw new ShoalError(
          'ERR_AGENT_UNREACHABLE',
          `agent ${node.name} exited during start; its log (${node.logFile}) ends with:\n${this.logTail(node)}`,
        );
      try {
        const res = await fetch(`http://${node.http}/v1/health`, {
          signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS),
        });
        if (res.ok) return;
      } catch {
        // Not listening yet: poll again until the deadline.
      }
      await sleep(HEALTH_POLL_MS);
    }
    throw new ShoalError(
      'ERR_AGENT_UNREACHABLE',
      `agent ${node.name} did not answer http://${node.http}/v1/health within ${AGENT_READY_TIMEOUT_MS} ms; log ${node.logFile}:\n${this.logTail(node)}`,
    );
  }

  private logTail(node: DemoNode): string {
    try {
      return readFileSync(node.logFile, 'utf8').slice(-LOG_TAIL_CHARS);
    } catch {
      return '(no log)';
    }
  }
}
