/**
 * One wiring: production (`createNode`) and the simulator build every node through
 * `buildNode`, and no scenario builds a protocol driver by hand, so the simulator runs the code
 * users run, with the same derived config.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNode, nodesBuilt } from '../../src/node/node.js';
import { parseFaults } from '../../src/sim/faults.js';
import { runScenario } from '../../src/sim/runner.js';
import { SCENARIOS } from '../../src/sim/scenarios/index.js';
import { swimLeaderConfig } from '../../src/election/swim/config.js';
import { bootSimNode } from '../../src/sim/scenarios/sim-node.js';
import { swimConfig, swimInternals } from '../../src/sim/scenarios/swim.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimNetwork } from '../../src/sim/network.js';
import { SimStorage } from '../../src/sim/storage.js';
import { Rng } from '../../src/base/rng.js';
import { simAddress } from '../../src/sim/trace.js';

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

describe('one wiring for production and the simulator', () => {
  it('createNode builds its node through buildNode', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-wiring-'));
    try {
      const before = nodesBuilt();
      const node = await createNode({
        name: 'w',
        dataDir,
        bind: '127.0.0.1:0',
        mode: { kind: 'swim', seeds: [] },
      });
      expect(nodesBuilt()).toBe(before + 1);
      await node.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.each([
    'swim',
    'swim-forgery',
    'registry',
    'election-static',
    'election-swim',
    'election-raft-lite',
    'raft',
  ])('scenario %s builds every node (and every restart) through buildNode', (name) => {
    const scenario = SCENARIOS.get(name);
    if (scenario === undefined) throw new Error(`no scenario ${name}`);
    const before = nodesBuilt();
    const result = runScenario(scenario, {
      seed: 3,
      nodes: 3,
      faults: parseFaults('crash'),
      durationMs: 6_000,
    });
    expect(result.violation).toBeUndefined();
    const restarts = result.trace.filter((line) => /fault restart/.test(line)).length;
    expect(nodesBuilt() - before).toBeGreaterThanOrEqual(3 + restarts);
  });

  it('no simulator file builds a protocol driver, a node or a mode by hand', () => {
    for (const file of sourcesUnder('src/sim')) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/new (ProtocolDriver|ShoalNode)\b/);
      expect(text, file).not.toMatch(/from '[./]*node\/(driver|mode-[a-z-]+)\.js'/);
      if (!file.endsWith('sim-node.ts')) expect(text, file).not.toMatch(/\bbuildNode\(/);
    }
  });

  it('a simulated node runs the config the scenario reasons about: one function derives it for both', () => {
    const clock = new SimClock();
    const network = new SimNetwork({ clock, rng: new Rng(1) });
    const address = simAddress('n1');
    const sim = {
      name: 'n1',
      address,
      clock: clock.nodeClock(address),
      rng: new Rng(2),
      storage: new SimStorage({ rng: new Rng(3), clock }),
      identity: 0,
    };
    const world = {
      seed: 1,
      clock,
      network,
      trace: { add: () => undefined },
      nodes: [sim],
      faults: new Set(),
      rng: new Rng(4),
    } as unknown as Parameters<typeof bootSimNode>[0];
    const node = bootSimNode(
      world,
      sim,
      { kind: 'swim', seeds: [], requireQuorum: true, minClusterSize: 5 },
      1,
      swimInternals(5),
    );
    expect(node.internals.membership?.state.config).toEqual(swimConfig(5));
    expect(node.internals.swimLeader?.state.config).toEqual(
      swimLeaderConfig({ requireQuorum: true, minClusterSize: 5 }, swimConfig(5).probeIntervalMs),
    );
    node.halt();
  });
});
