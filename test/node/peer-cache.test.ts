import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { ShoalError } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { MemberView } from '../../src/membership/types.js';
import { PEER_CACHE_FILE, PEER_CACHE_MAX, PeerCache } from '../../src/node/peer-cache.js';
import { SimStorage } from '../../src/sim/storage.js';

const self = '127.0.0.1:1' as Address;

function member(i: number, state: MemberView['state'] = 'alive'): MemberView {
  return { id: i.toString(16).padStart(32, '0') as NodeId, name: `n${i}`, address: `127.0.0.1:${1000 + i}` as Address, state, incarnation: 1, labels: {}, stateChangedAtMs: 0 as MemberView['stateChangedAtMs'] };
}

describe('PeerCache', () => {
  it('saves live peers (not self, not departed), bounded, and loads them back', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    const cache = new PeerCache(storage, self);
    const members = [{ ...member(0), address: self }, member(1), member(2, 'dead'), member(3, 'left'), member(4, 'suspect'),
      ...Array.from({ length: PEER_CACHE_MAX + 5 }, (_, i) => member(10 + i))];
    cache.save(members);
    const loaded = cache.load();
    expect(loaded).toHaveLength(PEER_CACHE_MAX);
    expect(loaded.slice(0, 2)).toEqual(['127.0.0.1:1001', '127.0.0.1:1004']);
    expect(loaded).not.toContain(self);
  });

  it('coalesces scheduled saves into one write of the latest view, and skips an unchanged list', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    const cache = new PeerCache(storage, self);
    cache.schedule(() => [member(1)]);
    cache.schedule(() => [member(1), member(2)]);
    expect(cache.writes).toBe(0);
    cache.flush();
    expect(cache.writes).toBe(1);
    expect(cache.load()).toEqual(['127.0.0.1:1001', '127.0.0.1:1002']);
    cache.flush();
    cache.schedule(() => [member(1), member(2), member(5, 'dead')]);
    cache.flush();
    expect(cache.writes).toBe(1);
    cache.schedule(() => [member(3)]);
    cache.flush();
    expect(cache.writes).toBe(2);
    expect(cache.load()).toEqual(['127.0.0.1:1003']);
  });

  it('ignores a corrupt cache file and reports it', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    storage.writeFile(PEER_CACHE_FILE, new TextEncoder().encode('{not json'));
    const cache = new PeerCache(storage, self);
    expect(cache.load()).toEqual([]);
    expect(cache.corrupt).toBe(true);
  });

  it('counts a failed write instead of throwing: a hint must not take the node down', () => {
    const storage = new SimStorage({ rng: new Rng(1) });
    storage.writeFile = () => {
      throw new ShoalError('ERR_STORAGE_IO', 'cannot write: EMFILE: too many open files');
    };
    const cache = new PeerCache(storage, self);
    expect(() => cache.save([member(1)])).not.toThrow();
    expect(cache.writeErrors).toBe(1);
    expect(cache.lastWriteError).toMatch(/EMFILE/);
  });
});
