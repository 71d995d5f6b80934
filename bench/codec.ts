/**
 * Codec throughput: encode and decode of typical gossip traffic, beside JSON of the same data.
 * Cases: a ping carrying 6 piggybacked updates (the common UDP packet) and a push-pull of 50
 * members (the anti-entropy stream message). Each figure is the median of several timed runs.
 *
 * `npx tsx bench/codec.ts` prints a markdown table; `run()` returns it for bench/run.ts and
 * `measure()` returns the numbers.
 */
import { incarnation } from '../src/base/units.js';
import { pathToFileURL } from 'node:url';
import type { Address } from '../src/base/address.js';
import { decodeMessage, encodeMessage } from '../src/membership/codec.js';
import type { MemberRecord, Message, Update } from '../src/membership/messages.js';
import type { NodeId } from '../src/identity/node-id.js';

const CLUSTER_ID = 'prod-eu-1';
const RUNS = 7;
const RUN_TARGET_MS = 150;

function nodeId(i: number): NodeId {
  return (i.toString(16).padStart(8, '0') + 'a3f19c0d7e2b44f1'.padEnd(24, '9')).slice(
    0,
    32,
  ) as NodeId;
}

function address(i: number): Address {
  return `10.0.${i >> 8}.${i & 255}:7946` as Address;
}

const LABELS = { zone: 'eu-west-1a', role: 'api', version: '1.4.2' };

function pingWithUpdates(): Message {
  const updates: Update[] = [];
  for (let i = 0; i < 6; i++) {
    updates.push(
      i % 3 === 2
        ? { kind: 'suspect', id: nodeId(i + 10), incarnation: incarnation(17 + i), from: nodeId(1) }
        : {
            kind: 'alive',
            id: nodeId(i + 10),
            incarnation: incarnation(40 + i),
            name: `api-${i + 10}`,
            address: address(i + 10),
            labels: LABELS,
          },
    );
  }
  return {
    type: 'ping',
    seq: 918_273,
    from: nodeId(1),
    fromAddress: address(1),
    target: nodeId(2),
    updates,
  };
}

function pushPull(memberCount: number): Message {
  const members: MemberRecord[] = [];
  for (let i = 0; i < memberCount; i++) {
    members.push({
      id: nodeId(i),
      name: `node-${i}`,
      address: address(i),
      state: i % 10 === 9 ? 'suspect' : 'alive',
      incarnation: incarnation(3 + (i % 7)),
      labels: LABELS,
    });
  }
  return {
    type: 'push-pull',
    from: nodeId(1),
    fromAddress: address(1),
    join: false,
    reply: true,
    configFingerprint: '9f2c1d7a44b0e8e1',
    members,
  };
}

export interface CodecBenchRow {
  case: string;
  format: 'shoal' | 'json';
  op: 'encode' | 'decode';
  bytes: number;
  messagesPerSec: number;
  megabytesPerSec: number;
}

/** Median ops/s of `fn` over RUNS runs of about RUN_TARGET_MS each. */
function opsPerSec(fn: () => unknown): number {
  // Warm up (lets the JIT settle) and calibrate how many calls fill one run.
  let calls = 0;
  const warmStart = performance.now();
  while (performance.now() - warmStart < 50) {
    for (let i = 0; i < 100; i++) fn();
    calls += 100;
  }
  const perRun = Math.max(1, Math.round((calls * RUN_TARGET_MS) / (performance.now() - warmStart)));
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    for (let i = 0; i < perRun; i++) fn();
    rates.push(perRun / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(RUNS / 2)] as number;
}

function row(
  name: string,
  format: CodecBenchRow['format'],
  op: CodecBenchRow['op'],
  bytes: number,
  fn: () => unknown,
): CodecBenchRow {
  const rate = opsPerSec(fn);
  return {
    case: name,
    format,
    op,
    bytes,
    messagesPerSec: rate,
    megabytesPerSec: (rate * bytes) / 1e6,
  };
}

function benchCase(name: string, msg: Message): CodecBenchRow[] {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const shoalBytes = encodeMessage(msg, CLUSTER_ID);
  const jsonBytes = encoder.encode(JSON.stringify({ clusterId: CLUSTER_ID, message: msg }));
  const expect = { clusterId: CLUSTER_ID };
  return [
    row(name, 'shoal', 'encode', shoalBytes.length, () => encodeMessage(msg, CLUSTER_ID)),
    row(name, 'json', 'encode', jsonBytes.length, () =>
      encoder.encode(JSON.stringify({ clusterId: CLUSTER_ID, message: msg })),
    ),
    row(name, 'shoal', 'decode', shoalBytes.length, () => decodeMessage(shoalBytes, expect)),
    row(
      name,
      'json',
      'decode',
      jsonBytes.length,
      () => JSON.parse(decoder.decode(jsonBytes)) as unknown,
    ),
  ];
}

export function measure(): CodecBenchRow[] {
  return [
    ...benchCase('ping + 6 updates', pingWithUpdates()),
    ...benchCase('push-pull, 50 members', pushPull(50)),
  ];
}

function format(rows: CodecBenchRow[]): string {
  const lines = [
    '| case | op | format | bytes | messages/s | MB/s | shoal / json (messages/s) |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const json = rows.find(
      (o) => o.case === r.case && o.op === r.op && o.format === 'json',
    ) as CodecBenchRow;
    const ratio =
      r.format === 'shoal' ? `${(r.messagesPerSec / json.messagesPerSec).toFixed(2)}x` : '';
    lines.push(
      `| ${r.case} | ${r.op} | ${r.format} | ${r.bytes} | ${Math.round(r.messagesPerSec).toLocaleString('en-US')} | ${r.megabytesPerSec.toFixed(1)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

export async function run(): Promise<string> {
  return format(measure());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${await run()}\n`);
}
