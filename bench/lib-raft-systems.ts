/**
 * The two replicated stores the Raft benches compare (issues 13 and 14), behind one interface:
 * etcd 3.4 (lib-etcd.ts's EtcdCluster) and Shoal's `raft` mode (lib-shoal.ts's ShoalCluster),
 * each a fresh 3-member cluster of real processes on loopback, driven through the same `etcd3`
 * client. A `RaftSystem` is a KvSystem (lib-load.ts: start, stop, PIDs, kill -9, restart, a
 * pinned client) plus what the benches read from outside the process, the same way for both:
 *
 * - `endpoint(i)`: member i's etcd v3 gRPC endpoint (for the raw etcd3 client: serializable
 *   reads, txns, watches);
 * - `disk(i)`: member i's log entries and fsyncs so far, for entries per fsync (etcd: its
 *   /metrics `etcd_server_proposals_committed_total` and `etcd_disk_wal_fsync_duration_seconds_count`;
 *   Shoal: `commitIndex` from /v1/raft and `shoal_durable_writes_total{protocol="raft"}` from
 *   /metrics, one durable write per WAL batch, one fdatasync each);
 * - `appliedIndex(i)`: how far member i has applied (etcd: `etcd_server_proposals_applied_total`;
 *   Shoal: /v1/raft `appliedIndex`), for catch-up;
 * - `snapshotsReceived(i)`: snapshots member i installed from a leader (etcd:
 *   `etcd_network_snapshot_receive_success`, per sender, one leader here; Shoal: the Raft core's
 *   `snapshotsInstalled` counter in /v1/stats).
 *
 * Shoal's agents run from the compiled JavaScript (`node dist/cli/shoal.js`), built once per bench
 * process by `agentBuild()` when dist/ is missing or older than src/ (`npm run build`); if the build
 * fails they run from source through tsx and the bench prints why. Starting through tsx took
 * 6-9 s on this loaded machine, most of Shoal's catch-up time (docs/benchmarks.md);
 * `BENCH_AGENT_FROM=source` forces the old way, for comparison.
 *
 * `fsyncDelayMs` (Shoal only) starts the agents with `--fsync-delay-ms`, the agent's
 * benchmark-only setting that holds back every durable completion of its FsStorage that long.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdCluster, etcdClient, etcdVersion } from './lib-etcd.js';
import type { ClusterSettings, KvClient, KvSystem } from './lib-load.js';
import { ShoalCluster } from './lib-shoal.js';

/** Bound on one metrics or status request. */
const REQUEST_TIMEOUT_MS = 2_000;
/** Bound on `npm run build` (tsc over the whole tree: about 45 s at load 1 on this machine). */
const BUILD_TIMEOUT_MS = 600_000;
/** Environment variable that forces agents from source (`source`) or dist (`dist`). */
export const AGENT_FROM_ENV = 'BENCH_AGENT_FROM';

const REPO = fileURLToPath(new URL('../', import.meta.url));

export interface DiskCounters {
  /** Log entries the member has (committed index: every appended entry is committed in a run). */
  readonly entries: number;
  /** fdatasyncs of log batches so far. */
  readonly fsyncs: number;
}

/** What one member says about its Raft state, polled from outside during a failover. */
export interface RaftView {
  /** The member leads (etcd: its status names itself; Shoal: role `leader`). */
  readonly leads: boolean;
  readonly term: number;
  /** Committed index (etcd: status `raftIndex`; Shoal: /v1/raft `commitIndex`). */
  readonly commitIndex: number;
  /** Shoal's Raft counters (/v1/stats): PreVotes and elections started, proposals accepted. */
  readonly preVotes?: number;
  readonly elections?: number;
  readonly proposals?: number;
}

/** An election step a member logged (etcd's raft log lines), wall-clock ms since the epoch. */
export interface ElectionEvent {
  readonly kind: 'pre-candidate' | 'candidate' | 'leader';
  readonly atMs: number;
}

