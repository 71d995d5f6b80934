/**
 * The registry replicated across a small cluster of pure cores (registry-harness.ts): writes
 * spread by gossip and push-pull under packet loss until every live replica lists the same rows
 * (Almeida et al. 2018: delta-state convergence; Demers et al. 1987: anti-entropy repairs what
 * rumor-mongering loses); a dead member's rows are withdrawn after withdrawDelayMs and stay
 * withdrawn; a restarted member republishes under a new epoch. Each checker has a mutant it must
 * catch.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import type { RegistryState } from '../../src/crdt/registry/types.js';
import { listServices } from '../../src/crdt/registry/queries.js';
import { converged, nodeIdOf, RegistryCluster, withdrawn } from '../../src/sim/registry-cluster.js';

const SEEDS = [1, 2, 3, 4, 5, 6];

function writeSome(cluster: RegistryCluster, round: number): void {
  for (const i of cluster.liveIndexes()) {
    cluster.local(i, {
      op: 'advertise-service',
      name: `svc-${(i + round) % 3}`,
      value: { address: `10.1.0.${i}:80${round}`, tags: ['v2', `r${round}`], weight: 1 + (i % 3) },
    });
    cluster.local(i, {
      op: 'advertise-process',
      pid: `p${round}`,
      value: { type: 'worker', capabilities: ['gpu'], status: 'running', load: 0.1 * i },
    });
    if (round > 0) cluster.local(i, { op: 'withdraw', table: 'process', key: `p${round - 1}` });
  }
}

/** Four rounds of writes 150 ms apart, then 3 s of quiet for anti-entropy to finish. */
function writeRoundsAndSettle(cluster: RegistryCluster): void {
  for (let round = 0; round < 4; round++) {
    writeSome(cluster, round);
    cluster.run(150);
  }
  cluster.run(3_000);
}

