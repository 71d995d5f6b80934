/**
 * What a signature costs membership (issue 12), one number at a time, in one process:
 *
 * - CPU: µs per Ed25519 operation as membership makes them (record bytes built, key hashed to
 *   the id, the check): signing a record and an accusation; verifying a record the process has
 *   not seen (every record is new: the cache of successes cannot help), one it has (a cache hit:
 *   what a process running many nodes pays for the second node on), a forged record (a valid key
 *   and id, a wrong signature: what a flood costs per packet, never cached), a record whose key
 *   does not hash to its id (refused before any check); and per core, how many of each per
 *   second. Median [min–max] of `--runs` (7) runs of `--records` (1,000) distinct records.
 * - Bytes: each update kind and a push-pull member as encoded on the wire, signed (this tree)
 *   against unsigned (the codec of `--baseline-ref`, by default the last commit before issue 12,
 *   loaded from a `git archive` copy), and how many alive updates fit in one packet after a ping.
 *
 * `npx tsx bench/membership-signatures.ts [--runs 7] [--records 1000] [--baseline-ref REF|none]`
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Address } from '../src/base/address.js';
import { LIMITS } from '../src/base/limits.js';
import { incarnation } from '../src/base/units.js';
import { identityFromSeed, memberCrypto, publicKeyHex } from '../src/identity/member-crypto.js';
import type { NodeId } from '../src/identity/node-id.js';
import type { Signature } from '../src/identity/signed.js';
import { messageEncodedBytes, updateEncodedBytes } from '../src/membership/codec.js';
import type {
  AccusationUpdate,
  MemberRecord,
  Message,
  RecordUpdate,
  Update,
} from '../src/membership/messages.js';
import {
  accusationVerifies,
  recordVerifies,
  signAccusation,
  signRecord,
} from '../src/membership/record.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  fmtRange,
  isMain,
  machineNote,
  median,
  parseFlags,
  table,
} from './lib-report.js';
import { UNSIGNED_BASELINE_REF, baselineTree } from './membership-signed.js';

const CLUSTER_ID = 'prod-eu-1';
const LABELS = { zone: 'eu-west-1a', role: 'api', version: '1.4.2' };
const PUSH_PULL_MEMBERS = 50;
/** Labels of a leader's record (a claim: election/swim/claim.ts). */
const LEADER_LABELS = { ...LABELS, 'shoal.leader-term': '42' };

const subject = identityFromSeed(new Uint8Array(32).fill(1));
const accuser = identityFromSeed(new Uint8Array(32).fill(2));
const subjectCrypto = memberCrypto(subject);
const accuserCrypto = memberCrypto(accuser);
const ADDRESS = '10.0.0.1:7946' as Address;

/** Incarnations never reused within a process, so every record signed here is new to the cache. */
let nextIncarnation = 1;

function aliveRecord(inc: number, labels = LABELS): RecordUpdate {
  return signRecord(subjectCrypto, CLUSTER_ID, 'alive', {
    id: subject.nodeId,
    incarnation: incarnation(inc),
    name: 'api-1',
    address: ADDRESS,
    labels,
    publicKey: publicKeyHex(subject),
    certificate: undefined,
  });
}

/** The same record with one bit of its signature flipped: a forgery with a valid key and id. */
function forged(record: RecordUpdate): RecordUpdate {
  const last = parseInt(record.signature.slice(-2), 16) ^ 1;
  const signature = `${record.signature.slice(0, -2)}${last.toString(16).padStart(2, '0')}`;
  return { ...record, signature: signature as Signature };
}

/** The accuser's suspicion of the subject at `inc`. */
function accusationAt(inc: number, kind: 'suspect' | 'dead' = 'suspect'): AccusationUpdate {
  return signAccusation(accuserCrypto, CLUSTER_ID, {
    kind,
    id: subject.nodeId,
    incarnation: incarnation(inc),
    from: accuser.nodeId,
  });
}

interface Op {
  name: string;
  /** Runs `count` operations on fresh inputs prepared before the clock starts; returns their µs. */
  timeUs(count: number): number;
}

function timed(inputs: readonly unknown[], fn: (input: unknown) => unknown): number {
  const start = performance.now();
  for (const input of inputs) fn(input);
  return (performance.now() - start) * 1000;
}

function freshRecords(count: number): RecordUpdate[] {
  const records: RecordUpdate[] = [];
  for (let i = 0; i < count; i++) records.push(aliveRecord(nextIncarnation++));
  return records;
}

function expectAll(result: unknown, wanted: unknown, what: string): void {
  if (result !== wanted)
    throw new Error(`${what}: got ${String(result)}, expected ${String(wanted)}`);
}

