/**
 * The worker tier at scale (issue 15). The servers: one worker-server process over the KvService
 * test double (default), or with `--raft` three worker-server processes over real Raft on
 * loopback (bench/lib-worker-raft-child.ts). The load: N workers, each with its own Ed25519 key,
 * CSR, certificate and gRPC channel over mTLS, spread over `--procs` load-generator processes
 * (default 8; bench/lib-worker-load-child.ts), each on its own event loop, so one starved loop
 * no longer sets the pace. Measured:
 *
 * - registration storm: N workers register at once with one token (N uses) and a CSR each;
 *   time from spawning the load processes until all hold a certificate, registrations/s;
 * - steady state: heartbeats/s at the servers over 1-minute windows, after a warm-up of
 *   2·base + grace (every worker on its own staggered phase), at the defaults of the issue;
 * - the server's (leader's) CPU (% of one core) over the same windows, from procfs, and the
 *   load generator's CPU beside it;
 * - the leader's heap per worker after a forced GC (sockets' native memory is in RSS, reported
 *   apart), and store writes (Raft entries) per heartbeat (the goal is 0);
 * - `--state-heap N`: the tier's own state per worker apart from sockets, in this process
 *   (bench/lib-worker-state-heap.ts);
 * - `--etcd`: the same N clients' leases kept alive at the same rate against etcd on loopback
 *   (bench/lib-worker-etcd-leases.ts): etcd's CPU per keep-alive beside Shoal's per heartbeat;
 *   `--etcd-only` runs that alone, at the TTL formula's mean rate for N.
 *
 * - `--raft`: the leader's WAL fdatasyncs in the storm (registrations per fsync: group commit),
 *   and after the windows a leader failover: SIGKILL of the Raft leader, time to a new tier
 *   leader and until the watches and long-polls are back, false downs until the failover TTL
 *   plus grace has passed (`--failover-watch-s`, `--no-failover`). The workers keep a warm
 *   standby channel to their next server (`--no-standby`: not, as before, for a before/after).
 *
 * The storm is paced (bench/lib-worker-load-child.ts): keys are made before it starts, and each
 * load process keeps at most a window of registrations in flight (`--window` 8 to start,
 * `--window-max` 64), halved on failures; `--call-timeout-s` (20) is the workers' call deadline.
 *
 * `npx tsx bench/worker-heartbeats.ts --workers 3000 --raft --procs 4 --windows 2 --etcd`.
 * `--rate` sets maxHeartbeatsPerSecond, `--storm-only` stops after the storm, `--warmup-s`
 * overrides the warm-up (2·base + grace).
 */
import { loadavg } from 'node:os';
import {
  failoverHeartbeatTtlMsFor,
  heartbeatTtlBaseMsFor,
  workerServerConfig,
  type WorkerServerSettings,
} from '../src/worker/core/config.js';
import { processCpuMs } from './lib-procfs.js';
import { fmt, isMain, parseFlags, table } from './lib-report.js';
import {
  spawnWorkerRaftCluster,
  type RaftServerChild,
  type RaftServerStats,
} from './lib-worker-raft-child.js';
import { spawnWorkerServer } from './lib-worker-server-child.js';
import { measureStateHeap } from './lib-worker-state-heap.js';
import { etcdLeaseRows, etcdLeases } from './lib-worker-etcd-leases.js';
import { spawnWorkerLoad, type LoadStats, type WorkerLoadChild } from './lib-worker-load-child.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a run needs from the servers, one process over the double or three over Raft. */
interface Servers {
  addresses: string[];
  token: string;
  /** The process whose CPU and heap are measured: the only one, or the Raft leader. */
  pid(): number;
  /** Heartbeats taken, store writes (double) or Raft commit index (raft), down workers, heap, CPU. */
  sample(): Promise<{
    heartbeats: number;
    writes: number;
    down: number;
    registrations: number;
    busy: number;
    cpuMs: number;
    /** Every server process's CPU together (raft: the three), ms. */
    cpuMsAll?: number;
    heapUsedBytes: number;
    rssBytes: number;
    /** The measured process's WAL fdatasyncs and the entries they held (raft only). */
    walSyncs?: number;
    walEntries?: number;
    /** What the writes were (the double: by key kind). */
    detail?: string;
    /** Registrations refused, by reason, summed over the servers. */
    refused?: Record<string, number>;
  }>;
  /** Raft only: SIGKILLs the leader and follows the survivors (failoverRows). */
  failover?(n: number, watchMs: number): Promise<string[][]>;
  stop(): Promise<void>;
  readonly label: string;
  readonly writesLabel: string;
}