describe('registry replication across a cluster', () => {
  it('converges under 20% packet loss: every live replica lists the same rows', () => {
    for (const seed of SEEDS) {
      const cluster = new RegistryCluster({ nodes: 5, seed, lossPercent: 20 });
      writeRoundsAndSettle(cluster);
      expect(cluster.broken, `seed ${seed}`).toEqual([]);
      expect(converged(cluster), `seed ${seed}`).toEqual([]);
      const s = cluster.states[0] as RegistryState;
      expect(listServices(s)).toHaveLength(15);
      expect(s.counters.digestsEqual).toBeGreaterThan(0);
    }
  });

  it('converges with deltas piggybacked on another carrier (gossipCarrier piggyback)', () => {
    for (const seed of SEEDS) {
      const cluster = new RegistryCluster({
        nodes: 5,
        seed,
        lossPercent: 20,
        config: { gossipCarrier: 'piggyback' },
      });
      writeRoundsAndSettle(cluster);
      expect(cluster.broken, `seed ${seed}`).toEqual([]);
      expect(converged(cluster), `seed ${seed}`).toEqual([]);
      const s = cluster.states[1] as RegistryState;
      expect(s.counters.deltasApplied, 'deltas arrived by the carrier').toBeGreaterThan(0);
    }
  });

  it('withdraws a dead member after withdrawDelayMs, a left one at once, and keeps them withdrawn', () => {
    for (const seed of SEEDS) {
      const cluster = new RegistryCluster({ nodes: 5, seed, lossPercent: 10 });
      writeSome(cluster, 0);
      cluster.run(2_000);
      cluster.kill(1, 'dead');
      cluster.kill(2, 'left');
      const s = cluster.states[0] as RegistryState;
      expect(s.partitions.get(nodeIdOf(2))).toBeUndefined();
      expect(s.partitions.get(nodeIdOf(1))?.rows.size).toBeGreaterThan(0);
      expect(listServices(s).map((x) => x.node)).not.toContain(nodeIdOf(1));
      cluster.run(cluster.config.withdrawDelayMs + 2_000);
      expect(withdrawn(cluster), `seed ${seed}`).toEqual([]);
      expect(converged(cluster), `seed ${seed}`).toEqual([]);
      expect(cluster.broken).toEqual([]);
      expect(s.tombstones.size, 'tombstones collected once every live member saw them').toBe(0);
    }
  });

  it('a restarted member republishes under a new epoch and replaces its old rows', () => {
    const cluster = new RegistryCluster({ nodes: 4, seed: 9 });
    writeSome(cluster, 0);
    cluster.run(1_000);
    cluster.boot(3); // a new process with the same NodeId, empty registry, clock 400 ms slow
    cluster.local(3, {
      op: 'advertise-service',
      name: 'fresh',
      value: { address: 'x:1', tags: [], weight: 1 },
    });
    cluster.publishView();
    cluster.run(3_000);
    expect(converged(cluster)).toEqual([]);
    const names = listServices(cluster.states[0] as RegistryState)
      .filter((x) => x.node === nodeIdOf(3))
      .map((x) => x.name);
    expect(names).toEqual(['fresh']);
    expect(cluster.broken).toEqual([]);
  });

  it('a restarted member that advertises nothing: its previous life is replaced by an empty partition', () => {
    for (const skew of [0, -5_000]) {
      const cluster = new RegistryCluster({ nodes: 4, seed: 21 });
      writeSome(cluster, 0);
      cluster.run(1_000);
      cluster.boot(3, skew); // restarted before anyone declared it dead; advertises nothing yet
      cluster.publishView();
      cluster.run(3_000);
      expect(converged(cluster), `skew ${skew}`).toEqual([]);
      const rowsOf3 = listServices(cluster.states[0] as RegistryState).filter(
        (x) => x.node === nodeIdOf(3),
      );
      expect(rowsOf3, `skew ${skew}: the old life's services are gone`).toEqual([]);
      expect(cluster.broken).toEqual([]);
    }
  });

  it('a member restarted with its clock 5 s behind its previous life restamps past it', () => {
    const cluster = new RegistryCluster({ nodes: 4, seed: 13 });
    writeSome(cluster, 0);
    cluster.run(1_000);
    cluster.boot(3, -5_000);
    cluster.publishView(); // membership hands the restarted node its view
    cluster.local(3, {
      op: 'advertise-service',
      name: 'after',
      value: { address: 'y:2', tags: [], weight: 1 },
    });
    cluster.run(3_000);
    expect((cluster.states[3] as RegistryState).counters.restamps).toBeGreaterThan(0);
    expect(converged(cluster)).toEqual([]);
    const names = listServices(cluster.states[1] as RegistryState)
      .filter((x) => x.node === nodeIdOf(3))
      .map((x) => x.name);
    expect(names).toEqual(['after']);
    expect(cluster.broken).toEqual([]);
  });

  it('a member falsely declared dead and withdrawn restamps and gets its rows back', () => {
    const cluster = new RegistryCluster({ nodes: 4, seed: 11 });
    writeSome(cluster, 0);
    cluster.run(1_000);
    cluster.memberState[2] = 'dead';
    cluster.publishView([0, 1, 3]);
    cluster.run(cluster.config.withdrawDelayMs + 100);
    expect((cluster.states[0] as RegistryState).partitions.has(nodeIdOf(2))).toBe(false);
    cluster.memberState[2] = 'alive'; // it refuted (membership), its registry never stopped
    cluster.publishView();
    cluster.run(3_000);
    expect((cluster.states[2] as RegistryState).counters.restamps).toBeGreaterThan(0);
    expect(converged(cluster)).toEqual([]);
    expect(
      listServices(cluster.states[0] as RegistryState).some((x) => x.node === nodeIdOf(2)),
    ).toBe(true);
  });
  it('a churn sweep: 20 seeds of 3-8 nodes, random writes, deaths, leaves, restarts with skewed clocks, 0-29% loss', () => {
    const failures: string[] = [];
    for (let seed = 100; seed < 120; seed++) {
      const rng = new Rng(seed);
      const nodes = 3 + rng.int(6);
      const cluster = new RegistryCluster({
        nodes,
        seed,
        lossPercent: rng.int(30),
        skewMs: (i) => ((i * 1237) % 4000) - 2000,
      });
      for (let round = 0; round < 30; round++) {
        for (const i of cluster.liveIndexes()) {
          if (rng.chance(1, 2))
            cluster.local(i, {
              op: 'advertise-service',
              name: `s${rng.int(4)}`,
              value: { address: `a:${rng.int(9)}`, tags: [], weight: rng.int(3) },
            });
          if (rng.chance(1, 3))
            cluster.local(i, { op: 'withdraw', table: 'service', key: `s${rng.int(4)}` });
          if (rng.chance(1, 3))
            cluster.local(i, {
              op: 'advertise-process',
              pid: `p${rng.int(3)}`,
              value: { type: 'w', capabilities: [], status: 'running', load: rng.int(9) / 10 },
            });
        }
        const r = rng.int(20);
        const victim = rng.int(nodes);
        if (r === 0 && cluster.liveIndexes().length > 2 && cluster.states[victim] !== undefined)
          cluster.kill(victim, rng.chance(1, 2) ? 'dead' : 'left');
        else if (r === 1 && cluster.states[victim] === undefined) {
          cluster.boot(victim, rng.int(3000) - 1500);
          cluster.memberState[victim] = 'alive';
          cluster.publishView();
        }
        cluster.run(50 + rng.int(300));
      }
      cluster.run(cluster.config.withdrawDelayMs + 5_000);
      const broken = [...new Set(cluster.broken), ...converged(cluster), ...withdrawn(cluster)];
      if (broken.length > 0) failures.push(`seed ${seed} (${nodes} nodes): ${broken.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });
});

describe('the cluster checkers catch broken replication (mutants)', () => {
  it('convergence fails when push-pull is off and gossip loses packets', () => {
    const failed = SEEDS.filter((seed) => {
      const cluster = new RegistryCluster({
        nodes: 5,
        seed,
        lossPercent: 40,
        config: { pushPullIntervalMs: 0 },
      });
      writeRoundsAndSettle(cluster);
      return converged(cluster).length > 0;
    });
    expect(failed.length).toBeGreaterThan(0);
  });

  it('withdrawal fails when replicas forget their scheduled withdrawals', () => {
    const failed = SEEDS.filter((seed) => {
      const cluster = new RegistryCluster({
        nodes: 5,
        seed,
        afterStep: (state) => state.withdrawAtMs.clear(),
      });
      writeSome(cluster, 0);
      cluster.run(1_000);
      // Node 4 does not hear of node 1's death (membership lag) and keeps its partition.
      cluster.memberState[1] = 'dead';
      cluster.states[1] = undefined;
      cluster.publishView([0, 2, 3]);
      cluster.run(cluster.config.withdrawDelayMs + 2_000);
      return withdrawn(cluster).some((line) => !line.startsWith('node 4'));
    });
    expect(failed.length).toBeGreaterThan(0);
  });

  it('and sound, a laggard cannot bring them back: a departed owner is not taken from it', () => {
    for (const seed of SEEDS) {
      const cluster = new RegistryCluster({ nodes: 5, seed });
      writeSome(cluster, 0);
      cluster.run(1_000);
      cluster.memberState[1] = 'dead';
      cluster.states[1] = undefined;
      cluster.publishView([0, 2, 3]);
      cluster.run(cluster.config.withdrawDelayMs + 2_000);
      const lines = withdrawn(cluster);
      expect(
        lines.filter((line) => !line.startsWith('node 4')),
        `seed ${seed}`,
      ).toEqual([]);
      // The laggard itself keeps them while its membership says node 1 lives: tombstones are
      // not signed, so no other member can withdraw a member live in our own view.
      expect(lines, `seed ${seed}`).toEqual(['node 4 still holds rows of departed node 1']);
      cluster.publishView([4]);
      cluster.run(cluster.config.withdrawDelayMs + 100);
      expect(withdrawn(cluster), `seed ${seed}`).toEqual([]);
    }
  });
});
