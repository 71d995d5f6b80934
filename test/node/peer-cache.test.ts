import { describe, expect, it } from 'vitest';
import { incarnation as asIncarnation } from '../../src/base/units.js';
import type { Address } from '../../src/base/address.js';
import { ShoalError } from '../../src/base/errors.js';
import { Rng } from '../../src/base/rng.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { MemberView } from '../../src/membership/types.js';
import { PEER_CACHE_FILE, PEER_CACHE_MAX, PeerCache } from '../../src/node/peer-cache.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimStorage } from '../../src/sim/storage.js';

const self = '127.0.0.1:1' as Address;

function member(i: number, state: MemberView['state'] = 'alive'): MemberView {
  return {
    id: i.toString(16).padStart(32, '0') as NodeId,
    name: `n${i}`,
    address: `127.0.0.1:${1000 + i}` as Address,
    state,
    incarnation: asIncarnation(1),
    labels: {},
    stateChangedAtMs: 0 as MemberView['stateChangedAtMs'],
  };
}

/** Runs the clock until every pending write and timer is done. */
function run(clock: SimClock): void {
  clock.runUntilIdle({ eventsMax: 1000 });
}

describe('PeerCache', () => {
  it('writes behind an in-flight write only the newest list, and flush resolves once it is on disk', async () => {
    const clock = new SimClock();
    const storage = new SimStorage({
      rng: new Rng(1),
      clock,
      durableWriteDelayMinMs: 5,
      durableWriteDelayMaxMs: 5,
    });
    const cache = new PeerCache(storage, clock, self);
    cache.save([member(1)]);
    cache.save([member(2)]);
    cache.save([member(3)]);
    let flushed = false;
    void cache.flush().then(() => {
      flushed = true;
    });
    run(clock);
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toBe(true);
    expect(cache.writes).toBe(2);
    expect(cache.load()).toEqual(['127.0.0.1:1003']);
  });

  it('saves live peers (not self, not departed), bounded, and loads them back', () => {
    const clock = new SimClock();
    const storage = new SimStorage({ rng: new Rng(1), clock });
    const cache = new PeerCache(storage, clock, self);
    const members = [
      { ...member(0), address: self },
      member(1),
      member(2, 'dead'),
      member(3, 'left'),
      member(4, 'suspect'),
      ...Array.from({ length: PEER_CACHE_MAX + 5 }, (_, i) => member(10 + i)),
    ];
    cache.save(members);
    run(clock);
    const loaded = cache.load();
    expect(loaded).toHaveLength(PEER_CACHE_MAX);
    expect(loaded.slice(0, 2)).toEqual(['127.0.0.1:1001', '127.0.0.1:1004']);
    expect(loaded).not.toContain(self);
  });

  it('coalesces scheduled saves into one write of the latest view, and skips an unchanged list', () => {
    const clock = new SimClock();
    const storage = new SimStorage({ rng: new Rng(1), clock });
    const cache = new PeerCache(storage, clock, self);
    cache.schedule(() => [member(1)]);
    cache.schedule(() => [member(1), member(2)]);
    expect(cache.writes).toBe(0);
    cache.flush();
    run(clock);
    expect(cache.writes).toBe(1);
    expect(cache.load()).toEqual(['127.0.0.1:1001', '127.0.0.1:1002']);
    cache.flush();
    cache.schedule(() => [member(1), member(2), member(5, 'dead')]);
    cache.flush();
    run(clock);
    expect(cache.writes).toBe(1);
    cache.schedule(() => [member(3)]);
    run(clock);
    expect(cache.writes).toBe(2);
    expect(cache.load()).toEqual(['127.0.0.1:1003']);
  });

  it('ignores a corrupt cache file and reports it', () => {
    const clock = new SimClock();
    const storage = new SimStorage({ rng: new Rng(1), clock });
    storage.writeFile(PEER_CACHE_FILE, new TextEncoder().encode('{not json'));
    const cache = new PeerCache(storage, clock, self);
    expect(cache.load()).toEqual([]);
    expect(cache.corrupt).toBe(true);
  });

  it('counts a failed write instead of throwing: a hint must not take the node down', () => {
    const clock = new SimClock();
    const storage = new SimStorage({ rng: new Rng(1), clock });
    storage.writeFile = () => {
      throw new ShoalError('ERR_STORAGE_IO', 'cannot write: EMFILE: too many open files');
    };
    const cache = new PeerCache(storage, clock, self);
    expect(() => cache.save([member(1)])).not.toThrow();
    run(clock);
    expect(cache.writeErrors).toBe(1);
    expect(cache.lastWriteError).toMatch(/EMFILE/);
  });
});
