/**
 * Where a watched put's time goes (issue 14's watch fan-out row): a fresh 3-member Shoal (or
 * etcd) cluster, one writer pinned to the leader putting one key at c = 1, and N watchers of
 * that key spread over the members (one etcd3 client, so one watch stream, per member). Per put
 * it records, from the writer's send: the put's answer, and each member's first and last
 * delivery (watchers on the leader, on each follower apart). It runs the same puts first with
 * no watcher, so the put's own cost is beside it. Medians and p90 per column, ms.
 *
 *   npx tsx bench/etcd-watch-trace.ts [--watchers 100] [--puts 300] [--systems shoal]
 *     [--profile DIR]   (CPU profiles of the agents: bench/lib-cpu-profile.ts)
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Etcd3 } from 'etcd3';
import { etcd3Client } from './lib-etcd.js';
import { CpuSample } from './lib-procfs.js';
import { raftSystems, type RaftSystem } from './lib-raft-systems.js';
import { waitLeader, LOAD_SETTINGS } from './etcd-vs-shoal.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  parseFlags,
  percentile,
  sleep,
  table,
} from './lib-report.js';

/** Bound on the last deliveries of one put arriving. */
const DELIVERY_WAIT_MS = 5_000;

interface PutTrace {
  answerMs: number;
  /** Per member: first and last delivery after the send, ms. */
  first: number[];
  last: number[];
  count: number[];
}

async function puts(writer: Etcd3, count: number, key: string): Promise<number[]> {
  const out: number[] = [];
  const value = Buffer.alloc(256);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    value.writeDoubleLE(t0, 0);
    await writer.put(key).value(value).exec();
    out.push(performance.now() - t0);
  }
  return out;
}

async function trace(system: RaftSystem, watchers: number, count: number): Promise<string[][]> {
  await system.start(LOAD_SETTINGS);
  const clients: Etcd3[] = [];
  try {
    const leader = await waitLeader(system);
    const writer = etcd3Client([system.endpoint(leader)]);
    clients.push(writer);
    const key = 'bench/trace/k';
    await puts(writer, 50, key);
    const cpu0 = new CpuSample(system.pids());
    const t0 = performance.now();
    const plain = await puts(writer, count, key);
    const plainWall = performance.now() - t0;
    const plainCpu = cpu0.usedMs();
    const members = Array.from({ length: system.size }, (_, i) => i);
    const watchClients = members.map((i) => etcd3Client([system.endpoint(i)]));
    clients.push(...watchClients);
    const bySend = new Map<number, PutTrace>();
    for (let w = 0; w < watchers; w++) {
      const member = w % system.size;
      const watcher = await (watchClients[member] as Etcd3).watch().key(key).create();
      watcher.on('put', (kv) => {
        const sentMs = Buffer.from(kv.value).readDoubleLE(0);
        const current = bySend.get(sentMs);
        if (current === undefined) return;
        const at = performance.now() - sentMs;
        if (current.count[member] === 0) current.first[member] = at;
        current.last[member] = at;
        current.count[member] = (current.count[member] ?? 0) + 1;
      });
    }
    const expected = Array.from(
      { length: system.size },
      (_, m) => Math.floor(watchers / system.size) + (m < watchers % system.size ? 1 : 0),
    );
    const traces: PutTrace[] = [];
    const value = Buffer.alloc(256);
    const cpu1 = new CpuSample(system.pids());
    const t1 = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      value.writeDoubleLE(t, 0);
      const entry: PutTrace = {
        answerMs: 0,
        first: members.map(() => NaN),
        last: members.map(() => NaN),
        count: members.map(() => 0),
      };
      bySend.set(t, entry);
      await writer.put(key).value(value).exec();
      entry.answerMs = performance.now() - t;
      traces.push(entry);
    }
    const wall = performance.now() - t1;
    const until = performance.now() + DELIVERY_WAIT_MS;
    const done = (e: PutTrace): boolean => e.count.every((c, m) => c >= (expected[m] ?? 0));
    while (!traces.every(done) && performance.now() < until) await sleep(10);
    const watchCpu = cpu1.usedMs();
    const stat = (values: number[]): string =>
      [50, 90, 99, 100].map((p) => fmt(percentile(values, p), 2)).join(' / ') +
      ` (sum ${fmt(values.reduce((a, b) => a + b, 0))})`;
    const name = (m: number): string => (m === leader ? `member ${m} (leader)` : `member ${m}`);
    const rows: string[][] = [
      [
        system.name,
        'no watcher: put answer',
        stat(plain),
        fmt((count * 1000) / plainWall),
        fmt(plainCpu === undefined ? undefined : (plainCpu * 1000) / count),
        fmt(loadavg()[0], 1),
      ],
      [
        system.name,
        `${watchers} watchers: put answer`,
        stat(traces.map((t) => t.answerMs)),
        fmt((count * 1000) / wall),
        fmt(watchCpu === undefined ? undefined : (watchCpu * 1000) / count),
        fmt(loadavg()[0], 1),
      ],
    ];
    for (const m of members) {
      rows.push([
        system.name,
        `${name(m)}: first delivery (${expected[m]} watchers)`,
        stat(traces.map((t) => t.first[m] ?? NaN).filter(Number.isFinite)),
        '',
        '',
        '',
      ]);
      rows.push([
        system.name,
        `${name(m)}: last delivery`,
        stat(traces.map((t) => t.last[m] ?? NaN).filter(Number.isFinite)),
        '',
        '',
        '',
      ]);
    }
    const missing = traces.reduce(
      (sum, t) => sum + t.count.reduce((a, c, m) => a + Math.max(0, (expected[m] ?? 0) - c), 0),
      0,
    );
    const answeredFirst = traces.filter((t) => t.answerMs <= (t.first[leader] ?? Infinity));
    rows.push([
      system.name,
      "puts answered before the leader's first delivery",
      `${answeredFirst.length} of ${traces.length}`,
      '',
      '',
      '',
    ]);
    rows.push([system.name, 'deliveries missing', String(missing), '', '', '']);
    return rows;
  } finally {
    for (const c of clients) c.close();
    await system.stop();
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['watchers', 'puts', 'systems', 'profile']);
  const profileDir = flags.get('profile');
  if (profileDir !== undefined) {
    // The agents inherit this process's environment: each writes <dir>/<pid>.cpuprofile.
    process.env.BENCH_CPU_PROFILE_DIR = profileDir;
    process.env.NODE_OPTIONS = `--import tsx --import ${fileURLToPath(new URL('./lib-cpu-profile.ts', import.meta.url))}`;
  }
  const watchers = flagNumber(flags, 'watchers', 100);
  const count = flagNumber(flags, 'puts', 300);
  const rows: string[][] = [];
  for (const system of raftSystems(flags.get('systems')?.split(',') ?? ['shoal']))
    rows.push(...(await trace(system, watchers, count)));
  return [
    table(
      [
        'system',
        'what',
        'ms after send, p50 / p90 / p99 / max (sum)',
        'puts/s',
        'server CPU µs/put',
        'load',
      ],
      rows,
    ),
    '',
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