async function doubleServers(settings: WorkerServerSettings, n: number, cpuProf?: string) {
  const server = await spawnWorkerServer(settings, n, cpuProf);
  const servers: Servers = {
    addresses: [server.address],
    token: server.token,
    pid: () => server.pid,
    sample: async () => {
      const s = await server.stats();
      return {
        heartbeats: s.stats['heartbeats'] ?? 0,
        writes: s.storeWrites,
        down: s.stats['workers_down'] ?? 0,
        registrations: s.stats['registrations'] ?? 0,
        busy: s.stats['refused_busy'] ?? 0,
        cpuMs: s.cpuMs,
        heapUsedBytes: s.heapUsedBytes,
        rssBytes: s.rssBytes,
        detail: JSON.stringify(s.writesByKind),
      };
    },
    stop: () => server.stop(),
    label: 'one server over the KvService double',
    writesLabel: 'store writes',
  };
  return servers;
}

async function raftServers(settings: WorkerServerSettings, n: number): Promise<Servers> {
  const children = await spawnWorkerRaftCluster(settings);
  let leader: RaftServerChild | undefined;
  const findLeader = async (): Promise<RaftServerChild> => {
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      for (const c of children) if ((await c.stats()).leading) return c;
      await sleep(200);
    }
    throw new Error('no worker-server leads after 60 s');
  };
  leader = await findLeader();
  // Every server's CA is published before the token pins them.
  const t0 = Date.now();
  while ((await leader.stats()).servers < children.length && Date.now() - t0 < 60_000)
    await sleep(200);
  const answer = JSON.parse(await leader.request(`token ${n}`)) as {
    token?: string;
    error?: string;
  };
  const token = answer.token;
  if (token === undefined) throw new Error(`no token from the leader: ${answer.error}`);
  return {
    addresses: children.map((c) => c.address),
    token,
    pid: () => (leader as RaftServerChild).pid,
    sample: async () => {
      const all = await Promise.all(children.map((c) => c.stats()));
      const lead = all.find((s) => s.leading) ?? all[0];
      leader = children[all.indexOf(lead as RaftServerStats)] ?? leader;
      const sum = (key: string) => all.reduce((a, s) => a + (s.stats[key] ?? 0), 0);
      return {
        heartbeats: sum('heartbeats'),
        writes: lead?.commitIndex ?? 0,
        down: lead?.stats['workers_down'] ?? 0,
        registrations: sum('registrations'),
        busy: sum('refused_busy'),
        cpuMs: lead?.cpuMs ?? 0,
        cpuMsAll: all.reduce((a, s) => a + s.cpuMs, 0),
        heapUsedBytes: lead?.heapUsedBytes ?? 0,
        rssBytes: lead?.rssBytes ?? 0,
        walSyncs: lead?.walSyncs ?? 0,
        walEntries: lead?.walEntries ?? 0,
        refused: Object.fromEntries(
          [...new Set(all.flatMap((s) => Object.keys(s.stats)))]
            .filter((k) => k.startsWith('refused_'))
            .map((k) => [k.slice('refused_'.length), sum(k)]),
        ),
      };
    },
    failover: async (n, watchMs) => {
      const rows = await failoverRows(children, n, watchMs);
      return rows;
    },
    stop: async () => {
      await Promise.all(children.map((c) => c.stop()));
    },
    label: 'three worker-server processes over Raft (workers spread over all three)',
    writesLabel: 'Raft entries committed',
  };
}