export interface RaftSystem extends KvSystem {
  readonly kind: 'etcd' | 'shoal';
  readonly size: number;
  endpoint(index: number): string;
  /** The leader a majority of members names, or undefined. */
  leader(): Promise<number | undefined>;
  disk(index: number): Promise<DiskCounters | undefined>;
  appliedIndex(index: number): Promise<number | undefined>;
  /** Snapshots member `index` received from a leader and installed since it started. */
  snapshotsReceived(index: number): Promise<number | undefined>;
  raftView(index: number): Promise<RaftView | undefined>;
  /** Election steps member `index` logged at or after `sinceMs` (wall clock); Shoal logs none. */
  electionEvents(index: number, sinceMs: number): ElectionEvent[];
}

const ETCD_ELECTION_LINES: ReadonlyArray<[RegExp, ElectionEvent['kind']]> = [
  [/became pre-candidate at term/, 'pre-candidate'],
  [/became candidate at term/, 'candidate'],
  [/became leader at term/, 'leader'],
];

/** etcd's raft role changes in its zap log (`{"ts":"…Z",…,"msg":"… became leader at term 5"}`). */
export function parseEtcdElectionLog(text: string, sinceMs: number): ElectionEvent[] {
  const events: ElectionEvent[] = [];
  for (const line of text.split('\n')) {
    const match = ETCD_ELECTION_LINES.find(([pattern]) => pattern.test(line));
    const ts = /"ts":"([^"]+)"/.exec(line)?.[1];
    if (match === undefined || ts === undefined) continue;
    const atMs = Date.parse(ts);
    if (Number.isFinite(atMs) && atMs >= sinceMs) events.push({ kind: match[1], atMs });
  }
  return events;
}

