/**
 * The chain service's handling of bad input (issue 16: "entries that do not verify are refused
 * and counted"): bytes that do not decode are counted by ERR_DECODE_* code; an answer nobody
 * asked for (wrong request id, or from another address than the one asked) is counted and
 * dropped; nothing is stored from either. A pull is answered from what is held: entries after the asker's seq
 * when it agrees there, `diverged` when its hash differs, `shorter` when the asker is ahead; a
 * digest with `same` when the count and XOR of the heads match, else with the heads by bucket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { SystemClock } from '../../src/base/system-clock.js';
import { chainLimits, GENESIS_HASH } from '../../src/chain/chain.js';
import { chainMessages, type ChainBody } from '../../src/chain/messages.js';
import { decodeWith, encodeWith } from '../../src/codec/codec.js';
import { identityFromSeed } from '../../src/identity/member-crypto.js';
import { CHAIN_CRYPTO } from '../../src/node/data-crypto.js';
import { chainSettings, ChainService } from '../../src/node/data-chain.js';
import { FsStorage } from '../../src/node/fs-storage.js';
import { emptyStats, type ReceiveHandler, type Transport } from '../../src/transport/types.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-chain-service-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const table = chainMessages(chainLimits(), 1024);
const PEER = '127.0.0.1:9' as Address;

function service() {
  const identity = identityFromSeed(new Uint8Array(32).fill(7));
  let handler: ReceiveHandler | undefined;
  const sent: Array<{ to: Address; body: ChainBody }> = [];
  const transport: Transport = {
    localAddress: '127.0.0.1:1' as Address,
    sendPacket: () => undefined,
    sendFrame: (to, data) => {
      const decoded = decodeWith(table, data, { clusterId: 'c' });
      if (decoded.ok) sent.push({ to, body: decoded.message.body });
    },
    onReceive: (h) => (handler = h),
    onStreamRefused: () => undefined,
    stats: emptyStats,
    close: () => Promise.resolve(),
  };
  const chains = new ChainService({
    id: identity.nodeId,
    publicKey: identity.publicKey,
    sign: (d) => identity.sign(d),
    clusterId: 'c',
    crypto: CHAIN_CRYPTO,
    clock: new SystemClock(),
    rng: new Rng(1),
    storage: new FsStorage(mkdtempSync(join(dir, 'n-'))),
    transport,
    membership: undefined,
    settings: chainSettings(),
    onFork: () => undefined,
  });
  const deliver = (body: ChainBody, from = PEER): void =>
    void handler?.(from, 'stream', encodeWith(table, { type: 'data-chain', body }, 'c'));
  const raw = (bytes: Uint8Array): void => void handler?.(PEER, 'stream', bytes);
  return { chains, sent, deliver, raw, id: identity.nodeId };
}

describe('the chain service refuses bad input and counts it', () => {
  it('counts undecodable bytes and unasked answers; stores nothing', () => {
    const { chains, deliver, raw, id } = service();
    raw(new Uint8Array([0x53, 0x48, 2, 45, 1, 0x63, 9, 9]));
    raw(new Uint8Array([1, 2, 3]));
    const other = identityFromSeed(new Uint8Array(32).fill(8)).nodeId;
    deliver({ kind: 'pulled', id: 77, chains: [{ owner: other, status: 'pruned' }] });
    const stats = chains.stats();
    expect(Object.values(stats.decodeErrors).reduce((a, b) => a + b, 0)).toBe(2);
    expect(stats.refused['unexpected-answer']).toBe(1);
    expect(chains.heads()).toEqual([{ owner: id, seq: 0, hash: '0'.repeat(64) }]);
  });

  it('answers a pull with entries, diverged or shorter, from what it holds', () => {
    const { chains, sent, deliver, id } = service();
    chains.append(new Uint8Array([1]));
    chains.append(new Uint8Array([2]));
    const h1 = chains.own.hashAt(1) as Uint8Array;
    deliver({
      kind: 'pull',
      id: 5,
      wants: [{ owner: id, afterSeq: 1, hash: h1 }],
    });
    deliver({ kind: 'pull', id: 6, wants: [{ owner: id, afterSeq: 1, hash: GENESIS_HASH }] });
    deliver({ kind: 'pull', id: 7, wants: [{ owner: id, afterSeq: 9, hash: GENESIS_HASH }] });
    const answers = sent.map((s) => s.body);
    expect(answers[0]).toMatchObject({
      kind: 'pulled',
      id: 5,
      chains: [{ owner: id, status: 'entries', entries: [{ seq: 2 }] }],
    });
    expect(answers[1]).toMatchObject({ id: 6, chains: [{ status: 'diverged' }] });
    expect(answers[2]).toMatchObject({ id: 7, chains: [{ status: 'shorter', headSeq: 2 }] });
    expect(sent.every((s) => s.to === PEER)).toBe(true);
  });

  it('answers a digest with same when its heads agree, else with its buckets', () => {
    const { chains, sent, deliver, id } = service();
    chains.append(new Uint8Array([1]));
    const head = chains.own.headHash();
    deliver({ kind: 'digest', id: 8, count: 1, root: head });
    deliver({ kind: 'digest', id: 9, count: 0, root: GENESIS_HASH });
    // Same root, another count: not the same set of chains.
    deliver({ kind: 'digest', id: 10, count: 2, root: head });
    const answers = sent.map((s) => s.body);
    expect(answers[0]).toEqual({
      kind: 'summary',
      id: 8,
      same: true,
      bucketBits: 0,
      buckets: new Uint8Array(0),
    });
    // No view: its only owner is itself, one bucket holding its head hash's first 8 bytes.
    expect(answers[1]).toEqual({
      kind: 'summary',
      id: 9,
      same: false,
      bucketBits: 0,
      buckets: new Uint8Array(head.subarray(0, 8)),
    });
    expect(answers[2]).toMatchObject({ id: 10, same: false });
    expect(chains.stats().counters.digestsAnswered).toBe(3);
    expect(chains.heads()).toEqual([
      { owner: id, seq: 1, hash: Buffer.from(head).toString('hex') },
    ]);
  });
});