/** Raft's LAN election timeout bounds (src/raft/config.ts, the `local` profile's), ms. */
const ELECTION_TIMEOUT_MAX_MS = 2_000;
/** How often the survivors are polled during a failover, ms. */
const FAILOVER_POLL_MS = 250;

const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/**
 * Leader failover at N live workers: SIGKILLs the Raft leader, then polls the two survivors
 * (without forced GCs) for a new leader, for the workers' assignment watches and long-polls
 * (the hubs' subscribers) back to their count before the kill, and for workers marked down
 * (false downs: every worker is alive) until `watchMs` after the kill, which should cover the
 * new leader's failover TTL plus grace (a worker it never hears from is down only after that).
 */
async function failoverRows(
  children: RaftServerChild[],
  n: number,
  watchMs: number,
): Promise<string[][]> {
  // A starved cluster may be between leaders: wait (bounded) for one to kill.
  let before = await Promise.all(children.map((c) => c.peek()));
  for (let i = 0; i < 60 && !before.some((s) => s.leading); i++) {
    await sleep(FAILOVER_POLL_MS * 2);
    before = await Promise.all(children.map((c) => c.peek()));
  }
  const subscribersBefore = before.reduce((a, s) => a + (s.stats['subscribers'] ?? 0), 0);
  const downBefore = before.find((s) => s.leading)?.stats['workers_down'] ?? 0;
  const victim = children[before.findIndex((s) => s.leading)];
  if (victim === undefined) return [['leader failover', 'no leader to kill within 30 s']];
  const survivors = children.filter((c) => c !== victim);
  const t0 = Date.now();
  await victim.kill();
  let leaderMs: number | undefined;
  let watchesMs: number | undefined;
  let downMax = 0;
  let subscribersMin = Infinity;
  /** [ms after the kill, subscribers on the survivors] at every change (stderr). */
  const timeline: [number, number][] = [];
  let last: RaftServerStats[] = [];
  while (Date.now() - t0 < watchMs) {
    await sleep(FAILOVER_POLL_MS);
    last = await Promise.all(survivors.map((c) => c.peek()));
    const at = Date.now() - t0;
    const lead = last.find((s) => s.leading);
    if (lead !== undefined) {
      leaderMs ??= at;
      downMax = Math.max(downMax, (lead.stats['workers_down'] ?? 0) - downBefore);
    }
    const subscribers = last.reduce((a, s) => a + (s.stats['subscribers'] ?? 0), 0);
    subscribersMin = Math.min(subscribersMin, subscribers);
    if (subscribers !== timeline.at(-1)?.[1]) timeline.push([at, subscribers]);
    if (watchesMs === undefined && subscribers >= subscribersBefore) watchesMs = at;
  }
  process.stderr.write(
    `failover subscribers: ${timeline.map(([at, k]) => `${fmt(at)} ms ${k}`).join(', ')}\n`,
  );
  const lead = last.find((s) => s.leading);
  const fmtMs = (ms: number | undefined): string => (ms === undefined ? 'never' : `${fmt(ms)} ms`);
  return [
    [
      'leader failover (SIGKILL of the Raft leader)',
      `new tier leader after ${fmtMs(leaderMs)}; watches and long-polls back to ${subscribersBefore} (before the kill; fewest after ${subscribersMin === Infinity ? '?' : subscribersMin}) after ${fmtMs(watchesMs)} (two election timeouts: ${2 * ELECTION_TIMEOUT_MAX_MS} ms); load average ${loadAverage()}`,
    ],
    [
      `false downs over ${fmt(watchMs / 1000)} s after the kill`,
      `${downMax} at most (${(lead?.stats['workers_down'] ?? 0) - downBefore} at the end), ${lead?.stats['workers_registered'] ?? '?'} registered at the new leader of ${n}, its stalls ${lead?.stats['stalls'] ?? '?'}`,
    ],
  ];
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  const n = Number(flags.get('workers') ?? 10_000);
  const windows = Number(flags.get('windows') ?? 3);
  const rate = Number(flags.get('rate') ?? 50);
  const windowMs = Number(flags.get('window-s') ?? 60) * 1000;
  const settings: WorkerServerSettings = { maxHeartbeatsPerSecond: rate };
  const config = workerServerConfig(settings);
  const stormOnly = flags.get('storm-only') === 'true';
  const stateRows: string[][] = [];
  if (flags.get('state-heap') === 'true' || flags.get('state-only') === 'true') {
    const h = await measureStateHeap(n);
    stateRows.push([
      `tier state per worker, ${h.workers} synthetic workers in-process (heap after GC)`,
      `view ${fmt(h.viewBytesPerWorker)} B + liveness tracker ${fmt(h.trackerBytesPerWorker)} B = ${fmt(h.viewBytesPerWorker + h.trackerBytesPerWorker)} B (the tier's own); the replicated store's 3 keys ${fmt(h.storeBytesPerWorker)} B (Raft's state machine, on every server); ${h.viewWorkers} in the view, ${h.trackedWorkers} tracked, ${h.heartbeats} heartbeats; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    ]);
    if (flags.get('state-only') === 'true')
      return table(['measure', `${n} workers, tier state in-process`], stateRows);
  }
  if (flags.get('etcd-only') === 'true') {
    const base = heartbeatTtlBaseMsFor(n, config);
    const rate = n / ((1.5 * base) / 1000);
    return table(
      ['measure', `${n} etcd leases kept alive at the tier's mean heartbeat rate for N`],
      [
        ...stateRows,
        ['etcd keep-alive rate', `${fmt(rate, 1)}/s (the TTL formula's mean for N: N / 1.5·base)`],
        ...etcdLeaseRows(await etcdLeases(n, rate, windows, windowMs), n),
      ],
    );
  }
  const servers =
    flags.get('raft') === 'true'
      ? await raftServers(settings, n)
      : await doubleServers(settings, n, flags.get('cpu-prof'));
  const procs = Math.max(1, Math.min(n, Number(flags.get('procs') ?? 8)));
  const stormTimeoutMs = Number(flags.get('storm-timeout-s') ?? 900) * 1000;
  const callTimeoutMs = Number(flags.get('call-timeout-s') ?? 20) * 1000;
  const windowStart = Number(flags.get('window') ?? 8);
  const windowMax = Number(flags.get('window-max') ?? 64);
  const loads: WorkerLoadChild[] = [];
  const rows: string[][] = [...stateRows];
  let shoalRate: number | undefined;
  const loadStats = async (): Promise<LoadStats[]> => Promise.all(loads.map((l) => l.stats()));
  try {
    // Before the storm: every load process generates its workers' keys, then all start at once.
    const slice = Math.ceil(n / procs);
    const prep0 = Date.now();
    const started = await Promise.allSettled(
      Array.from({ length: procs }, (_, p) =>
        spawnWorkerLoad({
          servers: servers.addresses,
          token: servers.token,
          first: p * slice,
          count: Math.max(0, Math.min(slice, n - p * slice)),
          callTimeoutMs,
          seed: 2 + p,
          windowStart,
          windowMax,
          standby: flags.get('no-standby') !== 'true',
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') loads.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const prepared = await loadStats();
    rows.push([
      'load generator before the storm (keys)',
      `${n} Ed25519 keys in ${fmt((Date.now() - prep0) / 1000, 1)} s over ${loads.length} processes, CPU ${fmt(prepared.reduce((a, l) => a + l.cpuMs, 0) / 1000, 1)} s; load average ${loadAverage()}`,
    ]);
    const before = await servers.sample();
    // Registration storm: every load process starts its slice, paced by its window.
    const storm0 = Date.now();
    for (const l of loads) l.go();
    let last = await loadStats();
    const registered = (): number => last.reduce((a, s) => a + s.registered, 0);
    while (registered() < n && Date.now() - storm0 < stormTimeoutMs) {
      await sleep(1_000);
      last = await loadStats();
      // Progress on stderr every 10 s, so a long storm is seen while it runs.
      if (Math.floor((Date.now() - storm0) / 1000) % 10 === 0)
        process.stderr.write(
          `storm ${fmt((Date.now() - storm0) / 1000)} s: ${registered()} certified, windows ${last.map((l) => l.window).join('/')}; load average ${loadAverage()}\n`,
        );
    }
    const stormS = (Date.now() - storm0) / 1000;
    rows.push([
      'registration storm',
      `${registered()} of ${n} certified in ${fmt(stormS, 1)} s (${fmt(registered() / stormS)}/s; per load process done after ${last.map((l) => (l.doneMs === undefined ? '-' : fmt(l.doneMs / 1000, 1))).join(', ')} s); load average ${loadAverage()}`,
    ]);
    const storm = await servers.sample();
    const regs = storm.registrations - before.registrations;
    const syncs = (storm.walSyncs ?? 0) - (before.walSyncs ?? 0);
    const entries = (storm.walEntries ?? 0) - (before.walEntries ?? 0);
    rows.push([
      'server during the storm',
      `CPU ${fmt((storm.cpuMs - before.cpuMs) / 1000, 1)} s (${fmt((storm.cpuMs - before.cpuMs) / Math.max(1, regs), 2)} ms per registration)${storm.cpuMsAll === undefined ? '' : `, all servers ${fmt(((storm.cpuMsAll ?? 0) - (before.cpuMsAll ?? 0)) / Math.max(1, regs), 2)} ms per registration`}, ${servers.writesLabel} ${storm.writes - before.writes} ${storm.detail ?? ''}, refused busy ${storm.busy}`,
    ]);
    if (storm.walSyncs !== undefined)
      rows.push([
        "group commit during the storm (the leader's WAL)",
        `${regs} registrations, ${entries} entries in ${syncs} fdatasyncs: ${fmt(regs / Math.max(1, syncs), 1)} registrations and ${fmt(entries / Math.max(1, syncs), 1)} entries per fsync`,
      ]);
    const failures: Record<string, number> = {};
    for (const l of last)
      for (const [reason, count] of Object.entries(l.failures))
        failures[reason] = (failures[reason] ?? 0) + count;
    const registerFailures: Record<string, number> = {};
    for (const l of last)
      for (const [reason, count] of Object.entries(l.registerFailures))
        registerFailures[reason] = (registerFailures[reason] ?? 0) + count;
    rows.push([
      'worker call failures during the storm, by reason',
      `all calls ${JSON.stringify(failures)}; registrations ${JSON.stringify(registerFailures)}; the servers refused ${JSON.stringify(storm.refused ?? {})}`,
    ]);
    rows.push([
      'load generator during the storm',
      `${loads.length} processes, CPU ${fmt((last.reduce((a, l) => a + l.cpuMs, 0) - prepared.reduce((a, l) => a + l.cpuMs, 0)) / 1000, 1)} s in all, RSS ${fmt(last.reduce((a, l) => a + l.rssBytes, 0) / 1e6)} MB in all; window (registrations in flight per process) start ${windowStart}, max ${windowMax}, now ${last.map((l) => l.window).join('/')}, smallest ${Math.min(...last.map((l) => l.windowMin))}, ${last.reduce((a, l) => a + l.halvings, 0)} halvings`,
    ]);
    if (stormOnly) return table(['measure', `${n} workers, storm only, ${servers.label}`], rows);
    const base = heartbeatTtlBaseMsFor(n, config);
    const warmupMs =
      Number(flags.get('warmup-s') ?? (2 * base + config.heartbeatGraceMs) / 1000) * 1000;
    rows.push([
      'TTL base at N',
      `${base / 1000} s (TTLs in [${base / 1000}, ${(2 * base) / 1000}) s); warm-up ${warmupMs / 1000} s`,
    ]);
    // The storm's last registrations need their first TTL to pass before the tier is steady.
    process.stderr.write(`warm-up ${warmupMs / 1000} s\n`);
    await sleep(warmupMs);
    const rates: number[] = [];
    for (let i = 0; i < windows; i++) {
      const a = await servers.sample();
      const load0 = await loadStats();
      const cpu0 = processCpuMs(servers.pid()) ?? 0;
      const t0 = Date.now();
      await sleep(windowMs);
      const b = await servers.sample();
      const cpuMs = (processCpuMs(servers.pid()) ?? 0) - cpu0;
      const load1 = await loadStats();
      const loadCpuMs =
        load1.reduce((x, l) => x + l.cpuMs, 0) - load0.reduce((x, l) => x + l.cpuMs, 0);
      const live = load1.reduce((x, l) => x + l.registered, 0);
      const seconds = (Date.now() - t0) / 1000;
      const beats = b.heartbeats - a.heartbeats;
      rates.push(beats / seconds);
      rows.push([
        `window ${i + 1} (${windowMs / 1000} s)`,
        `${fmt(beats / seconds, 1)} heartbeats/s, leader CPU ${fmt((cpuMs / (seconds * 1000)) * 100, 2)} % of a core (${fmt((cpuMs * 1000) / Math.max(1, beats))} µs per heartbeat), ${servers.writesLabel} ${b.writes - a.writes} (${fmt((b.writes - a.writes) / Math.max(1, beats), 3)} per heartbeat), down ${b.down}, workers registered ${live}; load generator CPU ${fmt((loadCpuMs / (seconds * 1000)) * 100, 1)} % of a core; load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      ]);
    }
    const final = await servers.sample();
    rows.push([
      'leader memory after GC',
      `heap ${fmt(final.heapUsedBytes / n)} B per worker (${fmt(final.heapUsedBytes / 1e6, 1)} MB), RSS ${fmt(final.rssBytes / 1e6, 1)} MB (sockets and TLS sessions included)`,
    ]);
    const upAtEnd = (await loadStats()).reduce((x, l) => x + l.registered, 0);
    if (servers.failover !== undefined && flags.get('no-failover') !== 'true') {
      const watchMs =
        Number(
          flags.get('failover-watch-s') ??
            (failoverHeartbeatTtlMsFor(n, config) + config.heartbeatGraceMs) / 1000 + 10,
        ) * 1000;
      process.stderr.write(`failover: killing the leader, watching ${watchMs / 1000} s\n`);
      const preKill = await loadStats();
      rows.push(...(await servers.failover(n, watchMs)));
      const moved = await loadStats();
      rows.push([
        'workers moved by the failover',
        `${moved.reduce((x, l) => x + l.standbyMoves, 0)} moved to their next server, ${moved.reduce((x, l) => x + l.standbyMovesWarm, 0)} of them onto a warm standby channel (handshake done before the kill); load generator CPU ${fmt((moved.reduce((x, l) => x + l.cpuMs, 0) - preKill.reduce((x, l) => x + l.cpuMs, 0)) / 1000, 1)} s over the watch`,
      ]);
    }
    shoalRate =
      rates.length > 0 && upAtEnd === n
        ? rates.reduce((x, r) => x + r, 0) / rates.length
        : undefined;
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    await servers.stop();
  }
  if (flags.get('etcd') === 'true') {
    // The same N at the rate the tier's heartbeats ran when all N were up, else at the TTL
    // formula's mean rate for N (N / 1.5·base), after the tier's processes are gone.
    const base = heartbeatTtlBaseMsFor(n, config);
    const rate = shoalRate ?? n / ((1.5 * base) / 1000);
    rows.push([
      'etcd keep-alive rate',
      `${fmt(rate, 1)}/s (${shoalRate === undefined ? "the TTL formula's mean for N" : "the tier's measured rate"})`,
    ]);
    rows.push(...etcdLeaseRows(await etcdLeases(n, rate, windows, windowMs), n));
  }
  return table(['measure', `${n} workers, ${servers.label}, gRPC + mTLS on loopback`], rows);
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