async function etcdRaftView(endpoint: string): Promise<RaftView | undefined> {
  try {
    const response = await fetch(`${endpoint}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!response.ok) return undefined;
    const json = (await response.json()) as {
      header?: { member_id?: string };
      leader?: string;
      raftIndex?: string;
      raftTerm?: string;
    };
    return {
      leads: json.leader !== undefined && json.leader === json.header?.member_id,
      term: Number(json.raftTerm ?? 0),
      commitIndex: Number(json.raftIndex ?? 0),
    };
  } catch {
    return undefined;
  }
}

async function getText(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The value of the first Prometheus sample named `name` (labels in `labels` must match), or undefined. */
export function metric(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

function requireStarted<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`${name}: start() first`);
  return value;
}

/**
 * etcd 3.4 as a RaftSystem; `preVote` runs it with `--pre-vote` (3.4's default is off; Shoal
 * always runs PreVote), a control for the failover bench.
 */
export function etcdRaftSystem(options: { preVote?: boolean } = {}): RaftSystem {
  let cluster: EtcdCluster | undefined;
  const preVote = options.preVote === true;
  const name = `etcd ${etcdVersion() ?? '(not installed)'}${preVote ? ' --pre-vote' : ''}`;
  const running = (): EtcdCluster => requireStarted(cluster, name);
  const metrics = async (index: number): Promise<string | undefined> =>
    getText(`${running().endpoint(index)}/metrics`);
  return {
    kind: 'etcd',
    name,
    get size() {
      return running().size;
    },
    async start(settings: ClusterSettings) {
      cluster = new EtcdCluster(settings, undefined, preVote ? ['--pre-vote'] : []);
      try {
        await cluster.start();
      } catch (err) {
        await cluster.stop();
        cluster = undefined;
        throw err;
      }
    },
    async stop() {
      await cluster?.stop();
      cluster = undefined;
    },
    endpoint: (index) => running().endpoint(index),
    pids: () => running().pids(),
    leaderViews: () => running().leaderViews(),
    leader: () => running().leader(),
    kill: (index) => running().kill(index),
    restart: (index) => running().restart(index),
    client: async (members): Promise<KvClient> =>
      etcdClient(members.map((i) => running().endpoint(i))),
    async disk(index) {
      const text = await metrics(index);
      if (text === undefined) return undefined;
      const entries = metric(text, 'etcd_server_proposals_committed_total');
      const fsyncs = metric(text, 'etcd_disk_wal_fsync_duration_seconds_count');
      return entries === undefined || fsyncs === undefined ? undefined : { entries, fsyncs };
    },
    async appliedIndex(index) {
      const text = await metrics(index);
      return text === undefined ? undefined : metric(text, 'etcd_server_proposals_applied_total');
    },
    raftView: (index) => etcdRaftView(running().endpoint(index)),
    electionEvents(index, sinceMs) {
      try {
        return parseEtcdElectionLog(readFileSync(running().logFile(index), 'utf8'), sinceMs);
      } catch {
        return [];
      }
    },
    async snapshotsReceived(index) {
      const text = await metrics(index);
      return text === undefined
        ? undefined
        : (metric(text, 'etcd_network_snapshot_receive_success') ?? 0);
    },
  };
}

interface RaftAnswer {
  role?: string;
  term?: number;
  commitIndex?: number;
  appliedIndex?: number;
}

/** How Shoal's agents start in this bench process, and a line saying why, for the report. */
export interface AgentBuild {
  readonly from: 'source' | 'dist';
  readonly note: string;
}

let agentBuilt: AgentBuild | undefined;

/** The newest modification time (ms) of any file under `dir`, 0 when it has none. */
function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function builtAtMs(): number | undefined {
  try {
    return statSync(join(REPO, 'dist/cli/shoal.js')).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure dist/ holds the agent built from the current src/ (runs `npm run build` when
 * dist/cli/shoal.js is missing or older than the newest file under src/), once per process.
 * Falls back to running the agents from source through tsx, saying why, when the build fails.
 */
export function agentBuild(): AgentBuild {
  if (agentBuilt !== undefined) return agentBuilt;
  const forced = process.env[AGENT_FROM_ENV];
  const builtMs = builtAtMs();
  if (forced === 'dist' && (builtMs === undefined || builtMs < newestMtimeMs(join(REPO, 'src')))) {
    // Forcing dist/ is for comparing an older build on purpose; say so, loudly, in the table.
    process.stderr.write(`bench: ${AGENT_FROM_ENV}=dist but dist/ is older than src/\n`);
    return (agentBuilt = {
      from: 'dist',
      note: `agents from dist (${AGENT_FROM_ENV}), OLDER than src/: not this checkout's code`,
    });
  }
  if (forced === 'source' || forced === 'dist')
    return (agentBuilt = { from: forced, note: `agents from ${forced} (${AGENT_FROM_ENV})` });
  if (builtMs !== undefined && builtMs >= newestMtimeMs(join(REPO, 'src')))
    return (agentBuilt = { from: 'dist', note: 'agents from dist/ (built, up to date)' });
  process.stderr.write('bench: dist/ is older than src/: npm run build\n');
  try {
    execFileSync('npm', ['run', 'build'], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: BUILD_TIMEOUT_MS,
    });
    return (agentBuilt = { from: 'dist', note: 'agents from dist/ (npm run build in this run)' });
  } catch (err) {
    const why = String(err).split('\n')[0] ?? '';
    process.stderr.write(`bench: npm run build failed (${why}); agents run from source\n`);
    return (agentBuilt = {
      from: 'source',
      note: `agents from source through tsx: npm run build failed (${why})`,
    });
  }
}

