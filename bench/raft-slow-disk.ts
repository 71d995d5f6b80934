/**
 * The put benchmark on a slower disk (issue 13): Shoal's `raft` mode with every durable write of
 * its agents held back `fsyncDelayMs` = 1 and 10 ms (FsStorage's benchmark knob, applied to the
 * agents by their benchmark-only `--fsync-delay-ms`), beside Shoal and etcd 3.4 on this machine's disk (fdatasync about
 * 0.1 ms), to show group commit: entries per fsync on the leader should grow with the delay so
 * throughput falls far less than 1 / delay. Same cluster, client and closed loop as
 * etcd-vs-shoal.ts's put rows (256 B values, distinct keys, client pinned to the leader).
 *
 *   npx tsx bench/raft-slow-disk.ts [--ops 5000] [--put-c 1,16,64,256] [--delays 1,10] [--no-etcd]
 */
import { Rng } from '../src/base/rng.js';
import { etcd3Client, etcdVersion } from './lib-etcd.js';
import { runClosedLoop } from './lib-load.js';
import { etcdRaftSystem, shoalRaftSystem, type RaftSystem } from './lib-raft-systems.js';
import {
  checkFlags,
  flagNumber,
  flagNumbers,
  isMain,
  machineNote,
  parseFlags,
  table,
} from './lib-report.js';
import {
  HEADERS,
  LOAD_SETTINGS,
  loadRow,
  measureWrites,
  renderRows,
  waitLeader,
  type Row,
} from './etcd-vs-shoal.js';

interface Options {
  readonly operations: number;
  readonly warmupOperations: number;
  readonly putConcurrency: readonly number[];
}

async function putRows(system: RaftSystem, options: Options): Promise<Map<number, Row>> {
  const rows = new Map<number, Row>();
  await system.start(LOAD_SETTINGS);
  const rng = new Rng(13);
  const value = Buffer.from(Uint8Array.from({ length: 256 }, () => rng.int(256)));
  try {
    const leader = await waitLeader(system);
    const client = etcd3Client([system.endpoint(leader)]);
    try {
      for (const c of options.putConcurrency) {
        const m = await measureWrites(system, leader, () =>
          runClosedLoop({
            concurrency: c,
            operations: options.operations,
            warmupOperations: options.warmupOperations,
            op: (i) => client.put(`bench/slow-c${c}/${i}`).value(value).exec(),
            serverPids: system.pids(),
          }),
        );
        rows.set(c, loadRow(m.load, m.entriesPerFsync, m.load1));
      }
    } finally {
      client.close();
    }
  } finally {
    await system.stop();
  }
  return rows;
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['ops', 'put-c', 'delays', 'no-etcd']);
  const operations = flagNumber(flags, 'ops', 5_000);
  const options: Options = {
    operations,
    warmupOperations: Math.min(500, operations),
    putConcurrency: flagNumbers(flags, 'put-c', [1, 16, 64, 256]),
  };
  const systems: RaftSystem[] = [
    ...(flags.has('no-etcd') || etcdVersion() === undefined ? [] : [etcdRaftSystem()]),
    shoalRaftSystem(),
    ...flagNumbers(flags, 'delays', [1, 10]).map((d) => shoalRaftSystem({ fsyncDelayMs: d })),
  ];
  const measured: { name: string; rows: Map<number, Row> }[] = [];
  for (const system of systems)
    measured.push({ name: system.name, rows: await putRows(system, options) });
  const rows = options.putConcurrency.flatMap((c) =>
    renderRows(
      `put c=${c}`,
      measured.map((m) => ({ name: m.name, row: m.rows.get(c) })),
    ),
  );
  return [
    table(HEADERS, rows),
    '',
    `${options.operations} counted puts per row (${options.warmupOperations} warm-up), 256 B values, one etcd3 client pinned to the leader of a fresh 3-member loopback cluster per system. ` +
      `"fsync +N ms": every durable write of each Shoal agent (WAL batch write + fdatasync, file create/rename/remove) completes N ms later (the agents' --fsync-delay-ms N). ` +
      `Ratios are to the first system. Entries/fsync on the leader. Load: 1-min load average when the row started.`,
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
