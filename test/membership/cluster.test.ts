/**
 * Several membership cores wired together through an in-memory message queue with a manual
 * clock (no real time): join and convergence, failure detection within the formula's bound,
 * graceful leave, restart with a higher incarnation, and no false suspicion on a perfect network.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';
import { membershipConfig, type MembershipConfig } from '../../src/membership/config.js';
import { nextDeadline } from '../../src/membership/step.js';
import { suspicionTimeoutMinMs } from '../../src/membership/suspicion.js';
import type { Input, State, StepContext } from '../../src/membership/types.js';
import { address, checkedStep, newState, nodeId, type FlatEffect } from './helpers.js';

interface SimNode {
  i: number;
  state: State;
  context: StepContext;
  up: boolean;
  persisted: number;
  events: string[];
}

interface InFlight {
  at: number;
  to: Address;
  input: Input;
}

/** The harness: delivers every message after `latencyMs`, drops packets to crashed nodes, fails streams to them. */
class Cluster {
  readonly nodes = new Map<Address, SimNode>();
  private inflight: InFlight[] = [];
  now = 0;
  private readonly latencyMs = 1;
  private readonly rng = new Rng(42);

  constructor(readonly config: MembershipConfig) {}

  node(i: number): SimNode {
    const node = this.nodes.get(address(i));
    if (node === undefined) throw new Error(`no node ${i}`);
    return node;
  }

  start(i: number, seeds: number[], persisted = 0): void {
    const node: SimNode = {
      i,
      state: newState(i, this.config, persisted),
      context: { rng: this.rng.fork(`node-${i}-${persisted}`) },
      up: true,
      persisted,
      events: [],
    };
    this.nodes.set(address(i), node);
    this.apply(node, { kind: 'start', now: ms(this.now), seeds: seeds.map(address) });
  }

  crash(i: number): void {
    this.node(i).up = false;
  }

  apply(node: SimNode, input: Input): void {
    for (const effect of checkedStep(node.state, input, node.context)) this.perform(node, effect);
  }

  private perform(node: SimNode, effect: FlatEffect): void {
    if (effect.kind === 'persist') node.persisted = effect.incarnation;
    if (effect.kind === 'emit' && effect.event.type !== 'epoch')
      node.events.push(`${effect.event.type}:${effect.event.member.name}`);
    if (effect.kind === 'left-done') node.events.push('left-done');
    if (effect.kind !== 'send') return;
    const from = address(node.i);
    const target = this.nodes.get(effect.to);
    const at = this.now + this.latencyMs;
    if (target !== undefined && target.up) {
      this.inflight.push({
        at,
        to: effect.to,
        input: {
          kind: 'receive',
          now: ms(at),
          from,
          channel: effect.channel,
          message: effect.message,
        },
      });
    } else if (effect.channel === 'stream') {
      this.inflight.push({
        at,
        to: from,
        input: { kind: 'send-failed', now: ms(at), to: effect.to, channel: 'stream' },
      });
    }
  }

  /** Runs until `untilMs` of virtual time, jumping straight from deadline to deadline. */
  runUntil(untilMs: number): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = Infinity;
      for (const m of this.inflight) next = Math.min(next, m.at);
      for (const node of this.nodes.values())
        if (node.up) next = Math.min(next, nextDeadline(node.state) ?? Infinity);
      if (next > untilMs) {
        this.now = untilMs;
        return;
      }
      this.now = Math.max(this.now, next);
      const due = this.inflight.filter((m) => m.at <= this.now);
      this.inflight = this.inflight.filter((m) => m.at > this.now);
      for (const m of due) {
        const node = this.nodes.get(m.to);
        if (node !== undefined && node.up)
          this.apply(node, { ...m.input, now: ms(this.now) } as Input);
      }
      for (const node of this.nodes.values()) {
        const deadline = node.up ? nextDeadline(node.state) : undefined;
        if (deadline !== undefined && deadline <= this.now)
          this.apply(node, { kind: 'tick', now: ms(this.now) as Millis });
      }
    }
    throw new Error('runUntil: event loop guard reached');
  }

  stateOf(observer: number, member: number): string | undefined {
    return this.node(observer).state.members.get(nodeId(member))?.state;
  }
}

function fiveNodeCluster(): Cluster {
  const cluster = new Cluster(membershipConfig('SIM_MIN'));
  cluster.start(0, []);
  for (let i = 1; i < 5; i++) cluster.start(i, [0]);
  cluster.runUntil(1000);
  return cluster;
}

