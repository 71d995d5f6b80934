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
 * `fsyncDelayMs` (Shoal only) starts the agents with `--fsync-delay-ms`, the agent's
 * benchmark-only setting that holds back every durable completion of its FsStorage that long.
 */
import { EtcdCluster, etcdClient, etcdVersion } from './lib-etcd.js';
import type { ClusterSettings, KvClient, KvSystem } from './lib-load.js';
import { ShoalCluster } from './lib-shoal.js';

/** Bound on one metrics or status request. */
const REQUEST_TIMEOUT_MS = 2_000;

export interface DiskCounters {
  /** Log entries the member has (committed index: every appended entry is committed in a run). */
  readonly entries: number;
  /** fdatasyncs of log batches so far. */
  readonly fsyncs: number;
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

/** etcd 3.4 as a RaftSystem. */
export function etcdRaftSystem(): RaftSystem {
  let cluster: EtcdCluster | undefined;
  const name = `etcd ${etcdVersion() ?? '(not installed)'}`;
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
      cluster = new EtcdCluster(settings);
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
    async snapshotsReceived(index) {
      const text = await metrics(index);
      return text === undefined
        ? undefined
        : (metric(text, 'etcd_network_snapshot_receive_success') ?? 0);
    },
  };
}

interface RaftAnswer {
  commitIndex?: number;
  appliedIndex?: number;
}

/** Shoal's `raft` mode as a RaftSystem; `fsyncDelayMs` > 0 models a slower disk. */
export function shoalRaftSystem(
  options: { fsyncDelayMs?: number; nodeArgs?: readonly string[] } = {},
): RaftSystem {
  let cluster: ShoalCluster | undefined;
  const delayMs = options.fsyncDelayMs ?? 0;
  const name = delayMs === 0 ? 'shoal raft' : `shoal raft, fsync +${delayMs} ms`;
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
        ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
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
    if (n === 'shoal') return shoalRaftSystem();
    throw new Error(`unknown system ${JSON.stringify(n)}; known: etcd, shoal`);
  });
}
