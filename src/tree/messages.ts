/**
 * Merkle sync of shared trees on the wire (docs/design/data-plane.md, "Merkle sync on the
 * network"): one envelope type, 46 `data-tree` (the data plane's 40-49 range, wire.md), whose
 * body starts with a kind byte and a request id:
 *
 * - `descend` (1): tree name, the asker's depth, a level, the asker's root (32 bytes), the
 *   indices of nodes at that level whose children the asker wants ("level 0, node 0" first).
 * - `hashes` (2): a status (`ok` 0; `absent` 1: no such tree here and none opened; `shape` 2: my
 *   depth differs, here it is), the answerer's depth and root, then, unless the roots are equal,
 *   `fanout` child hashes per node asked, in order.
 * - `buckets` (3): tree name, depth, then per bucket its index and the asker's (key, leaf hash)
 *   pairs: "here is what I hold there".
 * - `entries` (4): a status, the answerer's entries that the asker lacks or holds differently,
 *   and the keys it wants from the asker (ones it lacks).
 * - `push` (5): tree name, entries (one way: the asker's side of a bucket exchange).
 *
 * An entry: key, flags (bit 0: deleted), HLC wall ms and logical, writer (16 bytes), value
 * (varint length, bytes), signature (64). Bad bytes are a refusal with an ERR_DECODE_* code
 * (counted by the caller), never a throw; every entry still has its signature checked by the
 * service before it is merged.
 */
import { compileTable, type CompiledTable } from '../codec/codec.js';
import { DecodeFailure, type Reader, type Writer } from '../codec/bytes.js';
import { HLC_LOGICAL_MAX } from '../crdt/hlc.js';
import { writeEntryFields, type TreeEntry, type TreeLimits } from './shared.js';

/** APPEND ONLY: the envelope type of every tree message. */
export const TREE_MESSAGE_TYPE = 46;

/** APPEND ONLY: kind bytes and statuses are on the wire. */
const KIND_NUMBERS = { descend: 1, hashes: 2, buckets: 3, entries: 4, push: 5 } as const;
const STATUS_NUMBERS = { ok: 0, absent: 1, shape: 2 } as const;
const STATUS_NAMES = ['ok', 'absent', 'shape'] as const;

export type TreeStatus = keyof typeof STATUS_NUMBERS;

export const HASH_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** Most nodes one `descend` names (its answer: 2,048 × 16 hashes = 1 MiB). */
export const DESCEND_NODES_MAX = 2048;
/** Most buckets one `buckets` request names. */
export const BUCKETS_PER_REQUEST_MAX = 4096;

export interface BucketDigest {
  bucket: number;
  pairs: Array<{ key: string; leafHash: Uint8Array }>;
}

export type TreeBody =
  | {
      kind: 'descend';
      id: number;
      name: string;
      depth: number;
      level: number;
      root: Uint8Array;
      nodes: number[];
    }
  | {
      kind: 'hashes';
      id: number;
      status: TreeStatus;
      depth: number;
      root: Uint8Array;
      hashes: Uint8Array[];
    }
  | { kind: 'buckets'; id: number; name: string; depth: number; buckets: BucketDigest[] }
  | { kind: 'entries'; id: number; status: TreeStatus; entries: TreeEntry[]; wants: string[] }
  | { kind: 'push'; id: number; name: string; entries: TreeEntry[] };

export interface TreeMessage {
  readonly type: 'data-tree';
  readonly body: TreeBody;
}

const ENTRY_BYTES_MIN = 1 + 1 + 1 + 1 + 16 + 1 + SIGNATURE_BYTES;
const PAIR_BYTES_MIN = 1 + HASH_BYTES;

/** The bytes `entry` takes on the wire (the service's answer budgets). */
export function entryWireBytes(entry: TreeEntry): number {
  return ENTRY_BYTES_MIN + 8 + entry.key.length * 3 + 8 + entry.value.length;
}

function writeEntries(w: Writer, entries: readonly TreeEntry[], limits: TreeLimits): void {
  w.varint(entries.length);
  for (const e of entries) {
    writeEntryFields(w, e, limits.keyBytesMax);
    w.bytes(e.signature);
  }
}

function writeBody(w: Writer, body: TreeBody, limits: TreeLimits): void {
  w.u8(KIND_NUMBERS[body.kind]);
  w.varint(body.id);
  switch (body.kind) {
    case 'descend':
      w.string(body.name, limits.nameBytesMax);
      w.varint(body.depth);
      w.varint(body.level);
      w.bytes(body.root);
      w.count(body.nodes.length, DESCEND_NODES_MAX);
      for (const n of body.nodes) w.varint(n);
      return;
    case 'hashes':
      w.u8(STATUS_NUMBERS[body.status]);
      w.varint(body.depth);
      w.bytes(body.root);
      w.count(body.hashes.length, DESCEND_NODES_MAX * limits.fanout);
      for (const h of body.hashes) w.bytes(h);
      return;
    case 'buckets':
      w.string(body.name, limits.nameBytesMax);
      w.varint(body.depth);
      w.count(body.buckets.length, BUCKETS_PER_REQUEST_MAX);
      for (const b of body.buckets) {
        w.varint(b.bucket);
        w.varint(b.pairs.length);
        for (const p of b.pairs) {
          w.string(p.key, limits.keyBytesMax);
          w.bytes(p.leafHash);
        }
      }
      return;
    case 'entries':
      w.u8(STATUS_NUMBERS[body.status]);
      writeEntries(w, body.entries, limits);
      w.varint(body.wants.length);
      for (const key of body.wants) w.string(key, limits.keyBytesMax);
      return;
    case 'push':
      w.string(body.name, limits.nameBytesMax);
      writeEntries(w, body.entries, limits);
      return;
  }
}

