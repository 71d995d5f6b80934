/**
 * The node's own chain on disk (docs/design/data-plane.md, "Chains on the network"): one file,
 * `chain.log` in the data dir, of records appended and fsynced one per entry: varint record
 * length, then seq varint, prevHash (32), payload (varint length + bytes), signature (64). No
 * checksum of its own: every entry read back must pass `ChainReplica.check` (its link to the one
 * before and its signature under the node's key), which finds a damaged record as surely.
 *
 * At boot the file is read in order; the first record that is torn (its length runs past the end)
 * or does not verify ends the chain there, and the file is rewritten to the good prefix (written,
 * fsynced, renamed, directory fsynced) so the next append does not land after garbage. Entries
 * the node takes back from its peers (its own chain as they hold it, longer than its disk's) are
 * appended the same way.
 *
 * Compaction: once the file holds twice `keep` records (the chain's `hashesKeptMax`, what the
 * node keeps of its chain in memory at most), it is rewritten to its last `keep` records (written
 * to `chain.log.tmp`, fsynced, renamed over, directory fsynced: a crash leaves the old file or the
 * new one). A file whose first record is past seq 1 is read back anchored at it
 * (`ChainReplica.anchor`: its signature under the node's key, its link as the known hash below),
 * so boot time and disk stay bounded by `keep` whatever the chain's length; entries older than
 * `keep` were already out of memory, served to nobody, and their hashes forgotten.
 *
 * Pure: the Storage seam only (src/base/storage.ts), so the simulator's crash model judges it.
 */
import type { Storage } from '../base/storage.js';
import { DecodeFailure, Reader, Writer } from '../codec/bytes.js';
import { DEFAULT_CODEC_LIMITS } from '../codec/codec.js';
import { HASH_BYTES, SIGNATURE_BYTES, type ChainEntry, type LocalChain } from './chain.js';

export const CHAIN_FILE = 'chain.log';
const CHAIN_FILE_TMP = 'chain.log.tmp';

const writer = new Writer(1024);

/** One entry's record bytes (length prefix included). */
export function encodeRecord(entry: ChainEntry): Uint8Array {
  writer.reset();
  writer.varint(entry.seq);
  writer.bytes(entry.prevHash);
  writer.varint(entry.payload.length);
  writer.bytes(entry.payload);
  writer.bytes(entry.signature);
  const body = writer.finish();
  const w = new Writer(body.length + 8);
  w.varint(body.length);
  w.bytes(body);
  return w.finish();
}

export interface LoadResult {
  /** Entries read back and verified. */
  entries: number;
  /** Why reading stopped before the end of the file (the file was then cut to the good prefix). */
  damaged?: string;
}

/**
 * Reads `chain.log` into `chain` (empty, the node's own), verifying every entry; cuts a damaged
 * or torn tail off the file.
 */
export function loadChain(storage: Storage, chain: LocalChain): LoadResult {
  const bytes = storage.read(CHAIN_FILE);
  if (bytes === undefined) return { entries: 0 };
  const r = new Reader(bytes, DEFAULT_CODEC_LIMITS);
  let good = 0;
  let entries = 0;
  let damaged: string | undefined;
  while (r.remaining > 0) {
    let entry: ChainEntry;
    try {
      const length = r.varint('record length');
      if (length > r.remaining) throw new DecodeFailure('ERR_DECODE_TRUNCATED', 'torn record');
      const body = new Reader(r.bytes(length, 'record'), DEFAULT_CODEC_LIMITS);
      const seq = body.varint('seq');
      const prevHash = body.bytes(HASH_BYTES, 'prevHash').slice();
      const payload = body.bytes(body.varint('payload length'), 'payload').slice();
      const signature = body.bytes(SIGNATURE_BYTES, 'signature').slice();
      body.end();
      entry = { owner: chain.owner, seq, prevHash, payload, signature };
    } catch (err) {
      if (!(err instanceof DecodeFailure)) throw err;
      damaged = `record at byte ${good}: ${err.detail}`;
      break;
    }
    // A compacted file starts past seq 1: anchored at its first record (signed by this node).
    const refused =
      entries === 0 && entry.seq > 1 && chain.headSeq === 0
        ? chain.anchor(entry)
        : chain.check(entry);
    if (refused !== undefined) {
      damaged = `entry ${entry.seq} at byte ${good}: ${refused}`;
      break;
    }
    if (!(entries === 0 && entry.seq > 1)) chain.restore(entry);
    entries++;
    good = bytes.length - r.remaining;
  }
  if (damaged !== undefined) {
    storage.writeFile(CHAIN_FILE_TMP, bytes.subarray(0, good));
    storage.fsync(CHAIN_FILE_TMP);
    storage.rename(CHAIN_FILE_TMP, CHAIN_FILE);
    storage.fsyncDir('');
    return { entries, damaged };
  }
  return { entries };
}

/**
 * The chain file of one node: appends an entry and makes it durable before returning; compacts
 * to the last `keep` records once it holds twice that (`records`: how many it holds now).
 */
export class ChainFile {
  private exists: boolean;
  /** Times the file was rewritten to its last `keep` records. */
  compactions = 0;

  constructor(
    private readonly storage: Storage,
    private readonly keep: number,
    private records: number,
  ) {
    this.exists = storage.read(CHAIN_FILE) !== undefined;
  }

  append(entry: ChainEntry): void {
    this.storage.append(CHAIN_FILE, encodeRecord(entry));
    this.storage.fsync(CHAIN_FILE);
    if (!this.exists) this.storage.fsyncDir('');
    this.exists = true;
    this.records++;
    if (this.records >= 2 * this.keep) this.compact();
  }

  /** Rewrites the file to its last `keep` records, atomically (tmp, fsync, rename, fsync dir). */
  private compact(): void {
    const bytes = this.storage.read(CHAIN_FILE);
    if (bytes === undefined) return;
    const starts: number[] = [];
    const r = new Reader(bytes, DEFAULT_CODEC_LIMITS);
    try {
      while (r.remaining > 0) {
        starts.push(bytes.length - r.remaining);
        r.bytes(r.varint('record length'), 'record');
      }
    } catch (err) {
      // Only this process writes the file, whole records: left as it is (boot cuts bad tails).
      if (err instanceof DecodeFailure) return;
      throw err;
    }
    const from = starts[Math.max(0, starts.length - this.keep)] ?? 0;
    this.storage.writeFile(CHAIN_FILE_TMP, bytes.subarray(from));
    this.storage.fsync(CHAIN_FILE_TMP);
    this.storage.rename(CHAIN_FILE_TMP, CHAIN_FILE);
    this.storage.fsyncDir('');
    this.records = Math.min(starts.length, this.keep);
    this.compactions++;
  }
}
