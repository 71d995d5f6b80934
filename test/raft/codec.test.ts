/**
 * Raft's wire codec (src/raft/codec.ts): every message type round-trips (the shared codec tests
 * and the fuzzer cover all of them through test/codec/wire.ts), and what the core must never see
 * is refused with ERR_DECODE_MALFORMED before it is an input.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { logIndex, term } from '../../src/base/units.js';
import { decodeRaftMessage, encodeRaftMessage, raftMessageBytes } from '../../src/raft/codec.js';
import { bootstrapConfiguration, encodeConfiguration } from '../../src/raft/configuration.js';
import type { RaftMessage } from '../../src/raft/messages.js';
import { RAFT_TYPE_NUMBERS, RAFT_TYPE_NUMBER_RANGE } from '../../src/raft/messages.js';
import { nodeAddress, nodeId } from './harness.js';

const header = { from: nodeId(1), fromAddress: nodeAddress(1), term: term(5) };
const config = encodeConfiguration(bootstrapConfiguration([nodeAddress(1), nodeAddress(2)]));

function append(
  terms: number[],
  kinds: ('normal' | 'config' | 'noop')[] = [],
  prevTerm = 2,
): RaftMessage {
  return {
    type: 'raft-append',
    ...header,
    prevIndex: logIndex(10),
    prevTerm: term(prevTerm),
    commit: logIndex(9),
    entries: terms.map((t, i) => {
      const kind = kinds[i] ?? 'normal';
      return {
        index: logIndex(11 + i),
        term: term(t),
        kind,
        data:
          kind === 'config' ? config : kind === 'noop' ? new Uint8Array(0) : new Uint8Array([i]),
      };
    }),
  };
}

const roundTrip = (m: RaftMessage) =>
  decodeRaftMessage(encodeRaftMessage(m, 'c'), { clusterId: 'c' });

describe('raft codec', () => {
  it('keeps Raft in its type number range 20..39 (APPEND ONLY)', () => {
    for (const n of Object.values(RAFT_TYPE_NUMBERS)) {
      expect(n).toBeGreaterThanOrEqual(RAFT_TYPE_NUMBER_RANGE.first);
      expect(n).toBeLessThanOrEqual(RAFT_TYPE_NUMBER_RANGE.last);
    }
  });

  it('round-trips an append with every entry kind, indexes implied from prevIndex', () => {
    const m = append([2, 3, 5], ['normal', 'config', 'noop']);
    expect(roundTrip(m)).toEqual({ ok: true, message: m });
  });

  it('refuses entries whose terms go down, start below prevTerm, or exceed the message term', () => {
    for (const bad of [append([3, 2]), append([1], [], 2), append([6])]) {
      const result = roundTrip(bad);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.code).toBe('ERR_DECODE_MALFORMED');
    }
  });

  it('refuses a configuration entry that does not decode, and a no-op with data', () => {
    const m = append([3], ['config']) as Extract<RaftMessage, { type: 'raft-append' }>;
    const broken = { ...m, entries: [{ ...m.entries[0]!, data: new Uint8Array([1, 0, 1, 9]) }] };
    expect(roundTrip(broken).ok).toBe(false);
    const noop = {
      ...m,
      entries: [{ ...m.entries[0]!, kind: 'noop' as const, data: new Uint8Array([1]) }],
    };
    expect(roundTrip(noop).ok).toBe(false);
  });

  it('refuses a configuration whose addresses are not strictly sorted (one canonical form)', () => {
    const unsorted = encodeConfiguration({
      members: [
        { address: nodeAddress(2), id: undefined, role: 'voter' },
        { address: nodeAddress(1), id: undefined, role: 'voter' },
      ],
      outgoing: undefined,
    });
    const m = append([3], ['config']) as Extract<RaftMessage, { type: 'raft-append' }>;
    expect(roundTrip({ ...m, entries: [{ ...m.entries[0]!, data: unsorted }] }).ok).toBe(false);
  });

  it('refuses a snapshot chunk that runs past its total, accepts one that ends on it', () => {
    const chunk = (offset: number, total: number): RaftMessage => ({
      type: 'raft-snapshot',
      ...header,
      meta: { index: logIndex(7), term: term(2), config },
      totalBytes: total,
      offset,
      data: new Uint8Array([1, 2, 3, 4]),
    });
    expect(roundTrip(chunk(6, 10)).ok).toBe(true);
    expect(roundTrip(chunk(7, 10)).ok).toBe(false);
  });

  it('refuses reserved flag bits and a message of another cluster', () => {
    const m: RaftMessage = { type: 'raft-vote-response', ...header, preVote: true, granted: true };
    const bytes = encodeRaftMessage(m, 'c');
    const flagged = bytes.slice();
    flagged[flagged.length - 1] = 0xff;
    const result = decodeRaftMessage(flagged, { clusterId: 'c' });
    expect(!result.ok && result.error.code).toBe('ERR_DECODE_MALFORMED');
    const other = decodeRaftMessage(bytes, { clusterId: 'd' });
    expect(!other.ok && other.error.code).toBe('ERR_DECODE_WRONG_CLUSTER');
  });

  it('an append of appendBytesMax (1 MiB) of entry data fits the decoder limit with its headroom', () => {
    const big: RaftMessage = {
      ...(append([5]) as Extract<RaftMessage, { type: 'raft-append' }>),
      entries: [
        { index: logIndex(11), term: term(5), kind: 'normal', data: new Uint8Array(1024 * 1024) },
      ],
    };
    expect(roundTrip(big).ok).toBe(true);
  });

  it('addresses in the header are validated', () => {
    const m: RaftMessage = { type: 'raft-timeout-now', ...header, fromAddress: 'nope' as Address };
    expect(() => encodeRaftMessage(m, 'c')).not.toThrow();
    expect(roundTrip(m).ok).toBe(false);
  });

  it.each([
    // docs/design/raft.md "Messages and sizes": cluster id "default", a 14-byte address, term 12.
    ['append, no entries', 0, 52],
    ['append, one 256-byte entry', 1, 312],
    ['append, eight 256-byte entries', 8, 2132],
  ])('%s is %i entries and %i bytes', (_what, count, bytes) => {
    const h = { from: nodeId(1), fromAddress: '10.0.0.12:7946' as Address, term: term(12) };
    const entries = Array.from({ length: count }, () => ({
      index: logIndex(100_001),
      term: term(12),
      kind: 'normal' as const,
      data: new Uint8Array(256),
    }));
    const m: RaftMessage = {
      type: 'raft-append',
      ...h,
      prevIndex: logIndex(100_000),
      prevTerm: term(12),
      commit: logIndex(99_999),
      entries,
    };
    expect(raftMessageBytes(m, 'default')).toBe(bytes);
    const ack: RaftMessage = {
      type: 'raft-append-response',
      ...h,
      reject: false,
      index: logIndex(100_001),
      hintIndex: logIndex(0),
      hintTerm: term(0),
    };
    expect(raftMessageBytes(ack, 'default')).toBe(50);
    const heartbeat: RaftMessage = {
      type: 'raft-heartbeat',
      ...h,
      commit: logIndex(100_001),
      readSeq: 5000,
    };
    expect(raftMessageBytes(heartbeat, 'default')).toBe(49);
  });
});
