/**
 * A membership cluster in virtual time: the SWIM core on the generic driver (lib-sim-membership.ts)
 * over `MemoryTransport` on the simulator's `SimNetwork` (seeded loss, pauses), with LAN timings.
 * One code path with production (docs/design/simulator.md), so member-hours under loss cost
 * seconds instead of hours. Every node logs the suspect/dead events it emits, with virtual time.
 */
import { parseAddress, type Address } from '../src/base/address.js';
import { Rng } from '../src/base/rng.js';
import type { NodeId } from '../src/identity/node-id.js';
import { membershipConfig, type MembershipConfig } from '../src/membership/config.js';
import type { MembershipTypes } from '../src/membership/types.js';
import type { ProtocolDriver } from '../src/node/driver.js';
import { SimClock } from '../src/sim/clock.js';
import type { LinkConfig } from '../src/sim/link-config.js';
import { SimNetwork } from '../src/sim/network.js';
import { simMembershipDriver } from './lib-sim-membership.js';
import { simIdentityFrom } from '../src/sim/scenarios/sim-node.js';

export interface SimEvent {
  observer: number;
  type: string;
  targetId: NodeId;
  atMs: number;
}

export interface SimClusterOptions {
  n: number;
  seed: number;
  link?: Partial<LinkConfig>;
  membership?: Partial<MembershipConfig>;
  /** Joins are spread over this many virtual ms after node 0 starts. @defaultValue 1000 */
  joinSpreadMs?: number;
}

/** Most events one `runFor` may run: a bound on a runaway loop, far above LAN's event rate. */
const EVENTS_PER_VIRTUAL_SEC_MAX = 100_000;

export class SimCluster {
  readonly clock = new SimClock();
  readonly network: SimNetwork;
  readonly drivers: ProtocolDriver<MembershipTypes>[] = [];
  readonly addresses: Address[] = [];
  readonly ids: NodeId[] = [];
  readonly events: SimEvent[] = [];

  constructor(options: SimClusterOptions) {
    const rng = new Rng(options.seed);
    this.network = new SimNetwork({
      clock: this.clock,
      rng: rng.fork('network'),
      ...(options.link === undefined ? {} : { link: options.link }),
    });
    const config = membershipConfig('LAN', options.membership);
    for (let i = 0; i < options.n; i++) this.addNode(i, config, rng);
    const spreadMs = options.joinSpreadMs ?? 1000;
    const first = this.addresses[0] as Address;
    this.drivers.forEach((driver, i) => {
      const atMs = i === 0 ? 0 : 1 + Math.floor((i * spreadMs) / options.n);
      this.clock.at(atMs, () => {
        driver.start();
        driver.input({ kind: 'start', now: this.clock.now(), seeds: i === 0 ? [] : [first] });
      });
    });
  }

  private addNode(i: number, config: MembershipConfig, rng: Rng): void {
    const address = parseAddress(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7946`);
    const identity = simIdentityFrom(rng.fork(`id-${i}`));
    const id = identity.nodeId;
    const driver = simMembershipDriver({
      identity,
      name: `n${i}`,
      address,
      clock: this.clock.nodeClock(address),
      network: this.network,
      config,
      rng: rng.fork(`node-${i}`),
      clusterId: 'bench',
      onEvent: (event) => {
        if (event.type === 'suspect' || event.type === 'dead')
          this.events.push({
            observer: i,
            type: event.type,
            targetId: event.member.id,
            atMs: this.clock.now(),
          });
      },
    });
    this.drivers.push(driver);
    this.addresses.push(address);
    this.ids.push(id);
  }

  /** Runs `ms` of virtual time. */
  runFor(ms: number): void {
    const outcome = this.clock.runUntil(this.clock.now() + ms, {
      eventsMax: Math.max(1, Math.ceil(ms / 1000)) * EVENTS_PER_VIRTUAL_SEC_MAX,
    });
    if (outcome.stop !== 'time')
      throw new Error(`simulation stopped early (${outcome.stop}) after ${outcome.events} events`);
  }

  /** True when every driver holds all N members alive. */
  converged(): boolean {
    return this.drivers.every(
      (d) => d.state.liveCount === this.drivers.length && d.state.suspects.size === 0,
    );
  }

  /** Sum of one protocol counter over all nodes. */
  counter(name: keyof ProtocolDriver<MembershipTypes>['state']['counters']): number {
    return this.drivers.reduce((sum, d) => sum + d.state.counters[name], 0);
  }

  stop(): void {
    for (const d of this.drivers) d.stop();
  }
}
