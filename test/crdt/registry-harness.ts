/**
 * A small deterministic cluster of registry cores for tests: a seeded, lossy, in-memory bus (each
 * message is encoded and decoded, so the codec runs too), views handed to every core as
 * membership would, and the cluster checkers with their mutants. Not the simulator (the lead
 * wires the registry into src/sim with membership); this drives the pure cores alone.
 */
import type { Address } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { ms, type Millis } from '../../src/base/time.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { registryConfig, type RegistryConfig } from '../../src/crdt/registry/config.js';
import { REGISTRY_CORE, registryWire } from '../../src/crdt/registry/protocol.js';
import { decodeDeltaPayload } from '../../src/crdt/registry/codec.js';
import type {
  LocalOp,
  RegistryEffect,
  RegistryInput,
  RegistryState,
  RowChange,
  ViewMember,
} from '../../src/crdt/registry/types.js';
import { listProcesses, listServices } from '../../src/crdt/registry/queries.js';
import type { CoreInput } from '../../src/base/protocol.js';
import type { RegistryTypes } from '../../src/crdt/registry/types.js';

export const nodeIdOf = (i: number): NodeId =>
  (i.toString(16).padStart(2, '0') + 'ab'.repeat(15)) as NodeId;
export const addressOf = (i: number): Address => `10.0.0.${i}:7946` as Address;

interface Pending {
  atMs: number;
  to: number;
  from: Address;
  data: Uint8Array;
  channel: 'packet' | 'stream';
}

export interface ClusterOptions {
  nodes: number;
  seed: number;
  /** Percent of packets (datagrams) lost; streams are reliable. */
  lossPercent?: number;
  config?: Partial<RegistryConfig>;
  /** Per-node wall clock skew, ms (node i gets skew(i)). */
  skewMs?: (i: number) => number;
  /** Runs after every step: the mutants of the checkers. */
  afterStep?: (state: RegistryState) => void;
  /** Filters messages (a mutant that drops some). */
  deliver?: (input: RegistryInput) => RegistryInput | undefined;
}

export class RegistryCluster {
  readonly config: RegistryConfig;
  readonly states: (RegistryState | undefined)[] = [];
  readonly changes: RowChange[][] = [];
  private readonly rng: Rng;
  private readonly queue: Pending[] = [];
  private readonly piggybacks: { atMs: number; to: number; from: Address; payload: Uint8Array }[] =
    [];
  private readonly wire;
  /** Membership's truth: each node's state as every member sees it. */
  readonly memberState: ViewMember['state'][] = [];
  now: Millis = ms(1_000);
  broken: string[] = [];

  constructor(private readonly options: ClusterOptions) {
    this.config = registryConfig('simMin', options.config ?? {});
    this.rng = new Rng(options.seed);
    this.wire = registryWire('test', this.config);
    for (let i = 0; i < options.nodes; i++) this.boot(i);
    this.publishView();
  }

  /** Boots node i (again: a restart with an empty registry), its wall clock `extraSkewMs` off. */
  boot(i: number, extraSkewMs = 0): void {
    this.states[i] = REGISTRY_CORE.init(
      {
        config: this.config,
        selfId: nodeIdOf(i),
        wallOffsetMs: 1_700_000_000_000 + (this.options.skewMs?.(i) ?? 0) + extraSkewMs,
      },
      undefined,
      { now: this.now, rng: this.rng.fork(`init/${i}`) },
    );
    this.changes[i] = [];
    this.memberState[i] = 'alive';
  }

  /** Every live node gets the view (membership's eventual agreement, here instantaneous). */
  publishView(only?: number[]): void {
    const members: ViewMember[] = this.memberState.map((state, i) => ({
      id: nodeIdOf(i),
      address: addressOf(i),
      state,
    }));
    for (let i = 0; i < this.states.length; i++)
      if (only === undefined || only.includes(i))
        this.step(i, { kind: 'view', now: this.now, members });
  }

  step(i: number, input: CoreInput<RegistryTypes>): void {
    const state = this.states[i];
    if (state === undefined) return;
    const filtered =
      input.kind === 'tick' || input.kind === 'persisted'
        ? input
        : (this.options.deliver?.(input) ?? input);
    if (filtered === undefined) return;
    const before = REGISTRY_CORE.snapshot(state);
    const ready = REGISTRY_CORE.step(state, filtered, {
      rng: this.rng.fork(`step/${i}/${this.now}/${this.rng.next32()}`),
    });
    this.options.afterStep?.(state);
    this.broken.push(
      ...REGISTRY_CORE.checkInvariants(state),
      ...REGISTRY_CORE.checkTransition(before, state, filtered),
    );
    for (const effect of ready.effects) this.perform(i, effect);
  }

