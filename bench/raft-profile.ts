/**
 * Where the Raft leader's CPU goes under puts or gets: starts a fresh 3-member Shoal `raft`
 * cluster (as etcd-vs-shoal.ts does) with every agent under `node --cpu-prof`, runs one row (the
 * same etcd3 client, closed loop and 256 B values): puts, or with `--workload ser-get|lin-get`
 * serializable or linearizable gets of the keys the warm-up put, or with `--workload watch` the
 * watch fan-out of etcd-vs-shoal.ts (`--watchers` watches of one key spread over the members,
 * one etcd3 client each, and puts to that key at c = 1; µs are then per put); stops the agents (SIGTERM: each
 * writes its profile on exit), and prints the leader's CPU µs per operation (procfs, this process
 * excluded) and the functions with the most self time in its profile, grouped by function and
 * file. `--workload txn` runs etcd-vs-shoal.ts's compare-and-swap txns on 16 keys (a CAS that
 * lost the race counts as done). `--member follower` profiles a follower instead of the leader
 * (at c = 1 the followers together spend about as much CPU per put as the leader). `--node-args`
 * passes extra flags to the agents' node (comma-separated, without their leading dashes), e.g.
 * `--node-args max-semi-space-size=32`.
 *
 *   npx tsx bench/raft-profile.ts [--c 64] [--ops 5000]
 *     [--workload put|ser-get|lin-get|watch|txn] [--watchers 100] [--top 30] [--dir DIR]
 *     [--member leader|follower] [--node-args FLAGS]
 *
 * The profiles stay in DIR (a temp dir by default) for Chrome DevTools or speedscope.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/base/rng.js';
import type { Etcd3 } from 'etcd3';
import { etcd3Client } from './lib-etcd.js';
import { runClosedLoop } from './lib-load.js';
import { CpuSample } from './lib-procfs.js';
import { shoalRaftSystem } from './lib-raft-systems.js';
import { checkFlags, flagNumber, isMain, parseFlags, table } from './lib-report.js';
import { LOAD_SETTINGS, waitLeader } from './etcd-vs-shoal.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

interface Share {
  name: string;
  samples: number;
  share: number;
}

/** A frame's function and file (`src/...` for src/ and dist/, `node_modules/...`, `node:...`). */
function frameKey(frame: ProfileNode['callFrame']): { fn: string; file: string } {
  const fn = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  // Agents run from dist/ (lib-raft-systems.ts): a compiled file is named by its source.
  const at = frame.url.lastIndexOf('/node_modules/');
  const file =
    at >= 0
      ? frame.url.slice(at + 1)
      : frame.url.replace(/^.*?\/(?:dist|src)\//, 'src/').replace(/^.*?\/bench\//, 'bench/');
  return { fn, file: file === '' ? '(native)' : file };
}

function ranked(counts: Map<string, number>, total: number): Share[] {
  return [...counts]
    .map(([name, samples]) => ({ name, samples, share: total === 0 ? 0 : samples / total }))
    .sort((a, b) => b.samples - a.samples);
}

/**
 * The samples taken between `fromUs` and `toUs` (the profile's monotonic clock, the same as
 * process.hrtime's on Linux): self time per function and per file, and total (inclusive) time
 * per function of Shoal's own sources.
 */
export function summarize(
  profile: CpuProfile,
  fromUs: number,
  toUs: number,
): { total: number; idle: number; self: Share[]; files: Share[]; inclusive: Share[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let atUs = profile.startTime;
  for (const [i, id] of profile.samples.entries()) {
    atUs += profile.timeDeltas[i] ?? 0;
    if (atUs < fromUs || atUs > toUs) continue;
    const node = byId.get(id);
    if (node === undefined) continue;
    total++;
    const { fn, file } = frameKey(node.callFrame);
    if (fn === '(idle)') {
      idle++;
      continue;
    }
    self.set(`${fn} ${file}`, (self.get(`${fn} ${file}`) ?? 0) + 1);
    files.set(file, (files.get(file) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) break;
      const k = frameKey(frame);
      if (!k.file.startsWith('src/')) continue;
      const key = `${k.fn} ${k.file}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
    }
  }
  const busy = total - idle;
  return {
    total,
    idle,
    self: ranked(self, busy),
    files: ranked(files, busy),
    inclusive: ranked(inclusive, busy),
  };
}

/** The key the watch workload's watchers watch and its writer puts to. */
const WATCH_KEY = 'bench/profile-watch/k';
/** Keys of the `txn` workload's compare-and-swap (etcd-vs-shoal.ts uses 16 too). */
const CAS_KEYS = 16;

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['c', 'ops', 'top', 'dir', 'workload', 'watchers', 'member', 'node-args']);
  const workload = flags.get('workload') ?? 'put';
  if (!['put', 'ser-get', 'lin-get', 'watch', 'txn'].includes(workload))
    throw new Error(`--workload ${workload}: put, ser-get, lin-get, watch or txn`);
  const member = flags.get('member') ?? 'leader';
  if (member !== 'leader' && member !== 'follower')
    throw new Error(`--member ${member}: expected leader or follower`);
  // Without their leading dashes (a value starting with -- would read as a flag).
  const extraNodeArgs = (flags.get('node-args') ?? '')
    .split(',')
    .filter((a) => a !== '')
    .map((a) => (a.startsWith('-') ? a : `--${a}`));
  const watcherCount = workload === 'watch' ? flagNumber(flags, 'watchers', 100) : 0;
  const concurrency = flagNumber(flags, 'c', 64);
  const operations = flagNumber(flags, 'ops', 5000);
  const top = flagNumber(flags, 'top', 30);
  const warmup = Math.min(1000, operations);
  const dir = flags.get('dir') ?? mkdtempSync(join(tmpdir(), 'shoal-raft-profile-'));
  const system = shoalRaftSystem({
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...extraNodeArgs],
  });
  let leaderPid: number | undefined;
  let cpuUsPerPut: number | undefined;
  let opsPerSec: number | undefined;
  const windowUs = { from: 0, to: 0 };
  const load1 = loadavg()[0] ?? 0;
  await system.start(LOAD_SETTINGS);
  try {
    const leader = await waitLeader(system);
    const pids = system.pids();
    leaderPid = member === 'leader' ? pids[leader] : pids.find((_, i) => i !== leader);
    const client = etcd3Client([system.endpoint(leader)]);
    const watchClients = Array.from({ length: watcherCount === 0 ? 0 : system.size }, (_, i) =>
      etcd3Client([system.endpoint(i)]),
    );
    let delivered = 0;
    for (let w = 0; w < watcherCount; w++) {
      const watcher = await (watchClients[w % watchClients.length] as Etcd3)
        .watch()
        .key(WATCH_KEY)
        .create();
      watcher.on('put', () => delivered++);
    }
    const rng = new Rng(14);
    const value = Buffer.from(Uint8Array.from({ length: 256 }, () => rng.int(256)));
    try {
      await runClosedLoop({
        concurrency,
        operations: warmup,
        warmupOperations: 0,
        op: (i) =>
          client
            .put(`bench/profile-warmup/${String(i).padStart(8, '0')}`)
            .value(value)
            .exec(),
        serverPids: system.pids(),
      });
      const last = Array.from({ length: CAS_KEYS }, () => '0');
      if (workload === 'txn')
        for (let k = 0; k < CAS_KEYS; k++)
          await client.put(`bench/profile-cas/${k}`).value('0').exec();
      const cas = async (i: number) => {
        const k = i % CAS_KEYS;
        const next = String(i + 1);
        const result = await client
          .if(`bench/profile-cas/${k}`, 'Value', '==', last[k] as string)
          .then(client.put(`bench/profile-cas/${k}`).value(next))
          .commit();
        if (result.succeeded) last[k] = next;
      };
      const sample = new CpuSample(leaderPid === undefined ? [] : [leaderPid]);
      windowUs.from = nowUs();
      const load = await runClosedLoop({
        concurrency,
        operations,
        warmupOperations: 0,
        op: (i) => {
          if (workload === 'watch') return client.put(WATCH_KEY).value(value).exec();
          if (workload === 'txn') return cas(i);
          if (workload === 'put')
            return client
              .put(`bench/profile/${String(i).padStart(8, '0')}`)
              .value(value)
              .exec();
          const key = `bench/profile-warmup/${String(rng.int(warmup)).padStart(8, '0')}`;
          const get = client.get(key);
          return get.serializable(workload === 'ser-get').exec();
        },
        serverPids: system.pids(),
      });
      const drainUntil = Date.now() + 10_000;
      while (delivered < operations * watcherCount && Date.now() < drainUntil)
        await new Promise((resolve) => setTimeout(resolve, 10));
      windowUs.to = nowUs();
      const leaderMs = sample.usedMs();
      opsPerSec = load.opsPerSec;
      cpuUsPerPut = leaderMs === undefined ? undefined : (leaderMs * 1000) / operations;
    } finally {
      client.close();
      for (const c of watchClients) c.close();
    }
  } finally {
    await system.stop();
  }
  const file = readdirSync(dir).find(
    (f) => leaderPid !== undefined && f.includes(`.${leaderPid}.`),
  );
  if (file === undefined) return `no profile of the ${member} (pid ${leaderPid}) in ${dir}`;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const summary = summarize(profile, windowUs.from, windowUs.to);
  const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;
  const rows = (shares: Share[]) => shares.slice(0, top).map((e) => [pct(e.share), e.name]);
  return [
    `${workload} c=${concurrency}, ${operations} operations after a warm-up of ${warmup} puts: ${opsPerSec?.toFixed(0) ?? '?'} ops/s, ` +
      `${member} CPU ${cpuUsPerPut?.toFixed(0) ?? '?'} µs per operation (procfs, profiler on), load ${load1.toFixed(1)}`,
    `${member} profile: ${join(dir, file)}; ${summary.total} samples in the load window, ${pct(summary.idle / Math.max(1, summary.total))} idle; shares below are of the busy samples`,
    '',
    'Self time by file:',
    table(['self', 'file'], rows(summary.files)),
    '',
    'Self time by function:',
    table(['self', 'function file'], rows(summary.self)),
    '',
    "Total time of Shoal's own functions (callees included):",
    table(['total', 'function file'], rows(summary.inclusive)),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
}
