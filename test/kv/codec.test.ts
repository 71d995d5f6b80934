/**
 * The command, result and snapshot encodings: round trips (decode(encode(x)) = x, and canonical:
 * encode(decode(bytes)) = bytes), and fuzz (random and mutated bytes never throw; every refusal
 * carries a stable code).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logIndex } from '../../src/base/units.js';
import { crc32 } from '../../src/kv/checksum.js';
import { OP_NUMBERS, decodeCommand, encodeCommandUnchecked } from '../../src/kv/codec.js';
import { kvConfig } from '../../src/kv/config.js';
import { RESULT_NUMBERS, decodeResult, encodeResult } from '../../src/kv/result-codec.js';
import { takeSnapshot } from '../../src/kv/snapshot.js';
import { restoreSnapshot } from '../../src/kv/snapshot-restore.js';
import { apply, createKvStore } from '../../src/kv/store.js';
import { KV_ERROR_CODES, revision, type KvResult } from '../../src/kv/types.js';
import { command } from './arbitraries.js';
import { b, lid } from './helpers.js';

const CONFIG = kvConfig();
const CODES = new Set<string>(KV_ERROR_CODES);

/** Results of real applies, errors included (every result kind a store produces). */
const result: fc.Arbitrary<KvResult> = fc
  .array(command, { minLength: 1, maxLength: 12 })
  .map((commands) => {
    const state = createKvStore(CONFIG);
    let last: KvResult | undefined;
    commands.forEach((c, i) => (last = apply(state, c, logIndex(i + 1)).result));
    return last as KvResult;
  });

/** Flips, truncates, extends or splices a valid encoding. */
function mutate(bytes: Uint8Array, how: number, at: number, byte: number): Uint8Array {
  const i = bytes.length === 0 ? 0 : at % bytes.length;
  switch (how % 4) {
    case 0: {
      const out = bytes.slice();
      out[i] = byte;
      return out;
    }
    case 1:
      return bytes.slice(0, i);
    case 2:
      return Uint8Array.from([...bytes, byte]);
    default:
      return Uint8Array.from([...bytes.slice(0, i), byte, ...bytes.slice(i)]);
  }
}

describe('command codec', () => {
  it('decode(encode(c)) = c and the encoding is canonical', () => {
    fc.assert(
      fc.property(command, (c) => {
        const bytes = encodeCommandUnchecked(c);
        const decoded = decodeCommand(bytes, CONFIG);
        expect(decoded).toEqual({ ok: true, value: c });
        if (decoded.ok) expect(encodeCommandUnchecked(decoded.value)).toEqual(bytes);
      }),
      { seed: 1311, numRuns: 500 },
    );
  });

  it('random bytes never throw; refusals carry a kv code; what decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const decoded = decodeCommand(Uint8Array.from([1, ...bytes]), CONFIG);
        if (!decoded.ok) expect(CODES.has(decoded.code)).toBe(true);
        else expect(encodeCommandUnchecked(decoded.value)).toEqual(Uint8Array.from([1, ...bytes]));
      }),
      { seed: 1312, numRuns: 3000 },
    );
  });

  it('mutated encodings never throw, and re-encode canonically when they decode', () => {
    fc.assert(
      fc.property(
        command,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (c, how, at, byte) => {
          const bytes = mutate(encodeCommandUnchecked(c), how, at, byte);
          const decoded = decodeCommand(bytes, CONFIG);
          if (!decoded.ok) expect(CODES.has(decoded.code)).toBe(true);
          else expect(encodeCommandUnchecked(decoded.value)).toEqual(bytes);
        },
      ),
      { seed: 1313, numRuns: 3000 },
    );
  });

  it('names what is wrong: version, truncation, trailing bytes, an unknown op', () => {
    const good = encodeCommandUnchecked({
      op: { kind: 'put', request: { key: b('k'), value: b('v') } },
    });
    const code = (bytes: Uint8Array): string | undefined => {
      const d = decodeCommand(bytes, CONFIG);
      return d.ok ? undefined : d.code;
    };
    expect(code(Uint8Array.from([2, ...good.slice(1)]))).toBe('ERR_DECODE_BAD_VERSION');
    expect(code(good.slice(0, -1))).toBe('ERR_DECODE_TRUNCATED');
    expect(code(Uint8Array.from([...good, 0]))).toBe('ERR_DECODE_MALFORMED');
    expect(code(Uint8Array.of(1, 0, 42))).toBe('ERR_DECODE_MALFORMED');
    expect(code(Uint8Array.of(1, 2))).toBe('ERR_DECODE_MALFORMED'); // reserved flag bit
    expect(code(new Uint8Array(CONFIG.requestBytesMax + 1))).toBe('ERR_DECODE_OVERSIZED');
  });

  it('refuses txns nested past txnDepthMax without recursing through them', () => {
    // 200,000 levels of txn { compare: [], success: [txn { ... }] } by hand: 3 bytes each.
    const depth = 200_000;
    const bytes = new Uint8Array(3 + depth * 3);
    bytes.set([1, 0, 3]);
    for (let i = 0; i < depth; i++) bytes.set([0, 1, 3], 3 + i * 3);
    const decoded = decodeCommand(bytes, CONFIG);
    expect(decoded).toMatchObject({ ok: false, code: 'ERR_DECODE_OVERSIZED' });
    expect((decoded as { detail: string }).detail).toContain('txnDepthMax');
  });
});

