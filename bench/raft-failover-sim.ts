/**
 * Raft failover in the simulator (virtual time, so it measures the protocol, not the machine):
 * 3 and 5 nodes built by `buildNode` in `raft` mode on the simulated network (1 ms links) and the
 * WAL on simulated disks, with the checker state machine. Per trial: wait for a leader known by
 * every node, crash it, and measure until a majority of the cluster (majorityOf(n), survivors)
 * reports one new leader with one term. Heartbeat / election timeout: 100 / 1000–2000 ms (LAN)
 * and 50 / 250–500 ms (LOCAL). The wall-clock failover of real processes is the lead's
 * bench/raft-etcd-baseline.ts once the key-value store is wired. Run alone:
 * `npx tsx bench/raft-failover-sim.ts [--trials N]`. Measured (30 trials each, seeds 1-30):
 * 100/1000-2000 ms: median 1309 ms (3 nodes), 1187 ms (5), max 1894; 50/250-500 ms: median 324
 * ms (3), 284 ms (5), max 456.
 */
import type { Address } from '../src/base/address.js';
import { majorityOf } from '../src/election/quorum.js';
import type { ShoalNode } from '../src/node/node.js';
import type { RaftProfile } from '../src/raft/config.js';
import { parseFaults } from '../src/sim/faults.js';
import { runScenario, type Scenario, type ScenarioRun, type SimWorld } from '../src/sim/runner.js';
import { raftStateOf } from '../src/sim/scenarios/raft-checkers.js';
import { CheckerMachine, RaftObservations } from '../src/sim/scenarios/raft-machine.js';
import { bootSimNode } from '../src/sim/scenarios/sim-node.js';
import { fmt, flagNumber, isMain, median, parseFlags, percentile, table } from './lib-report.js';

/** etcd 3.4, 3 members, 100 ms heartbeat / 1 s election timeout: median and max over 25 kills. */
const ETCD_FAILOVER = { medianMs: 1199, maxMs: 2517 };

function failoverScenario(profile: RaftProfile, onFailover: (ms: number) => void): Scenario<null> {
  return {
    name: 'raft-failover-bench',
    description: 'one leader crash, the time until a majority knows a new leader',
    nodesMin: 3,
    setup(world: SimWorld): ScenarioRun<null> {
      const nodes = new Map<Address, ShoalNode>();
      const observations = new RaftObservations();
      const peers = world.nodes.map((n) => n.address);
      for (const node of world.nodes)
        nodes.set(
          node.address,
          bootSimNode(world, node, { kind: 'raft', peers }, 1, {
            raftApplication: () => new CheckerMachine(node.address, observations, () => undefined),
            raftProfile: profile,
          }),
        );
      let killedAtMs: number | undefined;
      let old: { address: Address; term: number } | undefined;
      const poll = (): void => {
        const states = [...nodes].map(([a, n]) => [a, raftStateOf(n)] as const);
        if (killedAtMs === undefined) {
          const leader = states.find(([, s]) => s?.role === 'leader');
          const agreed =
            leader !== undefined && states.every(([, s]) => s?.leader?.id === leader[1]?.selfId);
          if (leader !== undefined && agreed && leader[1] !== undefined) {
            old = { address: leader[0], term: leader[1].term };
            killedAtMs = world.clock.now();
            const victim = world.nodes.find((n) => n.address === old?.address);
            if (victim !== undefined) {
              world.network.crash(victim.address);
              nodes.get(victim.address)?.halt();
              nodes.delete(victim.address);
            }
          }
        } else if (old !== undefined) {
          const counts = new Map<string, number>();
          for (const [, s] of states) {
            if (s?.leader === undefined || s.term <= old.term) continue;
            const key = `${s.leader.id}@${s.term}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
          if ([...counts.values()].some((c) => c >= majorityOf(world.nodes.length))) {
            onFailover(world.clock.now() - killedAtMs);
            return;
          }
        }
        world.clock.at(world.clock.now() + 1, poll);
      };
      world.clock.at(1, poll);
      return {
        view: null,
        checkers: [],
        crashNode: () => undefined,
        restartNode: () => undefined,
        startLiveness: () => undefined,
        livenessReached: () => true,
        describeLivenessFailure: () => '',
      };
    },
  };
}

function trials(profile: RaftProfile, size: number, count: number): number[] {
  const out: number[] = [];
  for (let seed = 1; seed <= count; seed++) {
    const scenario = failoverScenario(profile, (ms) => out.push(ms));
    // Long enough for a first leader, the kill and a new leader (a few election timeouts).
    const durationMs = profile === 'LAN' ? 10_000 : 4_000;
    runScenario(scenario, { seed, nodes: size, faults: parseFaults('none'), durationMs });
  }
  return out;
}

export function run(argv: readonly string[] = []): Promise<string> {
  const count = flagNumber(parseFlags(argv), 'trials', 100);
  const rows: string[][] = [];
  for (const [profile, label] of [
    ['LAN', '100 / 1000–2000'],
    ['LOCAL', '50 / 250–500'],
  ] as const) {
    for (const size of [3, 5]) {
      const ms = trials(profile, size, count);
      rows.push([
        label,
        String(size),
        String(ms.length),
        fmt(median(ms)),
        fmt(percentile(ms, 99)),
        fmt(Math.max(...ms)),
      ]);
    }
  }
  return Promise.resolve(
    [
      table(
        ['heartbeat / election timeout ms', 'nodes', 'trials', 'median ms', 'p99 ms', 'max ms'],
        rows,
      ),
      '',
      `Virtual time, 1 ms links, no faults but the crash; the leader's death is noticed after a randomized election timeout, then one PreVote and one vote round. etcd 3.4 (3 members, 100 / 1000 ms, real processes): median ${ETCD_FAILOVER.medianMs} ms, max ${ETCD_FAILOVER.maxMs} ms.`,
    ].join('\n'),
  );
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
