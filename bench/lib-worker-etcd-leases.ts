/**
 * The alternative a user would pick for worker liveness (issue 15's comparison): one etcd lease
 * per worker, kept alive at the same rate as the tier's heartbeats, against a fresh three-member
 * etcd 3.4 cluster on loopback (bench/lib-etcd.ts), through the `etcd3` npm client.
 *
 * - grant: N leases with a TTL above the keep-alive interval (each grant is a Raft entry in
 *   etcd), LEASE_GRANTS_IN_FLIGHT at a time; time to grant all;
 * - steady state: a keep-alive for every lease in turn at `ratePerSecond` (one 100 ms tick sends
 *   its share), on one LeaseKeepAlive stream per client (as Go's clientv3 multiplexes its
 *   leases), CLIENTS etcd3 clients; over each window: keep-alives/s
 *   answered, errors, the etcd leader's CPU from procfs (% of one core, µs per keep-alive), and
 *   the Raft index growth (etcd forwards a follower's keep-alive to the leader; the renewal
 *   itself is not a Raft entry, a checkpoint may be).
 *
 * Differences from the tier that the numbers carry: N leases share CLIENTS gRPC channels without
 * TLS, where the tier's N workers each hold an mTLS channel of their own; etcd's leases have no
 * certificates, tokens, assignments or adaptive TTL.
 */
import type { Etcd3 } from 'etcd3';
import { EtcdCluster, etcd3Client, etcdVersion } from './lib-etcd.js';
import { processCpuMs } from './lib-procfs.js';
import { fmt, sleep } from './lib-report.js';

const CLIENTS = 8;
const LEASE_GRANTS_IN_FLIGHT = 64;
const TICK_MS = 100;
/** Bound on granting every lease. */
const GRANT_TIMEOUT_MS = 900_000;

export interface EtcdLeaseResult {
  version: string;
  leases: number;
  grantSeconds: number;
  grantErrors: number;
  ttlSeconds: number;
  windows: {
    seconds: number;
    keepalivesPerSecond: number;
    errors: number;
    leaderCpuPercent: number;
    cpuUsPerKeepalive: number;
    raftIndexDelta: number;
  }[];
}

async function raftIndex(cluster: EtcdCluster, leader: number): Promise<number> {
  try {
    const res = await fetch(`${cluster.endpoint(leader)}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(2_000),
    });
    const json = (await res.json()) as { raftIndex?: string };
    return Number(json.raftIndex ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/** Runs the comparison; undefined when etcd is not installed. */
export async function etcdLeases(
  n: number,
  ratePerSecond: number,
  windows: number,
  windowMs: number,
): Promise<EtcdLeaseResult | undefined> {
  const version = etcdVersion();
  if (version === undefined) return undefined;
  const cluster = new EtcdCluster({ members: 3, heartbeatMs: 100, electionMs: 1000 });
  const clients: Etcd3[] = [];
  try {
    await cluster.start();
    const hosts = [0, 1, 2].map((i) => cluster.endpoint(i));
    for (let i = 0; i < CLIENTS; i++) clients.push(etcd3Client(hosts));
    // Every lease renewed once per n / rate seconds; the TTL leaves that twice over plus 10 s.
    const intervalS = n / ratePerSecond;
    const ttlSeconds = Math.ceil(2 * intervalS + 10);
    const leases: { client: number; id: string }[] = [];
    let grantErrors = 0;
    const grant0 = Date.now();
    for (let i = 0; i < n && Date.now() - grant0 < GRANT_TIMEOUT_MS; i += LEASE_GRANTS_IN_FLIGHT) {
      await Promise.all(
        Array.from({ length: Math.min(LEASE_GRANTS_IN_FLIGHT, n - i) }, async (_, j) => {
          const client = (i + j) % CLIENTS;
          try {
            const lease = (clients[client] as Etcd3).lease(ttlSeconds, { autoKeepAlive: false });
            leases.push({ client, id: await lease.grant() });
          } catch {
            grantErrors++;
          }
        }),
      );
    }
    const grantSeconds = (Date.now() - grant0) / 1000;
    const views = await cluster.leaderViews();
    const leader = views.find((v) => v !== undefined) ?? 0;
    const pid = cluster.pid(leader) ?? 0;
    let answered = 0;
    let errors = 0;
    let next = 0;
    let owed = 0;
    // One keep-alive stream per client carries all its leases, as Go's clientv3 does.
    const streams = await Promise.all(
      clients.map(async (client) => {
        const stream = await client.leaseClient.leaseKeepAlive();
        stream.on('data', () => answered++);
        stream.on('error', () => errors++);
        return stream;
      }),
    );
    // One timer for all leases: each tick sends rate·tick of them, round-robin.
    const timer = setInterval(() => {
      owed += (ratePerSecond * TICK_MS) / 1000;
      for (; owed >= 1 && leases.length > 0; owed--) {
        const lease = leases[next++ % leases.length] as { client: number; id: string };
        streams[lease.client]?.write({ ID: lease.id });
      }
    }, TICK_MS);
    const result: EtcdLeaseResult = {
      version,
      leases: leases.length,
      grantSeconds,
      grantErrors,
      ttlSeconds,
      windows: [],
    };
    try {
      await sleep(2 * TICK_MS);
      for (let w = 0; w < windows; w++) {
        const a0 = answered;
        const e0 = errors;
        const cpu0 = processCpuMs(pid) ?? 0;
        const index0 = await raftIndex(cluster, leader);
        const t0 = Date.now();
        await sleep(windowMs);
        const seconds = (Date.now() - t0) / 1000;
        const cpuMs = (processCpuMs(pid) ?? 0) - cpu0;
        const beats = answered - a0;
        result.windows.push({
          seconds,
          keepalivesPerSecond: beats / seconds,
          errors: errors - e0,
          leaderCpuPercent: (cpuMs / (seconds * 1000)) * 100,
          cpuUsPerKeepalive: (cpuMs * 1000) / Math.max(1, beats),
          raftIndexDelta: (await raftIndex(cluster, leader)) - index0,
        });
      }
    } finally {
      clearInterval(timer);
      for (const stream of streams) stream.end();
    }
    return result;
  } finally {
    for (const c of clients) c.close();
    await cluster.stop();
  }
}

/** The comparison's rows for the bench's table. */
export function etcdLeaseRows(r: EtcdLeaseResult | undefined, n: number): string[][] {
  if (r === undefined) return [['etcd leases', 'etcd is not installed: not compared']];
  return [
    [
      `etcd ${r.version} leases: grant`,
      `${r.leases} of ${n} leases granted in ${fmt(r.grantSeconds, 1)} s (${fmt(r.leases / r.grantSeconds)}/s, one Raft entry each), ${r.grantErrors} errors, TTL ${r.ttlSeconds} s, ${CLIENTS} etcd3 clients over 3 members`,
    ],
    ...r.windows.map((w, i) => [
      `etcd window ${i + 1} (${fmt(w.seconds)} s)`,
      `${fmt(w.keepalivesPerSecond, 1)} keep-alives/s, leader CPU ${fmt(w.leaderCpuPercent, 2)} % of a core (${fmt(w.cpuUsPerKeepalive)} µs per keep-alive), Raft index +${w.raftIndexDelta}, ${w.errors} errors`,
    ]),
  ];
}
