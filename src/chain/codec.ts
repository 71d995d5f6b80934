/**
 * Chain entries on the wire, standalone (no envelope: the lead's wiring carries them in its pull
 * response): a count, then per entry owner (16 bytes), seq varint, prevHash (32), payload
 * (varint length + bytes, at most payloadBytesMax), signature (64). Bad bytes are a refusal with
 * an ERR_DECODE_* code, never a throw; the entries still have to pass `ChainReplica.ingest`.
 */
import { LIMITS } from '../base/limits.js';
import { DecodeFailure, Reader, Writer } from '../codec/bytes.js';
import { HASH_BYTES, SIGNATURE_BYTES, type ChainEntry, type ChainLimits } from './chain.js';

const ENTRY_BYTES_MIN = 16 + 1 + HASH_BYTES + 1 + SIGNATURE_BYTES;

export function encodeEntries(entries: readonly ChainEntry[], limits: ChainLimits): Uint8Array {
  const w = new Writer(256);
  w.count(entries.length, limits.pullEntriesMax);
  for (const e of entries) {
    w.nodeId(e.owner);
    w.varint(e.seq);
    w.bytes(e.prevHash);
    w.varint(e.payload.length);
    w.bytes(e.payload);
    w.bytes(e.signature);
  }
  return w.finish();
}

export function decodeEntries(
  bytes: Uint8Array,
  limits: ChainLimits,
): { ok: true; entries: ChainEntry[] } | { ok: false; code: string; detail: string } {
  const r = new Reader(bytes, LIMITS);
  try {
    const count = r.count('entries', ENTRY_BYTES_MIN);
    if (count > limits.pullEntriesMax)
      throw new DecodeFailure(
        'ERR_DECODE_OVERSIZED',
        `${count} entries exceed pullEntriesMax ${limits.pullEntriesMax}`,
      );
    const entries: ChainEntry[] = [];
    for (let i = 0; i < count; i++) {
      const owner = r.nodeId('entry owner');
      const seq = r.varint('entry seq');
      const prevHash = r.bytes(HASH_BYTES, 'entry prevHash').slice();
      const length = r.varint('payload length');
      if (length > limits.payloadBytesMax)
        throw new DecodeFailure(
          'ERR_DECODE_OVERSIZED',
          `payload of ${length} bytes exceeds payloadBytesMax ${limits.payloadBytesMax}`,
        );
      const payload = r.bytes(length, 'payload').slice();
      entries.push({
        owner,
        seq,
        prevHash,
        payload,
        signature: r.bytes(SIGNATURE_BYTES, 'signature').slice(),
      });
    }
    r.end();
    return { ok: true, entries };
  } catch (err) {
    if (err instanceof DecodeFailure) return { ok: false, code: err.code, detail: err.detail };
    throw err;
  }
}