describe('membership cluster (in-memory harness, manual clock)', () => {
  it('5 nodes join via one seed and converge: everyone sees everyone alive', () => {
    const cluster = fiveNodeCluster();
    for (let a = 0; a < 5; a++)
      for (let b = 0; b < 5; b++) expect(cluster.stateOf(a, b), `${a} sees ${b}`).toBe('alive');
  });

  it('a node that stops responding is marked suspect then dead by every other within the bound', () => {
    const cluster = fiveNodeCluster();
    const config = cluster.config;
    const crashedAt = cluster.now;
    cluster.crash(4);
    // Round-robin reaches it within two walks of the 4 others; then the max suspicion timeout; plus gossip slack.
    const detectMs = 2 * 4 * config.probeIntervalMs + config.probeIntervalMs;
    const suspicionMaxMs =
      config.suspicionMaxTimeoutMult *
      suspicionTimeoutMinMs(config.suspicionMult, 5, config.probeIntervalMs);
    cluster.runUntil(crashedAt + detectMs + suspicionMaxMs + 10 * config.gossipIntervalMs);
    for (let a = 0; a < 4; a++) {
      expect(cluster.stateOf(a, 4), `${a} sees 4`).toBe('dead');
      const events = cluster.node(a).events;
      expect(events.indexOf('suspect:n4')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('suspect:n4')).toBeLessThan(events.indexOf('dead:n4'));
    }
  });

  it('a graceful leave is seen as left, not dead', () => {
    const cluster = fiveNodeCluster();
    cluster.apply(cluster.node(4), { kind: 'leave', now: ms(cluster.now) });
    cluster.runUntil(cluster.now + 500);
    expect(cluster.node(4).events).toContain('left-done');
    cluster.crash(4);
    cluster.runUntil(cluster.now + 1000);
    for (let a = 0; a < 4; a++) {
      expect(cluster.stateOf(a, 4), `${a} sees 4`).toBe('left');
      expect(cluster.node(a).events).not.toContain('dead:n4');
    }
  });

  it('a crashed node that restarts rejoins alive with a higher incarnation', () => {
    const cluster = fiveNodeCluster();
    cluster.crash(3);
    cluster.runUntil(cluster.now + 2200);
    expect(cluster.stateOf(0, 3)).toBe('dead');
    const deadIncarnation = cluster.node(0).state.members.get(nodeId(3))!.incarnation;
    cluster.start(3, [0], cluster.node(3).persisted);
    cluster.runUntil(cluster.now + 1000);
    for (let a = 0; a < 5; a++) {
      expect(cluster.stateOf(a, 3), `${a} sees 3`).toBe('alive');
      expect(cluster.node(a).state.members.get(nodeId(3))!.incarnation).toBeGreaterThan(
        deadIncarnation,
      );
    }
  });

  it('a restarted node that lost its persisted incarnation still refutes its way back', () => {
    const cluster = fiveNodeCluster();
    cluster.crash(3);
    cluster.runUntil(cluster.now + 2200);
    expect(cluster.stateOf(0, 3)).toBe('dead');
    cluster.start(3, [0], 0);
    cluster.runUntil(cluster.now + 1000);
    for (let a = 0; a < 5; a++) expect(cluster.stateOf(a, 3), `${a} sees 3`).toBe('alive');
  });

  it('with a perfect network nobody is ever suspected over 200 protocol periods', () => {
    const cluster = fiveNodeCluster();
    cluster.runUntil(cluster.now + 200 * cluster.config.probeIntervalMs);
    for (const node of cluster.nodes.values()) {
      expect(node.state.counters.suspicionsStarted).toBe(0);
      expect(node.state.counters.probesAcked).toBeGreaterThan(150);
      expect(node.state.awareness).toBe(0);
    }
  });

  it('steady state: periodic push-pull rounds are digests in sync, never full views', () => {
    const cluster = fiveNodeCluster();
    cluster.runUntil(cluster.now + 2 * cluster.config.pushPullIntervalMs);
    const fullBefore = [...cluster.nodes.values()].map((n) => n.state.counters.pushPullsSent);
    const digests = new Set(
      [...cluster.nodes.values()].map((n) => `${n.state.viewDigest.hi}:${n.state.viewDigest.lo}`),
    );
    expect(digests.size).toBe(1);
    cluster.runUntil(cluster.now + 5 * cluster.config.pushPullIntervalMs);
    for (const [k, node] of [...cluster.nodes.values()].entries()) {
      expect(node.state.counters.pushPullsSent, `node ${node.i} started no full push-pull`).toBe(
        fullBefore[k],
      );
      expect(node.state.counters.pushPullsInSync).toBeGreaterThanOrEqual(5);
    }
  });

  it('the same seed gives the same event trace', () => {
    const trace = (): string =>
      [...fiveNodeCluster().nodes.values()].map((n) => n.events.join(',')).join('|');
    expect(trace()).toBe(trace());
  });
});
