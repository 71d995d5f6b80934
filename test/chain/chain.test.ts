/**
 * Chains of signed entries (docs/design/data-plane.md, "Chains"): append signs and links; a
 * replica pulls incrementally and refuses (and counts) entries that do not verify: a forged
 * signature, a wrong predecessor hash, a skipped seq, another owner's entry, an oversized
 * payload; `compareChains` finds the common ancestor by binary search and reports in-sync,
 * local-behind, remote-behind or forked with the fork point, including over the network with a
 * locator and `need` rounds; limits at limit-1, limit and limit+1.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import {
  chainLimits,
  chainLocator,
  ChainReplica,
  compareChains,
  entryHash,
  LocalChain,
  viewOfHashes,
  type ChainCrypto,
  type ChainEntry,
  type ChainView,
} from '../../src/chain/chain.js';
import { decodeEntries, encodeEntries } from '../../src/chain/codec.js';
import { chainMessages } from '../../src/chain/messages.js';
import { decodeWith, encodeWith } from '../../src/codec/codec.js';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
  verify,
} from '../../src/identity/keys.js';

const crypto: ChainCrypto = {
  sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
  verify,
};

function node() {
  const pair = generateRawKeyPair();
  const key = privateKeyFromSeed(pair.privateSeed);
  const id = nodeIdFromPublicKey(pair.publicKey);
  return { id, publicKey: pair.publicKey, sign: (data: Uint8Array) => signWith(key, data) };
}

const bytes = (text: string) => new TextEncoder().encode(text);

function chainOf(n: ReturnType<typeof node>, count: number, limits = chainLimits()): LocalChain {
  const chain = new LocalChain(n.id, n.publicKey, crypto, n.sign, limits);
  for (let i = 1; i <= count; i++) chain.append(bytes(`entry ${i}`));
  return chain;
}

const A = node();
const B = node();

describe('chain replication', () => {
  it('append links each entry to its predecessor and signs it; a replica pulls incrementally', () => {
    const chain = chainOf(A, 5);
    const replica = new ChainReplica(A.id, A.publicKey, crypto);
    expect(replica.ingest(chain.entriesAfter(0, 3).entries)).toEqual({ accepted: 3 });
    expect(replica.ingest(chain.entriesAfter(replica.headSeq).entries)).toEqual({ accepted: 2 });
    expect(replica.headSeq).toBe(5);
    expect(replica.headHash()).toEqual(chain.headHash());
    expect(
      replica.ingest(chain.entriesAfter(0).entries),
      'entries already held are skipped',
    ).toEqual({ accepted: 0 });
    const [first, second] = chain.entriesAfter(0, 2).entries as [ChainEntry, ChainEntry];
    expect(second.prevHash).toEqual(entryHash(first, crypto));
  });

  it('refuses and counts entries that do not verify, and keeps nothing from them', () => {
    const chain = chainOf(A, 3);
    const [e1, e2] = chain.entriesAfter(0).entries as [ChainEntry, ChainEntry];
    const replica = new ChainReplica(A.id, A.publicKey, crypto);
    const forged = { ...e1, payload: bytes('entry X') };
    expect(replica.ingest([forged])).toEqual({ accepted: 0, refused: 'bad-signature' });
    expect(replica.ingest([e2])).toEqual({ accepted: 0, refused: 'not-next' });
    expect(replica.ingest([{ ...e1, prevHash: new Uint8Array(32).fill(1) }]).refused).toBe(
      'bad-prev-hash',
    );
    const other = chainOf(B, 1).entriesAfter(0).entries;
    expect(replica.ingest(other).refused).toBe('wrong-owner');
    expect(replica.ingest([{ ...e1, signature: e1.signature.slice(0, 10) }]).refused).toBe(
      'malformed',
    );
    const signedByB = { ...e1, signature: B.sign(new Uint8Array(3)) };
    expect(replica.ingest([signedByB]).refused).toBe('bad-signature');
    expect(replica.headSeq).toBe(0);
    expect(replica.refused).toMatchObject({
      'bad-signature': 2,
      'not-next': 1,
      'bad-prev-hash': 1,
      'wrong-owner': 1,
      malformed: 1,
    });
    expect(replica.ingest([e1, forged, e2])).toEqual({ accepted: 1, refused: 'not-next' });
  });

  it('compare: in-sync, local-behind, remote-behind', () => {
    const full = chainOf(A, 40);
    const behind = new ChainReplica(A.id, A.publicKey, crypto);
    behind.ingest(full.entriesAfter(0, 25).entries);
    expect(compareChains(full, full)).toEqual({ status: 'in-sync', seq: 40 });
    expect(compareChains(behind, full)).toEqual({
      status: 'local-behind',
      commonSeq: 25,
      localHead: 25,
      remoteHead: 40,
    });
    expect(compareChains(full, behind)).toEqual({
      status: 'remote-behind',
      commonSeq: 25,
      localHead: 40,
      remoteHead: 25,
    });
  });

  it('compare finds the fork point from the common ancestor, not the heads', () => {
    // Two histories signed by the same key that agree on 17 entries (a restored backup, a bug).
    const one = chainOf(A, 17);
    const two = new LocalChain(A.id, A.publicKey, crypto, A.sign);
    two.ingest(one.entriesAfter(0).entries);
    for (let i = 0; i < 10; i++) one.append(bytes(`one ${i}`));
    for (let i = 0; i < 30; i++) two.append(bytes(`two ${i}`));
    expect(compareChains(one, two)).toEqual({
      status: 'forked',
      forkSeq: 17,
      localHead: 27,
      remoteHead: 47,
    });
    expect(compareChains(two, one)).toMatchObject({ status: 'forked', forkSeq: 17 });
    const root = new LocalChain(A.id, A.publicKey, crypto, A.sign);
    root.append(bytes('other genesis'));
    expect(compareChains(root, one)).toMatchObject({ status: 'forked', forkSeq: 0 });
  });

  it('a head-only comparison would be fooled; the ancestor search is not (mutant)', () => {
    const one = chainOf(A, 12);
    const two = new LocalChain(A.id, A.publicKey, crypto, A.sign);
    two.ingest(one.entriesAfter(0, 5).entries);
    for (let i = 0; i < 9; i++) two.append(bytes(`two ${i}`));
    const headsOnly = (l: ChainView, r: ChainView) =>
      l.headSeq < r.headSeq ? 'local-behind' : 'remote-behind';
    expect(headsOnly(one, two)).toBe('local-behind');
    expect(compareChains(one, two)).toMatchObject({ status: 'forked', forkSeq: 5 });
  });

  it('a node restarted from an old disk that appends a different entry at the same seq is forked at the right point', () => {
    // The node's chain on disk at seq 40 (its entries, encoded as they would be written).
    const limits = chainLimits();
    const live = chainOf(A, 40);
    const disk = encodeEntries(live.entriesAfter(0).entries, limits);
    // It goes on to seq 43; a peer's replica pulls everything, incrementally.
    for (const p of ['deploy v2', 'scale 5', 'scale 6']) live.append(bytes(p));
    const replica = new ChainReplica(A.id, A.publicKey, crypto);
    replica.ingest(live.entriesAfter(0, 20).entries);
    replica.ingest(live.entriesAfter(replica.headSeq).entries);
    expect(replica.headSeq).toBe(43);
    // The node restarts from the old disk (seq 40) and appends a different entry at seq 41.
    const decoded = decodeEntries(disk, limits);
    if (!decoded.ok) throw new Error(decoded.detail);
    const restarted = new LocalChain(A.id, A.publicKey, crypto, A.sign);
    expect(restarted.ingest(decoded.entries)).toEqual({ accepted: 40 });
    restarted.append(bytes('deploy v3'));
    const [e41] = restarted.entriesAfter(40).entries as [ChainEntry];
    expect(e41.seq).toBe(41);
    // Each entry verifies on its own (same key): only the comparison can tell.
    expect(compareChains(replica, restarted)).toEqual({
      status: 'forked',
      forkSeq: 40,
      localHead: 43,
      remoteHead: 41,
    });
    // The same seq on both sides with different entries: heads alone would say in-sync.
    const atSameSeq = new ChainReplica(A.id, A.publicKey, crypto);
    atSameSeq.ingest(live.entriesAfter(0, 41).entries);
    expect(atSameSeq.headSeq).toBe(restarted.headSeq);
    expect(compareChains(atSameSeq, restarted)).toEqual({
      status: 'forked',
      forkSeq: 40,
      localHead: 41,
      remoteHead: 41,
    });
    // Over the network (a locator and `need` rounds), the replica finds the same point.
    const known = chainLocator(restarted);
    for (let round = 0; ; round++) {
      expect(round).toBeLessThan(10);
      const result = compareChains(replica, viewOfHashes(restarted.headSeq, known));
      if (result.status !== 'need') {
        expect(result).toMatchObject({ status: 'forked', forkSeq: 40 });
        break;
      }
      for (const seq of result.seqs) known.set(seq, restarted.hashAt(seq) as Uint8Array);
    }
    // An incremental pull cannot graft the new entry onto the old history: it is refused, counted.
    expect(atSameSeq.ingest([e41])).toEqual({ accepted: 0, refused: 'not-next' });
    expect(atSameSeq.headHash()).toEqual(live.hashAt(41));
    const behind = new ChainReplica(A.id, A.publicKey, crypto);
    behind.ingest(live.entriesAfter(0, 40).entries);
    behind.ingest(live.entriesAfter(40, 1).entries);
    expect(behind.ingest([{ ...e41, seq: 42 }]).refused).toBeDefined();
  });

  it('compare over the network: a locator, then `need` rounds for the hashes between', () => {
    const one = chainOf(A, 300);
    const two = new LocalChain(A.id, A.publicKey, crypto, A.sign);
    two.ingest(one.entriesAfter(0, 211).entries);
    for (let i = 0; i < 100; i++) two.append(bytes(`two ${i}`));
    const known = chainLocator(two);
    expect(known.size).toBeLessThan(15);
    let rounds = 0;
    for (;;) {
      const result = compareChains(one, viewOfHashes(two.headSeq, known));
      if (result.status !== 'need') {
        expect(result).toMatchObject({ status: 'forked', forkSeq: 211 });
        break;
      }
      for (const seq of result.seqs) known.set(seq, two.hashAt(seq) as Uint8Array);
      rounds++;
    }
    expect(rounds).toBeLessThanOrEqual(10);
  });

  it('payloadBytesMax at limit-1, limit, limit+1', () => {
    const limits = chainLimits({ payloadBytesMax: 8 });
    const chain = chainOf(A, 0, limits);
    chain.append(new Uint8Array(7));
    chain.append(new Uint8Array(8));
    let caught: unknown;
    try {
      chain.append(new Uint8Array(9));
    } catch (err) {
      caught = err;
    }
    expect(hasErrorCode(caught, 'ERR_INVALID_ARGUMENT')).toBe(true);
    const big = chainOf(A, 0);
    big.append(new Uint8Array(9));
    const replica = new ChainReplica(A.id, A.publicKey, crypto, limits);
    expect(replica.ingest(big.entriesAfter(0).entries).refused).toBe('oversized');
  });

  it('anchor: an empty replica starts at a signed entry past 1; a forged one leaves it empty', () => {
    const owner = chainOf(A, 12);
    const tail = owner.entriesAfter(9).entries;
    const tenth = tail[0] as ChainEntry;
    const forged = { ...tenth, payload: bytes('not the owner') };
    const replica = new ChainReplica(A.id, A.publicKey, crypto);
    expect(replica.anchor(forged)).toBe('bad-signature');
    expect(replica.headSeq).toBe(0);
    expect(replica.refused['bad-signature']).toBe(1);
    expect(replica.anchor({ ...tenth, owner: B.id })).toBe('wrong-owner');
    expect(replica.anchor(tenth)).toBeUndefined();
    expect(replica.headSeq).toBe(10);
    expect(replica.hashAt(9)).toEqual(tenth.prevHash);
    expect(replica.hashAt(8)).toBeUndefined();
    expect(replica.ingest(tail.slice(1)).accepted).toBe(2);
    expect(replica.headHash()).toEqual(owner.headHash());
    expect(compareChains(replica, owner).status).toBe('in-sync');
    // Only an empty replica anchors.
    expect(replica.anchor(tenth)).toBe('not-next');
  });

  it('an answer with an entry over the taker own payloadBytesMax decodes; only that chain is refused', () => {
    // Members set payloadBytesMax apart (NodeOptions.chain): one larger entry must not make the
    // whole answer undecodable, which would stall every other chain it carries.
    const small = chainLimits({ payloadBytesMax: 8 });
    const big = chainOf(A, 0);
    big.append(new Uint8Array(20));
    const fits = chainOf(B, 0);
    fits.append(new Uint8Array(4));
    const sender = chainMessages(chainLimits(), 16);
    const bytes = encodeWith(
      sender,
      {
        type: 'data-chain',
        body: {
          kind: 'pulled',
          id: 1,
          chains: [
            { owner: A.id, status: 'entries', entries: big.entriesAfter(0).entries },
            { owner: B.id, status: 'entries', entries: fits.entriesAfter(0).entries },
          ],
        },
      },
      'c',
    );
    const decoded = decodeWith(chainMessages(small, 16), bytes, { clusterId: 'c' });
    if (!decoded.ok || decoded.message.body.kind !== 'pulled') throw new Error('did not decode');
    const [first, second] = decoded.message.body.chains;
    if (first?.status !== 'entries' || second?.status !== 'entries') throw new Error('statuses');
    expect(new ChainReplica(A.id, A.publicKey, crypto, small).ingest(first.entries).refused).toBe(
      'oversized',
    );
    expect(new ChainReplica(B.id, B.publicKey, crypto, small).ingest(second.entries).accepted).toBe(
      1,
    );
  });

  it('entriesKeptMax and hashesKeptMax: old entries are pruned, pulls behind them are truncated', () => {
    const limits = chainLimits({ entriesKeptMax: 4, hashesKeptMax: 6 });
    const chain = chainOf(A, 3, limits);
    expect(chain.firstKeptSeq()).toBe(1);
    chain.append(bytes('4'));
    expect(chain.firstKeptSeq()).toBe(1);
    chain.append(bytes('5'));
    expect(chain.firstKeptSeq()).toBe(2);
    expect(chain.entriesAfter(0)).toEqual({ entries: [], truncated: true });
    expect(chain.entriesAfter(1).entries).toHaveLength(4);
    for (let i = 6; i <= 7; i++) chain.append(bytes(String(i)));
    expect(chain.hashAt(1)).toBeUndefined();
    expect(chain.hashAt(2)).toBeDefined();
    expect(chain.oldestSeq).toBe(2);
    const replica = new ChainReplica(A.id, A.publicKey, crypto);
    expect(
      compareChains(chain, replica),
      'an empty replica is a prefix of any chain',
    ).toMatchObject({
      status: 'remote-behind',
      commonSeq: 0,
    });
    replica.ingest(chainOf(A, 1).entriesAfter(0).entries);
    expect(compareChains(chain, replica), 'a peer behind every kept hash').toMatchObject({
      status: 'forked',
      forkSeq: undefined,
    });
  });

  it('pullEntriesMax at limit-1, limit, limit+1: a pull and an ingest take at most that many', () => {
    const limits = chainLimits({ pullEntriesMax: 4 });
    const chain = chainOf(A, 10, limits);
    expect(chain.entriesAfter(0, 3).entries).toHaveLength(3);
    expect(chain.entriesAfter(0, 4).entries).toHaveLength(4);
    expect(chain.entriesAfter(0, 5).entries).toHaveLength(4);
    const all = chainOf(A, 10).entriesAfter(0, 10).entries;
    const replica = new ChainReplica(A.id, A.publicKey, crypto, limits);
    expect(replica.ingest(all.slice(0, 3))).toEqual({ accepted: 3 });
    expect(replica.ingest(all.slice(3, 7))).toEqual({ accepted: 4 });
    expect(replica.ingest(all.slice(7, 10))).toEqual({ accepted: 3 });
    const fresh = new ChainReplica(A.id, A.publicKey, crypto, limits);
    expect(fresh.ingest(all.slice(0, 5))).toEqual({ accepted: 4 });
    const encoded = (n: number) => encodeEntries(all.slice(0, n), chainLimits());
    expect(decodeEntries(encoded(3), limits).ok).toBe(true);
    expect(decodeEntries(encoded(4), limits).ok).toBe(true);
    expect(decodeEntries(encoded(5), limits)).toMatchObject({
      ok: false,
      code: 'ERR_DECODE_OVERSIZED',
    });
  });

  it('entries round-trip on the wire; bad bytes are refused with a code', () => {
    const entries = chainOf(A, 3).entriesAfter(0).entries;
    const limits = chainLimits();
    const encoded = encodeEntries(entries, limits);
    expect(decodeEntries(encoded, limits)).toEqual({ ok: true, entries });
    expect(decodeEntries(encoded.slice(0, -1), limits)).toMatchObject({
      ok: false,
      code: 'ERR_DECODE_TRUNCATED',
    });
    expect(decodeEntries(encoded, chainLimits({ pullEntriesMax: 2 }))).toMatchObject({
      ok: false,
      code: 'ERR_DECODE_OVERSIZED',
    });
    expect(decodeEntries(encoded, chainLimits({ payloadBytesMax: 5 }))).toMatchObject({
      ok: false,
      code: 'ERR_DECODE_OVERSIZED',
    });
  });
});