function readStatus(r: Reader): TreeStatus {
  const n = r.u8('tree status');
  const status = STATUS_NAMES[n];
  if (status === undefined) throw new DecodeFailure('ERR_DECODE_MALFORMED', `tree status ${n}`);
  return status;
}

function readEntries(r: Reader, limits: TreeLimits): TreeEntry[] {
  const count = r.count('tree entries', ENTRY_BYTES_MIN);
  const entries: TreeEntry[] = [];
  for (let i = 0; i < count; i++) {
    const key = r.string('entry key', limits.keyBytesMax);
    const flags = r.u8('entry flags');
    if (flags > 1) throw new DecodeFailure('ERR_DECODE_MALFORMED', `entry flags ${flags}`);
    const wallMs = r.varint('entry hlc wall');
    const logical = r.varint('entry hlc logical');
    if (logical > HLC_LOGICAL_MAX)
      throw new DecodeFailure('ERR_DECODE_MALFORMED', `entry hlc logical ${logical}`);
    const writer = r.nodeId('entry writer');
    const length = r.varint('value length');
    if (length > limits.valueBytesMax)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `value of ${length} bytes exceeds valueBytesMax ${limits.valueBytesMax}`,
      );
    const value = r.bytes(length, 'value').slice();
    if (flags === 1 && length > 0)
      throw new DecodeFailure('ERR_DECODE_MALFORMED', 'a tombstone with a value');
    const signature = r.bytes(SIGNATURE_BYTES, 'entry signature').slice();
    entries.push({ key, value, deleted: flags === 1, hlc: { wallMs, logical }, writer, signature });
  }
  return entries;
}

function tooMany(what: string, count: number, max: number): DecodeFailure {
  return new DecodeFailure('ERR_DECODE_OVERSIZED', `${count} ${what} exceed ${max}`);
}

function readBody(r: Reader, limits: TreeLimits): TreeBody {
  const kindByte = r.u8('tree kind');
  const id = r.varint('request id');
  switch (kindByte) {
    case KIND_NUMBERS.descend: {
      const name = r.string('tree name', limits.nameBytesMax);
      const depth = r.varint('tree depth');
      const level = r.varint('tree level');
      const root = r.bytes(HASH_BYTES, 'tree root').slice();
      const count = r.count('descend nodes', 1);
      if (count > DESCEND_NODES_MAX) throw tooMany('nodes', count, DESCEND_NODES_MAX);
      const nodes: number[] = [];
      for (let i = 0; i < count; i++) nodes.push(r.varint('node index'));
      return { kind: 'descend', id, name, depth, level, root, nodes };
    }
    case KIND_NUMBERS.hashes: {
      const status = readStatus(r);
      const depth = r.varint('tree depth');
      const root = r.bytes(HASH_BYTES, 'tree root').slice();
      const count = r.count('hashes', HASH_BYTES);
      if (count > DESCEND_NODES_MAX * limits.fanout)
        throw tooMany('hashes', count, DESCEND_NODES_MAX * limits.fanout);
      const hashes: Uint8Array[] = [];
      for (let i = 0; i < count; i++) hashes.push(r.bytes(HASH_BYTES, 'hash').slice());
      return { kind: 'hashes', id, status, depth, root, hashes };
    }
    case KIND_NUMBERS.buckets: {
      const name = r.string('tree name', limits.nameBytesMax);
      const depth = r.varint('tree depth');
      const count = r.count('buckets', 2);
      if (count > BUCKETS_PER_REQUEST_MAX) throw tooMany('buckets', count, BUCKETS_PER_REQUEST_MAX);
      const buckets: BucketDigest[] = [];
      for (let i = 0; i < count; i++) {
        const bucket = r.varint('bucket index');
        const pairCount = r.count('bucket pairs', PAIR_BYTES_MIN);
        const pairs: BucketDigest['pairs'] = [];
        for (let j = 0; j < pairCount; j++)
          pairs.push({
            key: r.string('pair key', limits.keyBytesMax),
            leafHash: r.bytes(HASH_BYTES, 'pair hash').slice(),
          });
        buckets.push({ bucket, pairs });
      }
      return { kind: 'buckets', id, name, depth, buckets };
    }
    case KIND_NUMBERS.entries: {
      const status = readStatus(r);
      const entries = readEntries(r, limits);
      const count = r.count('wanted keys', 1);
      const wants: string[] = [];
      for (let i = 0; i < count; i++) wants.push(r.string('wanted key', limits.keyBytesMax));
      return { kind: 'entries', id, status, entries, wants };
    }
    case KIND_NUMBERS.push: {
      const name = r.string('tree name', limits.nameBytesMax);
      return { kind: 'push', id, name, entries: readEntries(r, limits) };
    }
    default:
      throw new DecodeFailure('ERR_DECODE_MALFORMED', `tree kind ${kindByte}`);
  }
}

/** The tree message table for a node's limits. */
export function treeMessages(limits: TreeLimits): CompiledTable<TreeMessage> {
  return compileTable<TreeMessage>({
    numbers: { 'data-tree': TREE_MESSAGE_TYPE },
    write: (w, msg) => writeBody(w, msg.body, limits),
    read: (r) => ({ type: 'data-tree', body: readBody(r, limits) }),
  });
}
