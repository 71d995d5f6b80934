/**
 * Join storms in virtual time (SWIM §4 dissemination + memberlist's push-pull join): N nodes
 * start within one second, through one seed or each through a random earlier node, with LAN
 * timings, every node built by `buildNode` (the production wiring) over SimNetwork. Every view must be complete within a
 * bound computed from the config, well under one push-pull interval: the joins spread, the
 * join sync push-pull (`joinSyncDelayMs`) and one dissemination round (`disseminationBoundMs`).
 * Before the join sync, some runs completed only at the periodic push-pull (30 s).
 */
import { describe, expect, it } from 'vitest';
import { parseAddress, type Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { membershipConfig } from '../../src/membership/config.js';
import { joinSyncDelayMs } from '../../src/membership/scaling.js';
import { testIdentity } from '../helpers/member-keys.js';
import { buildNode, type ShoalNode } from '../../src/node/node.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimNetwork } from '../../src/sim/network.js';
import { disseminationBoundMs } from '../../src/sim/scenarios/swim-bounds.js';
import { SimStorage } from '../../src/sim/storage.js';
import { MemoryTransport } from '../../src/transport/memory.js';

const SPREAD_MS = 1000;

interface StormResult {
  /** Virtual ms at which each node first held all N members alive (undefined: never). */
  completeAtMs: (number | undefined)[];
  pushPullsSent: number;
}

/** Node 0 starts alone at 0; node i starts within SPREAD_MS, through node 0 or a random earlier node. */
function joinStorm(
  n: number,
  seed: number,
  through: 'seed' | 'random',
  untilMs: number,
): StormResult {
  const clock = new SimClock();
  const rng = new Rng(seed);
  const network = new SimNetwork({
    clock,
    rng: rng.fork('network'),
    link: { latencyMs: 1, jitterMs: 1 },
  });
  const nodes: ShoalNode[] = [];
  const addresses = Array.from({ length: n }, (_, i) =>
    parseAddress(`10.0.${i >> 8}.${i & 255}:7946`),
  );
  const completeAtMs: (number | undefined)[] = addresses.map(() => undefined);
  const pick = rng.fork('contact');
  const start = (i: number): void => {
    const address = addresses[i] as Address;
    const nodeClock = clock.nodeClock(address);
    const seeds =
      i === 0 ? [] : [(through === 'seed' ? addresses[0] : addresses[pick.int(i)]) as Address];
    const options = resolveNodeOptions({
      name: `n${i}`,
      dataDir: `/sim/n${i}`,
      bind: address,
      mode: { kind: 'swim', seeds },
      clusterId: 'storm',
      profile: 'lan',
    });
    const io = {
      clock: nodeClock,
      transport: new MemoryTransport(network, address),
      storage: new SimStorage({ rng: rng.fork(`storage-${i}`), clock: nodeClock }),
      rng: rng.fork(`node-${i}`),
    };
    const node = buildNode(options, testIdentity(i + 1), io);
    node.on('member', () => {
      if (completeAtMs[i] === undefined && node.internals.membership?.state.liveCount === n)
        completeAtMs[i] = clock.now();
    });
    nodes.push(node);
  };
  for (let i = 0; i < n; i++)
    clock.at(i === 0 ? 0 : 1 + Math.floor(((i - 1) * SPREAD_MS) / (n - 2)), () => start(i));
  const outcome = clock.runUntil(untilMs, { eventsMax: 20_000_000 });
  expect(outcome.stop).toBe('time');
  for (const node of nodes) node.halt();
  return {
    completeAtMs,
    pushPullsSent: nodes.reduce(
      (sum, node) => sum + (node.internals.membership?.state.counters.pushPullsSent ?? 0),
      0,
    ),
  };
}

describe('join storm (LAN timings, virtual time)', () => {
  const config = membershipConfig('LAN');
  const boundMs = (n: number): number =>
    SPREAD_MS +
    joinSyncDelayMs(config.gossipIntervalMs, config.retransmitMult, n) +
    disseminationBoundMs(config, n);

  it('the bound is well under one push-pull interval', () => {
    expect(boundMs(50)).toBe(1000 + 3200 + 4800);
    expect(boundMs(100)).toBeLessThan(config.pushPullIntervalMs / 2);
  });

  it.each([
    [50, 'random', 1],
    [50, 'random', 2],
    [50, 'random', 3],
    [50, 'random', 4],
    [50, 'seed', 1],
    [100, 'random', 1],
    [100, 'seed', 1],
  ] as const)(
    'N=%i joining through %s members (seed %i): every view complete within the bound',
    (n, through, seed) => {
      const bound = boundMs(n);
      const result = joinStorm(n, seed, through, bound);
      const incomplete = result.completeAtMs.flatMap((at, i) =>
        at === undefined ? [`n${i}`] : [],
      );
      expect(incomplete).toEqual([]);
      // One join and at most one join sync per joiner: no periodic push-pull ran inside the bound.
      expect(result.pushPullsSent).toBeLessThanOrEqual(2 * (n - 1));
    },
  );
});
