/**
 * Measures the data plane's two gossip carriers (docs/design/data-plane.md, "Piggyback
 * carrier") in the simulator, so the numbers do not depend on the machine's load: N `swim` nodes
 * built by buildNode with LAN timings (membership and registry), no faults. After membership
 * settles, one random node advertises a new service every `--period-ms`; for each write, the
 * virtual ms until every node lists it, and over the window the data plane's bytes and
 * datagrams (own datagrams, frames sent alone, and the bytes it added to membership's packets),
 * beside membership's own. Same seed, same writes for both carriers.
 *
 * `npx tsx scripts/registry-carrier.ts [--n 10,30] [--writes 40] [--period-ms 500] [--seed 1]`
 */
import { parseArgs } from 'node:util';
import { listServices } from '../src/crdt/registry/queries.js';
import type { RegistryConfig } from '../src/crdt/registry/config.js';
import type { ShoalNode } from '../src/node/node.js';
import { runScenario, type Scenario, type SimWorld } from '../src/sim/runner.js';
import { SwimRun } from '../src/sim/scenarios/swim.js';
import type { SwimView } from '../src/sim/scenarios/swim-checkers.js';

/** Virtual ms after boot before the first write (membership converged with LAN timings). */
const SETTLE_MS = 15_000;
/** How often pending writes are checked on every node, virtual ms. */
const POLL_MS = 5;
/** How long after the last write its latency is still waited for, virtual ms. */
const DRAIN_MS = 10_000;
/** IPv4 + UDP header bytes a datagram costs on the wire beyond its payload. */
const UDP_HEADER_BYTES = 28;

interface Measured {
  latenciesMs: number[];
  missed: number;
  dataBytes: number;
  dataPackets: number;
  carriedBytes: number;
  carried: number;
  alone: number;
  membershipBytes: number;
  membershipPackets: number;
}

class CarrierRun extends SwimRun {
  readonly out: Measured = {
    latenciesMs: [],
    missed: 0,
    dataBytes: 0,
    dataPackets: 0,
    carriedBytes: 0,
    carried: 0,
    alone: 0,
    membershipBytes: 0,
    membershipPackets: 0,
  };
  private readonly pending = new Map<string, number>();
  private before: Measured | undefined;
  private finished = false;

  constructor(
    world: SimWorld,
    registry: Partial<RegistryConfig>,
    writes: number,
    periodMs: number,
  ) {
    super(world, { profile: 'LAN', internals: { registryProfile: 'lan', registry } });
    const pick = world.rng.fork('carrier-writes');
    for (let i = 0; i < writes; i++)
      world.clock.at(SETTLE_MS + i * periodMs, () => {
        if (i === 0) this.before = this.totals();
        const nodes = [...this.nodes.values()];
        const node = nodes[pick.int(nodes.length)] as ShoalNode;
        node.services.advertise({ name: `m-${i}`, address: `10.0.0.1:${1000 + i}` });
        this.pending.set(`m-${i}`, world.clock.now());
      });
    const end = SETTLE_MS + writes * periodMs;
    const poll = (): void => {
      this.check();
      const now = world.clock.now();
      if (now >= end && !this.finished) this.finish(); // bytes over the write window only
      if (now < end + DRAIN_MS && (now <= end || this.pending.size > 0))
        world.clock.at(now + POLL_MS, poll);
      else this.out.missed = this.pending.size;
    };
    world.clock.at(SETTLE_MS, poll);
  }

  private check(): void {
    for (const [name, at] of this.pending) {
      const everywhere = [...this.nodes.values()].every((n) => {
        const state = n.internals.registry?.state;
        return state !== undefined && listServices(state, name).length === 1;
      });
      if (!everywhere) continue;
      this.out.latenciesMs.push(this.world.clock.now() - at);
      this.pending.delete(name);
    }
  }

  private finish(): void {
    this.finished = true;
    const after = this.totals();
    const b = this.before ?? after;
    for (const k of [
      'dataBytes',
      'dataPackets',
      'carriedBytes',
      'carried',
      'alone',
      'membershipBytes',
      'membershipPackets',
    ] as const)
      this.out[k] = after[k] - b[k];
  }

  private totals(): Measured {
    const t = { ...this.out, latenciesMs: [] };
    for (const k of Object.keys(t) as (keyof Measured)[]) if (k !== 'latenciesMs') t[k] = 0;
    for (const node of this.nodes.values()) {
      const s = node.stats();
      const d = s.dataPlane?.transport;
      const c = s.dataPlane?.carrier;
      if (d === undefined || s.transport === undefined) continue;
      t.dataBytes += d.packetBytesSent + d.frameBytesSent;
      t.dataPackets += d.packetsSent + d.framesSent;
      t.carriedBytes += c?.carriedBytes ?? 0;
      t.carried += c?.carried ?? 0;
      t.alone += c?.alone ?? 0;
      // The port's totals hold membership's packets with the carried bytes inside them.
      t.membershipBytes +=
        s.transport.packetBytesSent +
        s.transport.frameBytesSent -
        d.packetBytesSent -
        d.frameBytesSent -
        (c?.carriedBytes ?? 0);
      t.membershipPackets +=
        s.transport.packetsSent + s.transport.framesSent - d.packetsSent - d.framesSent;
    }
    return t;
  }
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '10,30' },
      writes: { type: 'string', default: '40' },
      'period-ms': { type: 'string', default: '500' },
      seed: { type: 'string', default: '1' },
    },
  });
  const writes = Number(values.writes);
  const periodMs = Number(values['period-ms']);
  const carriers: [string, Partial<RegistryConfig>][] = [
    ['own (200 ms rounds)', { gossipCarrier: 'own' }],
    ['piggyback (200 ms wait)', { gossipCarrier: 'piggyback' }],
    ['piggyback (1000 ms wait)', { gossipCarrier: 'piggyback', gossipIntervalMs: 1000 }],
  ];
  console.log(
    '| N | carrier | write everywhere, median / p90 / max ms | missed | data-plane bytes per write (payload / with UDP+IP headers) | datagrams per write | copies carried / alone | membership bytes per write period |',
  );
  console.log('| ---: | --- | --- | ---: | --- | ---: | --- | ---: |');
  for (const n of values.n.split(',').map(Number)) {
    for (const [label, registry] of carriers) {
      let run: CarrierRun | undefined;
      const scenario: Scenario<SwimView> = {
        name: 'registry-carrier',
        description: 'measurement',
        nodesMin: 3,
        setup: (world) => (run = new CarrierRun(world, registry, writes, periodMs)),
      };
      runScenario(scenario, {
        seed: Number(values.seed),
        nodes: n,
        faults: new Set(),
        durationMs: SETTLE_MS + writes * periodMs + DRAIN_MS + 100,
        traceLinesMax: 1,
      });
      const m = (run as CarrierRun).out;
      const own = m.dataPackets - m.alone;
      const payload = m.dataBytes + m.carriedBytes;
      const wire = payload + m.dataPackets * UDP_HEADER_BYTES;
      console.log(
        `| ${n} | ${label} | ${quantile(m.latenciesMs, 0.5)} / ${quantile(m.latenciesMs, 0.9)} / ${quantile(m.latenciesMs, 1)} | ${m.missed} | ${Math.round(payload / writes)} / ${Math.round(wire / writes)} | ${((own + m.alone) / writes).toFixed(1)} | ${m.carried} / ${m.alone} | ${Math.round(m.membershipBytes / writes)} |`,
      );
    }
  }
}

main();
