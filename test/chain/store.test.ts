/**
 * chain.log compaction (docs/design/data-plane.md, "Chains on the network"; before, "chain.log
 * is never compacted"): once the file holds twice `keep` records it is rewritten to its last
 * `keep`, atomically; read back, a file that starts past seq 1 is anchored at its first record
 * (signed by the node's own key), so the chain comes back at the same head, links on, and the
 * file and the boot stay bounded. A first record signed by another key is refused and cut.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chainLimits, LocalChain } from '../../src/chain/chain.js';
import { CHAIN_FILE, ChainFile, encodeRecord, loadChain } from '../../src/chain/store.js';
import { identityFromSeed } from '../../src/identity/member-crypto.js';
import { CHAIN_CRYPTO } from '../../src/node/data-crypto.js';
import { FsStorage } from '../../src/node/fs-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-chain-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const me = identityFromSeed(new Uint8Array(32).fill(3));
const other = identityFromSeed(new Uint8Array(32).fill(4));
const limits = chainLimits({ entriesKeptMax: 4, hashesKeptMax: 6 });

function chainOf(identity = me): LocalChain {
  return new LocalChain(
    identity.nodeId,
    identity.publicKey,
    CHAIN_CRYPTO,
    (d) => identity.sign(d),
    limits,
  );
}

/** Records in the file (each a varint length, then the record: lengths here are below 128). */
function recordCount(bytes: Uint8Array): number {
  let n = 0;
  for (let at = 0; at < bytes.length; at += 1 + (bytes[at] as number)) n++;
  return n;
}

describe('chain.log compaction', () => {
  it('keeps the last records, and a restart comes back anchored at the same head', () => {
    const storage = new FsStorage(mkdtempSync(join(dir, 'a-')));
    const chain = chainOf();
    const file = new ChainFile(storage, 6, 0);
    for (let i = 1; i <= 20; i++) file.append(chain.append(new Uint8Array([i])));
    expect(file.compactions).toBe(2);
    const bytes = storage.read(CHAIN_FILE) as Uint8Array;
    expect(recordCount(bytes)).toBeLessThan(12);
    const back = chainOf();
    const loaded = loadChain(storage, back);
    expect(loaded.damaged).toBeUndefined();
    expect(back.headSeq).toBe(20);
    expect(back.headHash()).toEqual(chain.headHash());
    expect(back.hashAt(back.oldestSeq)).toBeDefined();
    // It links on: the next entry verifies at a replica that held the whole chain.
    const next = back.append(new Uint8Array([21]));
    expect(chain.ingest([next]).accepted).toBe(1);
  });

  it('refuses a compacted file whose first record another key signed, and cuts it', () => {
    const storage = new FsStorage(mkdtempSync(join(dir, 'b-')));
    const theirs = chainOf(other);
    for (let i = 1; i <= 3; i++) theirs.append(new Uint8Array([i]));
    const entry = theirs.entriesAfter(1).entries[0];
    if (entry === undefined) throw new Error('no entry');
    // Named as ours, signed by the other key.
    storage.append(CHAIN_FILE, encodeRecord({ ...entry, owner: me.nodeId }));
    storage.fsync(CHAIN_FILE);
    const back = chainOf();
    const loaded = loadChain(storage, back);
    expect(loaded.damaged).toMatch(/bad-signature/);
    expect(back.headSeq).toBe(0);
    expect(storage.read(CHAIN_FILE)?.length).toBe(0);
  });
});
