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
import type { MemberRecord, Message, RecordUpdate, Update } from '../src/membership/messages.js';
import { signAccusation, signRecord } from '../src/membership/record.js';
import {
  identityFromSeed,
  memberCrypto,
  publicKeyHex,
  type SigningIdentity,
} from '../src/identity/member-crypto.js';
import type { NodeId } from '../src/identity/node-id.js';

const CLUSTER_ID = 'prod-eu-1';
const RUNS = 7;
const RUN_TARGET_MS = 150;

const identities = new Map<number, SigningIdentity>();

/** Member `i`'s Ed25519 identity (deterministic): records in the bench carry real keys and signatures. */
function identity(i: number): SigningIdentity {
  let found = identities.get(i);
  if (found === undefined) {
    const seed = new Uint8Array(32).fill(7);
    new DataView(seed.buffer).setUint32(0, i);
    identities.set(i, (found = identityFromSeed(seed)));
  }
  return found;
}

function nodeId(i: number): NodeId {
  return identity(i).nodeId;
}

function aliveRecord(i: number, incarnationValue: number): Update {
  return signRecord(memberCrypto(identity(i)), CLUSTER_ID, 'alive', {
    id: nodeId(i),
    incarnation: incarnation(incarnationValue),
    name: `api-${i}`,
    address: address(i),
    labels: LABELS,
    publicKey: publicKeyHex(identity(i)),
    certificate: undefined,
  });
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
        ? signAccusation(memberCrypto(identity(1)), CLUSTER_ID, {
            kind: 'suspect',
            id: nodeId(i + 10),
            incarnation: incarnation(17 + i),
            from: nodeId(1),
          })
        : aliveRecord(i + 10, 40 + i),
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
    const { kind: _kind, ...fields } = aliveRecord(i, 3 + (i % 7)) as RecordUpdate;
    const suspect = i % 10 === 9;
    members.push({
      ...fields,
      state: suspect ? 'suspect' : 'alive',
      accusation: suspect ? { from: nodeId(1), signature: fields.signature } : undefined,
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