const OPS: readonly Op[] = [
  {
    name: 'sign a record',
    timeUs: (count) => {
      const incs = Array.from({ length: count }, () => nextIncarnation++);
      return timed(incs, (inc) => aliveRecord(inc as number));
    },
  },
  {
    name: 'sign an accusation',
    timeUs: (count) => {
      const incs = Array.from({ length: count }, () => nextIncarnation++);
      return timed(incs, (inc) => accusationAt(inc as number));
    },
  },
  {
    name: 'verify a new record',
    timeUs: (count) =>
      timed(freshRecords(count), (r) =>
        expectAll(
          recordVerifies(subjectCrypto, CLUSTER_ID, 'alive', r as RecordUpdate),
          'ok',
          'new',
        ),
      ),
  },
  {
    name: 'verify a record seen before (cache hit)',
    timeUs: (count) => {
      const records = freshRecords(count);
      for (const r of records) recordVerifies(subjectCrypto, CLUSTER_ID, 'alive', r);
      return timed(records, (r) =>
        expectAll(
          recordVerifies(subjectCrypto, CLUSTER_ID, 'alive', r as RecordUpdate),
          'ok',
          'hit',
        ),
      );
    },
  },
  {
    name: 'refuse a forged signature',
    timeUs: (count) =>
      timed(freshRecords(count).map(forged), (r) =>
        expectAll(
          recordVerifies(subjectCrypto, CLUSTER_ID, 'alive', r as RecordUpdate),
          'signature_invalid',
          'forged',
        ),
      ),
  },
  {
    name: 'refuse a key that is not the id’s',
    timeUs: (count) =>
      timed(
        freshRecords(count).map((r) => ({ ...r, id: accuser.nodeId })),
        (r) =>
          expectAll(
            recordVerifies(subjectCrypto, CLUSTER_ID, 'alive', r as RecordUpdate),
            'key_mismatch',
            'mismatch',
          ),
      ),
  },
  {
    name: 'verify a new accusation',
    timeUs: (count) => {
      const accusations = Array.from({ length: count }, () => accusationAt(nextIncarnation++));
      const key = publicKeyHex(accuser);
      return timed(accusations, (a) =>
        expectAll(
          accusationVerifies(accuserCrypto, CLUSTER_ID, a as AccusationUpdate, key),
          true,
          'accusation',
        ),
      );
    },
  },
];

export interface CpuRow {
  name: string;
  /** µs per operation, one value per run. */
  usPerOp: number[];
}

/**
 * Runs are interleaved (run 1 of every operation, then run 2, ...): on a shared machine the load
 * changes within seconds, and timing each operation's runs back to back compared moments, not
 * operations (a first version put a new record's check at three times a forged one's).
 */
export function measureCpu(runs: number, records: number): CpuRow[] {
  for (const op of OPS) op.timeUs(Math.min(200, records)); // warm up
  const rows = OPS.map((op) => ({ name: op.name, usPerOp: [] as number[] }));
  for (let run = 0; run < runs; run++)
    OPS.forEach((op, i) => rows[i]?.usPerOp.push(op.timeUs(records) / records));
  return rows;
}

/** The codec functions both trees export under the same names (their Update types differ). */
interface Codec {
  updateEncodedBytes(update: unknown): number;
  messageEncodedBytes(msg: unknown, clusterId: string): number;
}

interface SizeCase {
  name: string;
  signed: Update;
  /** The same update as the unsigned codec had it. */
  unsigned: Record<string, unknown>;
}

function sizeCases(): SizeCase[] {
  const alive = aliveRecord(7);
  const leader = aliveRecord(7, LEADER_LABELS);
  const left = signRecord(subjectCrypto, CLUSTER_ID, 'left', {
    ...alive,
    incarnation: incarnation(8),
  });
  const base = { id: subject.nodeId, incarnation: incarnation(7) };
  const aliveUnsigned = { kind: 'alive', ...base, name: 'api-1', address: ADDRESS, labels: LABELS };
  return [
    { name: 'alive (3 labels)', signed: alive, unsigned: aliveUnsigned },
    {
      name: 'alive with a leader claim',
      signed: leader,
      unsigned: { ...aliveUnsigned, labels: LEADER_LABELS },
    },
    {
      name: 'left',
      signed: left,
      unsigned: { kind: 'left', id: subject.nodeId, incarnation: incarnation(8) },
    },
    {
      name: 'suspect',
      signed: accusationAt(7, 'suspect'),
      unsigned: { kind: 'suspect', ...base, from: accuser.nodeId },
    },
    {
      name: 'dead',
      signed: accusationAt(7, 'dead'),
      unsigned: { kind: 'dead', ...base, from: accuser.nodeId },
    },
  ];
}

function ping(updates: readonly unknown[]): Record<string, unknown> {
  return {
    type: 'ping',
    seq: 918_273,
    from: accuser.nodeId,
    fromAddress: ADDRESS,
    target: subject.nodeId,
    updates,
  };
}

