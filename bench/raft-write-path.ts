/**
 * What one write costs each member of Shoal's `raft` mode, in counts the machine's load does not
 * distort much: per put (or CAS txn), each member's CPU µs (procfs utime + stime), its read- and
 * write-like system calls (`syscr` + `syscw` of /proc/<pid>/io: socket reads and writes, WAL
 * writes, eventfd wake-ups of the thread pool) and its context switches (voluntary + not, of
 * every thread, /proc/<pid>/task/<tid>/status), with the leader's entries per fsync. A fresh
 * 3-member cluster (as etcd-vs-shoal.ts starts it), the same etcd3 client and closed loop, one
 * row per concurrency; `--runs N` repeats on fresh clusters and prints every run (compare
 * builds by alternating runs of each).
 *
 *   npx tsx bench/raft-write-path.ts [--c 1,16,64,256] [--ops 2000] [--runs 1] [--op put|txn]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Rng } from '../src/base/rng.js';
import { etcd3Client } from './lib-etcd.js';
import { runClosedLoop } from './lib-load.js';
import { processCpuMs } from './lib-procfs.js';
import { shoalRaftSystem } from './lib-raft-systems.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  fmt,
  isMain,
  parseFlags,
  table,
} from './lib-report.js';
import { LOAD_SETTINGS, perFsync, waitLeader } from './etcd-vs-shoal.js';

/** Keys of the `--op txn` compare-and-swap (etcd-vs-shoal.ts uses 16 too). */
const CAS_KEYS = 16;

interface Counts {
  cpuMs: number;
  syscalls: number;
  switches: number;
}

/** A process's CPU ms, system calls and context switches so far, or undefined when it is gone. */
function countsOf(pid: number): Counts | undefined {
  const cpuMs = processCpuMs(pid);
  if (cpuMs === undefined) return undefined;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`${name}: (\\d+)`).exec(io)?.[1]);
    let switches = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/ctxt_switches:\s+(\d+)/g)) switches += Number(m[1]);
    }
    return { cpuMs, syscalls: field('syscr') + field('syscw'), switches };
  } catch {
    return undefined;
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['c', 'ops', 'runs', 'op']);
  const concurrencies = flagNumbers(flags, 'c', [1, 16, 64, 256]);
  const operations = flagNumber(flags, 'ops', 2000);
  const runs = flagNumber(flags, 'runs', 1);
  const opName = flags.get('op') ?? 'put';
  if (opName !== 'put' && opName !== 'txn') throw new Error(`--op ${opName}: expected put or txn`);
  const rows: string[][] = [];
  for (let r = 1; r <= runs; r++) {
    const system = shoalRaftSystem();
    await system.start(LOAD_SETTINGS);
    try {
      const leader = await waitLeader(system);
      const pids = system.pids();
      const order = [leader, ...pids.keys()].filter((i, k, all) => all.indexOf(i) === k);
      const client = etcd3Client([system.endpoint(leader)]);
      const rng = new Rng(14);
      const value = Buffer.from(Uint8Array.from({ length: 256 }, () => rng.int(256)));
      const last = Array.from({ length: CAS_KEYS }, () => '0');
      for (let k = 0; k < CAS_KEYS; k++) await client.put(`bench/wp-cas/${k}`).value('0').exec();
      try {
        for (const c of concurrencies) {
          const put = (i: number) =>
            client
              .put(`bench/wp-c${c}/${String(i).padStart(8, '0')}`)
              .value(value)
              .exec();
          const cas = async (i: number) => {
            const k = i % CAS_KEYS;
            const next = String(i + 1);
            const result = await client
              .if(`bench/wp-cas/${k}`, 'Value', '==', last[k] as string)
              .then(client.put(`bench/wp-cas/${k}`).value(next))
              .commit();
            if (result.succeeded) last[k] = next;
          };
          const op = opName === 'put' ? put : cas;
          await runClosedLoop({
            concurrency: c,
            operations: Math.min(500, operations),
            warmupOperations: 0,
            op,
            serverPids: pids,
          });
          const load1 = loadavg()[0] ?? 0;
          const disk = await system.disk(leader);
          const before = order.map((i) => countsOf(pids[i] as number));
          const load = await runClosedLoop({
            concurrency: c,
            operations,
            warmupOperations: 0,
            op,
            serverPids: pids,
          });
          const after = order.map((i) => countsOf(pids[i] as number));
          const fsync = perFsync(disk, await system.disk(leader));
          const per = (pick: (x: Counts) => number, scale: number): string =>
            order
              .map((_, k) => {
                const a = after[k];
                const b = before[k];
                return a === undefined || b === undefined
                  ? '?'
                  : fmt(((pick(a) - pick(b)) * scale) / load.operations, 1);
              })
              .join(' / ');
          rows.push([
            `${opName} c=${c}`,
            String(r),
            fmt(load.opsPerSec, 0),
            fmt(load.latency.percentileMs(50), 2),
            per((x) => x.cpuMs, 1000),
            per((x) => x.syscalls, 1),
            per((x) => x.switches, 1),
            fsync === undefined ? '—' : fmt(fsync, 1),
            fmt(load1, 1),
          ]);
        }
      } finally {
        client.close();
      }
    } finally {
      await system.stop();
    }
  }
  return [
    table(
      [
        'row',
        'run',
        'ops/s',
        'p50 ms',
        'CPU µs/op L / F / F',
        'syscalls/op L / F / F',
        'ctx switches/op L / F / F',
        'entries/fsync',
        'load',
      ],
      rows,
    ),
    '',
    `${operations} counted operations per row after ${Math.min(500, operations)} warm-up, 256 B values; L is the leader, F the followers.`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
}
