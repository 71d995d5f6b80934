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
    const refused = chain.check(entry);
    if (refused !== undefined) {
      damaged = `entry ${entry.seq} at byte ${good}: ${refused}`;
      break;
    }
    chain.restore(entry);
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

/** The chain file of one node: appends an entry and makes it durable before returning. */
export class ChainFile {
  private exists: boolean;

  constructor(private readonly storage: Storage) {
    this.exists = storage.read(CHAIN_FILE) !== undefined;
  }

  append(entry: ChainEntry): void {
    this.storage.append(CHAIN_FILE, encodeRecord(entry));
    this.storage.fsync(CHAIN_FILE);
    if (!this.exists) this.storage.fsyncDir('');
    this.exists = true;
  }
}