function pushPull(members: readonly unknown[]): Record<string, unknown> {
  return {
    type: 'push-pull',
    from: accuser.nodeId,
    fromAddress: ADDRESS,
    join: false,
    reply: true,
    configFingerprint: '9f2c1d7a44b0e8e1',
    members,
  };
}

function members(signed: boolean): unknown[] {
  const list: unknown[] = [];
  for (let i = 0; i < PUSH_PULL_MEMBERS; i++) {
    const identity = identityFromSeed(new Uint8Array(32).fill(10 + i));
    const fields = {
      id: identity.nodeId as NodeId,
      incarnation: incarnation(3 + (i % 7)),
      name: `api-${i}`,
      address: `10.0.1.${i}:7946` as Address,
      labels: LABELS,
    };
    if (!signed) {
      list.push({ ...fields, state: 'alive' });
      continue;
    }
    const { kind: _kind, ...record } = signRecord(memberCrypto(identity), CLUSTER_ID, 'alive', {
      ...fields,
      publicKey: publicKeyHex(identity),
      certificate: undefined,
    });
    list.push({ ...record, state: 'alive', accusation: undefined } satisfies MemberRecord);
  }
  return list;
}

export interface SizeRow {
  name: string;
  signedBytes: number;
  unsignedBytes: number | undefined;
}

function perPacket(codec: Codec, update: unknown): number {
  const room = LIMITS.packetBytesMax - codec.messageEncodedBytes(ping([]), CLUSTER_ID);
  // Each update's bytes, plus up to 2 bytes of list length: what fits in the rest of a packet.
  return Math.floor((room - 2) / codec.updateEncodedBytes(update));
}

export function measureSizes(unsigned: Codec | undefined): SizeRow[] {
  const signed: Codec = {
    updateEncodedBytes: (u) => updateEncodedBytes(u as Update),
    messageEncodedBytes: (m, id) => messageEncodedBytes(m as Message, id),
  };
  const cases = sizeCases();
  const rows: SizeRow[] = cases.map((c) => ({
    name: c.name,
    signedBytes: signed.updateEncodedBytes(c.signed),
    unsignedBytes: unsigned?.updateEncodedBytes(c.unsigned),
  }));
  const alive = cases[0] as SizeCase;
  rows.push({
    name: 'alive updates per packet (after a ping)',
    signedBytes: perPacket(signed, alive.signed),
    unsignedBytes: unsigned === undefined ? undefined : perPacket(unsigned, alive.unsigned),
  });
  const perMember = (codec: Codec, list: unknown[]): number =>
    (codec.messageEncodedBytes(pushPull(list), CLUSTER_ID) -
      codec.messageEncodedBytes(pushPull([]), CLUSTER_ID)) /
    list.length;
  rows.push({
    name: `push-pull, per member (${PUSH_PULL_MEMBERS} members)`,
    signedBytes: perMember(signed, members(true)),
    unsignedBytes: unsigned === undefined ? undefined : perMember(unsigned, members(false)),
  });
  return rows;
}

async function baselineCodec(ref: string): Promise<Codec | undefined> {
  if (ref === 'none') return undefined;
  const dir = baselineTree(resolve(import.meta.dirname, '..'), ref);
  return (await import(pathToFileURL(`${dir}/src/membership/codec.ts`).href)) as Codec;
}

export async function run(
  argv: readonly string[] = isMain(import.meta.url) ? process.argv.slice(2) : [],
): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['runs', 'records', 'baseline-ref']);
  const runs = flagNumber(flags, 'runs', 7);
  const records = flagNumber(flags, 'records', 1000);
  const ref = flags.get('baseline-ref') ?? UNSIGNED_BASELINE_REF;
  const cpu = measureCpu(runs, records);
  const sizes = measureSizes(await baselineCodec(ref));
  const cpuTable = table(
    ['operation', 'µs per operation, median [min–max]', 'per second per core (median)'],
    cpu.map((r) => [r.name, fmtRange(r.usPerOp, 1), fmt(1e6 / (median(r.usPerOp) as number))]),
  );
  const sizeTable = table(
    ['on the wire', 'signed B', `unsigned (${ref}) B`, 'signed ÷ unsigned'],
    sizes.map((r) => [
      r.name,
      fmt(r.signedBytes, Number.isInteger(r.signedBytes) ? 0 : 1),
      fmt(
        r.unsignedBytes,
        r.unsignedBytes !== undefined && !Number.isInteger(r.unsignedBytes) ? 1 : 0,
      ),
      r.unsignedBytes === undefined ? '—' : `${(r.signedBytes / r.unsignedBytes).toFixed(2)}×`,
    ]),
  );
  return [
    `${runs} runs of ${records} distinct records each.`,
    cpuTable,
    sizeTable,
    machineNote(),
  ].join('\n\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run()}\n`);
