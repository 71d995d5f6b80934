/**
 * What goes on the wire per etcd call, etcd 3.4 beside Shoal's endpoint: the etcd3 client talks
 * to the leader through a loopback TCP relay that parses the HTTP/2 frames in both directions
 * (RFC 9113 §4.1: 9-byte header, then the payload) and counts, per operation, the relay's reads
 * from each side (a read is one or more of the sender's writes that arrived together, so an
 * upper bound on how the receiver is woken), the frames by type, and the bytes. The client's CPU
 * per operation depends on how many frames and reads it must handle; the SETTINGS each side
 * sends are printed as they are.
 *
 *   npx tsx bench/etcd-wire.ts [--ops 4000] [--c 64] [--op put|get] [--systems etcd,shoal]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { etcd3Client, etcdVersion } from './lib-etcd.js';
import { runClosedLoop } from './lib-load.js';
import { raftSystems, shoalRaftSystem } from './lib-raft-systems.js';
import { checkFlags, flagNumber, fmt, isMain, parseFlags, table } from './lib-report.js';
import { LOAD_SETTINGS, waitLeader } from './etcd-vs-shoal.js';

const FRAME_TYPES = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];
const SETTING_NAMES: Record<number, string> = {
  1: 'HEADER_TABLE_SIZE',
  2: 'ENABLE_PUSH',
  3: 'MAX_CONCURRENT_STREAMS',
  4: 'INITIAL_WINDOW_SIZE',
  5: 'MAX_FRAME_SIZE',
  6: 'MAX_HEADER_LIST_SIZE',
  8: 'ENABLE_CONNECT_PROTOCOL',
};
/** The client's connection preface (RFC 9113 §3.4), before its first frame. */
const PREFACE_BYTES = 24;

/** Counts of one direction of a connection. */
class Direction {
  reads = 0;
  bytes = 0;
  readonly frames = new Map<string, number>();
  readonly frameBytes = new Map<string, number>();
  settings: string[] = [];
  private held = Buffer.alloc(0);
  private skip: number;

  constructor(skipBytes: number) {
    this.skip = skipBytes;
  }

  reset(): void {
    this.reads = 0;
    this.bytes = 0;
    this.frames.clear();
    this.frameBytes.clear();
  }

  push(chunk: Buffer): void {
    this.reads++;
    this.bytes += chunk.length;
    let buf = Buffer.concat([this.held, chunk]);
    if (this.skip > 0) {
      const n = Math.min(this.skip, buf.length);
      this.skip -= n;
      buf = buf.subarray(n);
    }
    while (buf.length >= 9) {
      const length = buf.readUIntBE(0, 3);
      if (buf.length < 9 + length) break;
      const type = FRAME_TYPES[buf[3] ?? 0] ?? `type${buf[3]}`;
      const flags = buf[4] ?? 0;
      this.frames.set(type, (this.frames.get(type) ?? 0) + 1);
      this.frameBytes.set(type, (this.frameBytes.get(type) ?? 0) + 9 + length);
      if (type === 'SETTINGS' && (flags & 1) === 0 && this.settings.length === 0) {
        for (let at = 9; at + 6 <= 9 + length; at += 6)
          this.settings.push(
            `${SETTING_NAMES[buf.readUInt16BE(at)] ?? buf.readUInt16BE(at)}=${buf.readUInt32BE(at + 2)}`,
          );
      }
      if (type === 'WINDOW_UPDATE' && buf.readUInt32BE(5) === 0) {
        const name = 'WINDOW_UPDATE(conn)';
        this.frames.set(name, (this.frames.get(name) ?? 0) + 1);
      }
      buf = buf.subarray(9 + length);
    }
    this.held = Buffer.from(buf);
  }
}

interface Relay {
  readonly port: number;
  readonly up: Direction;
  readonly down: Direction;
  close(): void;
}

function relay(endpoint: string): Promise<Relay> {
  const target = endpoint.replace(/^https?:\/\//, '');
  const [host, port] = [
    target.slice(0, target.lastIndexOf(':')),
    target.slice(target.lastIndexOf(':') + 1),
  ];
  const up = new Direction(PREFACE_BYTES);
  const down = new Direction(0);
  const sockets: Socket[] = [];
  let connections = 0;
  const server: Server = createServer((client) => {
    if (++connections > 1) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), host);
    sockets.push(client, upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      up.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      down.push(chunk);
      client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : 0,
        up,
        down,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    });
  });
}