  private perform(i: number, effect: RegistryEffect): void {
    if (effect.kind === 'changed') {
      this.changes[i]?.push(effect);
      return;
    }
    if (effect.kind === 'piggyback') {
      // The carrier (membership's gossip, when wired) takes the payload to a few live members.
      const others = this.liveIndexes().filter((j) => j !== i);
      for (const j of this.rng.shuffle(others).slice(0, this.config.gossipFanout)) {
        if (this.rng.int(100) < (this.options.lossPercent ?? 0)) continue;
        this.piggybacks.push({
          atMs: this.now + 1 + this.rng.int(5),
          to: j,
          from: addressOf(i),
          payload: effect.payload,
        });
      }
      return;
    }
    const to = Number.parseInt(effect.to.split('.')[3] as string, 10);
    if (effect.channel === 'packet' && this.rng.int(100) < (this.options.lossPercent ?? 0)) return;
    const data = this.wire.encode(effect.message, effect.channel);
    this.queue.push({
      atMs: this.now + 1 + this.rng.int(5),
      to,
      from: addressOf(i),
      data,
      channel: effect.channel,
    });
  }

  local(i: number, write: LocalOp): void {
    this.step(i, { kind: 'local', now: this.now, write });
  }

  /** Runs the cluster for `durationMs` of virtual time: deadlines, then deliveries, in time order. */
  run(durationMs: number): void {
    const end = this.now + durationMs;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let nextAt = end + 1;
      let who = -1;
      this.states.forEach((s, i) => {
        const d = s === undefined ? undefined : REGISTRY_CORE.nextDeadline(s);
        if (d !== undefined && d < nextAt) [nextAt, who] = [d, i];
      });
      this.piggybacks.sort((a, b) => a.atMs - b.atMs);
      const carried = this.piggybacks[0];
      if (carried !== undefined && carried.atMs <= nextAt && carried.atMs <= end) {
        this.piggybacks.shift();
        this.now = ms(Math.max(this.now, carried.atMs));
        const decoded = decodeDeltaPayload(carried.payload, this.config);
        if (!decoded.ok)
          throw new Error(`payload decode failed: ${decoded.code} ${decoded.detail}`);
        this.step(carried.to, {
          kind: 'deltas',
          now: this.now,
          from: carried.from,
          deltas: decoded.deltas,
        });
        continue;
      }
      this.queue.sort((a, b) => a.atMs - b.atMs);
      const msg = this.queue[0];
      if (msg !== undefined && msg.atMs <= nextAt) {
        if (msg.atMs > end) break;
        this.queue.shift();
        this.now = ms(Math.max(this.now, msg.atMs));
        const decoded = this.wire.decode(msg.data, msg.from, msg.channel, this.now);
        if (!decoded.ok) throw new Error(`decode failed: ${decoded.code} ${decoded.detail}`);
        this.step(msg.to, decoded.input);
        continue;
      }
      if (who < 0) break;
      this.now = ms(Math.max(this.now, nextAt));
      this.step(who, { kind: 'tick', now: this.now });
    }
    this.now = ms(Math.max(this.now, end));
  }

  /** Crash: the node stops; the others' membership declares it dead. */
  kill(i: number, state: 'dead' | 'left' = 'dead'): void {
    this.states[i] = undefined;
    this.memberState[i] = state;
    this.publishView();
  }

  liveIndexes(): number[] {
    return this.states.flatMap((s, i) => (s === undefined ? [] : [i]));
  }
}

/** Checker: every live replica lists the same services and processes. */
export function converged(cluster: RegistryCluster): string[] {
  const views = cluster.liveIndexes().map((i) => {
    const s = cluster.states[i] as RegistryState;
    return JSON.stringify([listServices(s), listProcesses(s)]);
  });
  return views.every((v) => v === views[0]) ? [] : ['live replicas list different rows'];
}

/** Checker: no replica holds rows of a node that is dead or left once the withdrawal delay passed. */
export function withdrawn(cluster: RegistryCluster): string[] {
  const broken: string[] = [];
  for (const i of cluster.liveIndexes()) {
    const s = cluster.states[i] as RegistryState;
    cluster.memberState.forEach((m, j) => {
      if (m !== 'dead' && m !== 'left') return;
      const p = s.partitions.get(nodeIdOf(j));
      if (p !== undefined && p.rows.size > 0)
        broken.push(`node ${i} still holds rows of departed node ${j}`);
    });
  }
  return broken;
}