/** Shoal's `raft` mode as a RaftSystem; `fsyncDelayMs` > 0 models a slower disk. */
export function shoalRaftSystem(
  options: {
    fsyncDelayMs?: number;
    nodeArgs?: readonly string[];
    /** `--grpc-stack grpc-js`: the etcd endpoint on @grpc/grpc-js instead of Shoal's server. */
    grpcJs?: boolean;
  } = {},
): RaftSystem {
  let cluster: ShoalCluster | undefined;
  const delayMs = options.fsyncDelayMs ?? 0;
  const agentFrom = (): 'source' | 'dist' => agentBuild().from;
  const name =
    (delayMs === 0 ? 'shoal raft' : `shoal raft, fsync +${delayMs} ms`) +
    (options.grpcJs === true ? ', grpc-js' : '');
  const running = (): ShoalCluster => requireStarted(cluster, name);
  const raft = async (index: number): Promise<RaftAnswer | undefined> => {
    if (!running().running(index)) return undefined;
    const text = await getText(`http://${running().http(index)}/v1/raft`);
    return text === undefined ? undefined : (JSON.parse(text) as RaftAnswer);
  };
  return {
    kind: 'shoal',
    name,
    get size() {
      return running().size;
    },
    async start(settings: ClusterSettings) {
      cluster = new ShoalCluster({
        ...settings,
        fsyncDelayMs: delayMs,
        agentFrom: agentFrom(),
        ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
        ...(options.grpcJs === true ? { agentArgs: ['--grpc-stack', 'grpc-js'] } : {}),
      });
      try {
        await cluster.start();
      } catch (err) {
        await cluster.stop();
        cluster = undefined;
        throw err;
      }
    },
    async stop() {
      await cluster?.stop();
      cluster = undefined;
    },
    endpoint: (index) => running().endpoint(index),
    pids: () => running().pids(),
    leaderViews: () => running().leaderViews(),
    leader: () => running().leader(),
    kill: (index) => running().kill(index),
    restart: (index) => running().restart(index),
    client: async (members): Promise<KvClient> =>
      etcdClient(members.map((i) => running().endpoint(i))),
    async disk(index) {
      const [text, status] = [
        await getText(`http://${running().http(index)}/metrics`),
        await raft(index),
      ];
      if (text === undefined || status?.commitIndex === undefined) return undefined;
      const fsyncs = metric(text, 'shoal_durable_writes_total', 'protocol="raft"');
      return fsyncs === undefined ? undefined : { entries: status.commitIndex, fsyncs };
    },
    async appliedIndex(index) {
      return (await raft(index))?.appliedIndex;
    },
    async raftView(index) {
      const [status, stats] = await Promise.all([
        raft(index),
        getText(`http://${running().http(index)}/v1/stats`),
      ]);
      if (status?.term === undefined || status.commitIndex === undefined || stats === undefined)
        return undefined;
      const counters = (JSON.parse(stats) as { protocol?: Record<string, number> }).protocol ?? {};
      return {
        leads: status.role === 'leader',
        term: status.term,
        commitIndex: status.commitIndex,
        preVotes: counters['preVotesStarted'] ?? 0,
        elections: counters['electionsStarted'] ?? 0,
        proposals: counters['proposalsAccepted'] ?? 0,
      };
    },
    electionEvents: () => [],
    async snapshotsReceived(index) {
      if (!running().running(index)) return undefined;
      const text = await getText(`http://${running().http(index)}/v1/stats`);
      if (text === undefined) return undefined;
      return (JSON.parse(text) as { protocol?: Record<string, number> }).protocol?.[
        'snapshotsInstalled'
      ];
    },
  };
}

/** The systems by name, for the benches' `--systems etcd,shoal` flag. */
export function raftSystems(names: readonly string[]): RaftSystem[] {
  return names.map((n) => {
    if (n === 'etcd') return etcdRaftSystem();
    if (n === 'etcd-prevote') return etcdRaftSystem({ preVote: true });
    if (n === 'shoal') return shoalRaftSystem();
    if (n === 'shoal-grpcjs') return shoalRaftSystem({ grpcJs: true });
    throw new Error(
      `unknown system ${JSON.stringify(n)}; known: etcd, etcd-prevote, shoal, shoal-grpcjs`,
    );
  });
}

/** `report` with a line saying how Shoal's agents were started, when Shoal ran. */
export function withAgentNote(report: string, systems: readonly RaftSystem[]): string {
  return systems.some((s) => s.kind === 'shoal')
    ? `${report}\nShoal: ${agentBuild().note}.`
    : report;
}