/** One raw Put over node:http2: the response's headers and trailers as the server sent them. */
function rawPut(endpoint: string): Promise<string> {
  const key = Buffer.from('wire/raw');
  const value = Buffer.alloc(16, 1);
  const message = Buffer.concat([
    Buffer.from([0x0a, key.length]),
    key,
    Buffer.from([0x12, value.length]),
    value,
  ]);
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  message.copy(body, 5);
  return new Promise((resolve, reject) => {
    const session = http2.connect(endpoint);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.KV/Put',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const out: string[] = [];
    stream.on('response', (headers) => out.push(`headers ${JSON.stringify(headers)}`));
    stream.on('trailers', (trailers) => out.push(`trailers ${JSON.stringify(trailers)}`));
    stream.on('data', () => undefined);
    stream.on('end', () => {
      session.close();
      resolve(out.join('; '));
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

/** `strace -c` of `pids` until the returned function is called: calls per syscall. */
function straceCounts(pids: readonly number[]): () => Promise<Map<string, number>> {
  const file = join(tmpdir(), `etcd-wire-${process.pid}-${pids[0]}.txt`);
  const child: ChildProcess = spawn(
    'strace',
    ['-f', '-c', '-o', file, ...pids.flatMap((p) => ['-p', String(p)])],
    { stdio: 'ignore' },
  );
  return () =>
    new Promise((resolve) => {
      child.once('exit', () => {
        const counts = new Map<string, number>();
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          const f = line.trim().split(/\s+/);
          // % time, seconds, usecs/call, calls, [errors], syscall
          if (f.length >= 5 && /^\d/.test(f[0] ?? '') && f.at(-1) !== 'total')
            counts.set(f.at(-1) as string, Number(f[3]));
        }
        resolve(counts);
      });
      child.kill('SIGINT');
    });
}

function syscalls(counts: Map<string, number>, ops: number): string {
  return [...counts.entries()]
    .filter(([, n]) => n / ops >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${fmt(n / ops, 2)}`)
    .join(', ');
}

/** /proc/<pid>/io: read and write syscalls and the bytes they moved (sockets included). */
function procIo(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const line of readFileSync(`/proc/${pid}/io`, 'utf8').split('\n')) {
      const [name, value] = line.split(': ');
      if (name !== undefined && value !== undefined) out.set(name, Number(value));
    }
  } catch {
    // The process is gone: no counters.
  }
  return out;
}

function ioPerOp(before: Map<string, number>, after: Map<string, number>, ops: number): string {
  const d = (name: string): number => ((after.get(name) ?? 0) - (before.get(name) ?? 0)) / ops;
  return `read syscalls ${fmt(d('syscr'), 2)}, write syscalls ${fmt(d('syscw'), 2)}, bytes read ${fmt(d('rchar'))}, written ${fmt(d('wchar'))}`;
}

function describe(d: Direction, ops: number): string[] {
  const frames = [...d.frames.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${type} ${fmt(n / ops, 2)}`)
    .join(', ');
  const sizes = [...d.frameBytes.entries()]
    .map(([type, n]) => `${type} ${fmt(n / (d.frames.get(type) ?? 1), 0)}`)
    .join(', ');
  return [fmt(d.reads / ops, 2), fmt(d.bytes / ops, 0), frames, sizes];
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['ops', 'c', 'op', 'systems', 'strace', 'perf', 'warmup']);
  const warmup = flagNumber(flags, 'warmup', 0);
  const perf = flags.get('perf');
  const strace = flags.has('strace');
  if (etcdVersion() === undefined) return 'etcd is not installed (Debian: etcd-server): skipped.';
  const ops = flagNumber(flags, 'ops', 4000);
  const concurrency = flagNumber(flags, 'c', 64);
  const op = flags.get('op') ?? 'put';
  const rows: string[][] = [];
  const settings: string[] = [];
  const names = flags.get('systems')?.split(',') ?? ['etcd', 'shoal'];
  const systems = names.map((n) =>
    n === 'shoal' && perf !== undefined
      ? shoalRaftSystem({ nodeArgs: ['--perf-basic-prof'] })
      : (raftSystems([n])[0] as ReturnType<typeof shoalRaftSystem>),
  );
  for (const system of systems) {
    await system.start(LOAD_SETTINGS);
    let client: Etcd3 | undefined;
    let r: Relay | undefined;
    try {
      const leader = await waitLeader(system);
      settings.push(`${system.name} raw Put: ${await rawPut(system.endpoint(leader))}`);
      r = await relay(system.endpoint(leader));
      const pinned = etcd3Client([strace ? system.endpoint(leader) : `127.0.0.1:${r.port}`]);
      client = pinned;
      const value = Buffer.alloc(256, 7);
      for (let i = 0; i < 200; i++) await pinned.put(`wire/${i}`).value(value).exec();
      if (warmup > 0)
        await runClosedLoop({
          concurrency,
          operations: warmup,
          warmupOperations: 0,
          op: (i) =>
            pinned
              .put(`wire/${i % 200}`)
              .value(value)
              .exec(),
          serverPids: system.pids(),
        });
      r.up.reset();
      r.down.reset();
      const leaderPid = system.pids()[leader];
      const traces =
        strace && leaderPid !== undefined
          ? [straceCounts([leaderPid]), straceCounts([process.pid])]
          : [];
      if (strace) await new Promise((resolve) => setTimeout(resolve, 500));
      const perfRuns =
        perf === undefined
          ? []
          : system
              .pids()
              .map((pid, i) =>
                spawn(
                  'perf',
                  [
                    'record',
                    '-e',
                    'cpu-clock',
                    '-g',
                    '-o',
                    `${perf}/${system.kind}-${i === leader ? 'leader' : `f${i}`}.data`,
                    '-p',
                    String(pid),
                  ],
                  { stdio: 'ignore' },
                ),
              );
      const ioBefore = system.pids().map(procIo);
      const selfBefore = procIo(process.pid);
      const load = await runClosedLoop({
        concurrency,
        operations: ops,
        warmupOperations: 0,
        op: (i) =>
          op === 'get'
            ? pinned
                .get(`wire/${i % 200}`)
                .serializable(true)
                .buffer()
            : pinned
                .put(`wire/${i % 200}`)
                .value(value)
                .exec(),
        serverPids: system.pids(),
      });
      const ioAfter = system.pids().map(procIo);
      await Promise.all(
        perfRuns.map(
          (p) =>
            new Promise((resolve) => {
              p.once('exit', resolve);
              p.kill('SIGINT');
            }),
        ),
      );
      const selfAfter = procIo(process.pid);
      system
        .pids()
        .forEach((_, i) =>
          settings.push(
            `${system.name} ${i === leader ? 'leader' : 'follower'} per op: ${ioPerOp(ioBefore[i] ?? new Map(), ioAfter[i] ?? new Map(), ops)}`,
          ),
        );
      settings.push(`${system.name} client per op: ${ioPerOp(selfBefore, selfAfter, ops)}`);
      if (traces.length > 0) {
        const [server, self] = await Promise.all(traces.map((stop) => stop()));
        settings.push(`${system.name} leader syscalls/op: ${syscalls(server ?? new Map(), ops)}`);
        settings.push(`${system.name} client syscalls/op: ${syscalls(self ?? new Map(), ops)}`);
      }
      rows.push([
        system.name,
        'server→client',
        ...describe(r.down, ops),
        fmt(load.clientCpuUsPerOp),
      ]);
      rows.push([system.name, 'client→server', ...describe(r.up, ops), '']);
      settings.push(`${system.name} server SETTINGS: ${r.down.settings.join(' ')}`);
      settings.push(`${system.name} client SETTINGS: ${r.up.settings.join(' ')}`);
    } finally {
      client?.close();
      r?.close();
      await system.stop();
    }
  }
  return [
    `${op} c=${concurrency}, ${ops} operations through a frame-counting relay`,
    table(
      [
        'system',
        'direction',
        'reads/op',
        'bytes/op',
        'frames/op',
        'bytes per frame',
        'client CPU µs/op',
      ],
      rows,
    ),
    ...settings,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