describe('numbers on disk (APPEND ONLY)', () => {
  it('pins the op and result type numbers and one golden entry', () => {
    expect(OP_NUMBERS).toEqual({
      put: 1,
      'delete-range': 2,
      txn: 3,
      range: 4,
      'lease-grant': 5,
      'lease-revoke': 6,
      'lease-checkpoint': 7,
      compact: 8,
    });
    expect(RESULT_NUMBERS).toEqual({ ...OP_NUMBERS, error: 9 });
    const golden = encodeCommandUnchecked({
      session: { clientId: 'c', seq: 2 },
      op: { kind: 'put', request: { key: b('k'), value: b('v'), lease: lid(5), prevKv: true } },
    });
    // version 1, flags (session), "c", seq 2, put, key "k", value "v", lease 5, flags (prevKv)
    expect([...golden]).toEqual([1, 1, 1, 0x63, 2, 1, 1, 0x6b, 1, 0x76, 5, 1]);
  });
});

describe('result codec', () => {
  it('decode(encode(r)) = r and the encoding is canonical', () => {
    fc.assert(
      fc.property(result, (r) => {
        const bytes = encodeResult(r);
        const decoded = decodeResult(bytes, Number.MAX_SAFE_INTEGER);
        expect(decoded).toEqual({ ok: true, value: r });
      }),
      { seed: 1314, numRuns: 300 },
    );
  });

  it('keeps an error code and the compacted revision; refuses a code outside the kv set', () => {
    const error: KvResult = {
      kind: 'error',
      code: 'ERR_COMPACTED',
      message: 'gone',
      compactRevision: revision(9),
    };
    expect(decodeResult(encodeResult(error), 1024)).toEqual({ ok: true, value: error });
    const foreign = encodeResult({ ...error, code: 'ERR_NOT_FOUND' as never });
    expect(decodeResult(foreign, 1024)).toMatchObject({ ok: false, code: 'ERR_DECODE_MALFORMED' });
  });

  it('mutated encodings never throw', () => {
    fc.assert(
      fc.property(
        result,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (r, how, at, byte) => {
          const decoded = decodeResult(mutate(encodeResult(r), how, at, byte), 1 << 20);
          if (!decoded.ok) expect(CODES.has(decoded.code)).toBe(true);
        },
      ),
      { seed: 1315, numRuns: 2000 },
    );
  });
});

describe('snapshot bytes', () => {
  const snapshotOf = (commands: Parameters<typeof apply>[1][]): Uint8Array => {
    const state = createKvStore(CONFIG);
    commands.forEach((c, i) => apply(state, c, logIndex(i + 1)));
    return takeSnapshot(state);
  };

  it('any flipped, cut or added byte is ERR_SNAPSHOT_CORRUPT, never a throw or a partial state', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 10 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (cs, how, at, byte) => {
          const bytes = snapshotOf(cs);
          const mutated = mutate(bytes, how, at, byte);
          const restored = restoreSnapshot(mutated, CONFIG);
          if (Buffer.from(mutated).equals(Buffer.from(bytes))) return;
          expect(restored).toMatchObject({ kind: 'error', code: 'ERR_SNAPSHOT_CORRUPT' });
        },
      ),
      { seed: 1316, numRuns: 1000 },
    );
  });

  it('a snapshot with a valid checksum that breaks a rule is refused, naming the rule', () => {
    const bytes = snapshotOf([
      { op: { kind: 'put', request: { key: b('a'), value: b('1') } } },
      { op: { kind: 'put', request: { key: b('b'), value: b('1') } } },
    ]);
    // Swap the two one-byte keys ('a' <-> 'b') and re-seal: the keys are now out of order.
    const body = bytes.slice(0, -4);
    const ia = body.indexOf(0x61);
    const ib = body.indexOf(0x62);
    body[ia] = 0x62;
    body[ib] = 0x61;
    const sealed = new Uint8Array(body.length + 4);
    sealed.set(body);
    new DataView(sealed.buffer).setUint32(body.length, crc32(body));
    const restored = restoreSnapshot(sealed, CONFIG);
    expect(restored).toMatchObject({ kind: 'error', code: 'ERR_SNAPSHOT_CORRUPT' });
    expect((restored as { message: string }).message).toContain('keys out of order');
  });

  it('random bytes are refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(restoreSnapshot(bytes, CONFIG)).toMatchObject({ code: 'ERR_SNAPSHOT_CORRUPT' });
      }),
      { seed: 1317, numRuns: 1000 },
    );
  });
});
