/**
 * Scenarios `worker-tier*` (docs/design/worker-tier.md, "Simulation"): 3 worker-servers over a
 * modelled Raft store (worker-tier-store.ts) and thousands of workers, every one running the real
 * client core (src/worker/core/client) on the generic driver with its own skewed clock, talking
 * to the servers over the SimNetwork (loss, delay, partitions between workers and servers,
 * pauses, crashes, clock steps). The servers run the real liveness core, registration txns and
 * scale plans (worker-tier-server.ts). The scenario scales services now and then through the
 * leader, so assignments keep moving while the nemesis works.
 *
 * Checkers (worker-tier-checkers.ts): no worker declared down before its promised TTL ran out
 * (so none because of a leader change), every assignment revision delivered once and in order in
 * each life of each worker, token uses within their maximum. Each has an `-unsafe` variant that
 * must be caught: `worker-tier-failover-unsafe` (a new leader without the failover TTL),
 * `worker-tier-dedup-unsafe` and `worker-tier-resume-unsafe` (a worker that resumes from its
 * last revision without dropping repeats, or from "now"), `worker-tier-tokens-unsafe` (uses
 * counted in the leader's memory, reset on failover).
 *
 * Liveness: after the heal, every worker that runs and holds a token use is registered, not
 * down, and has every assignment revision of its prefix.
 */
import type { Address } from '../../base/address.js';
import { toHex } from '../../base/hex.js';
import { clientDriver } from '../../worker/drivers.js';
import {
  workerClientConfig,
  workerServerConfig,
  failoverHeartbeatTtlMsFor,
  type WorkerServerConfig,
} from '../../worker/core/config.js';
import type { CallFailure, ClientMutations, ClientTypes } from '../../worker/core/client/types.js';
import { keys } from '../../worker/core/layout.js';
import { records } from '../../worker/core/records.js';
import type { FaultTargets } from '../faults.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import {
  assignmentsOnceInOrder,
  noDownBeforePromise,
  tokenUsesWithinMax,
  type Delivery,
  type MarkRecord,
  type WorkerTierView,
} from './worker-tier-checkers.js';
import {
  SimServer,
  decodeMessage,
  encodeMessage,
  type Message,
  type SimToken,
} from './worker-tier-server.js';
import { SimStore } from './worker-tier-store.js';

export const WORKER_TIER_SERVERS = 3;

/**
 * The simulated tier's timings: a low heartbeat rate (5/s) so that 1,000 workers already have a
 * 200 s TTL base (what 10,000 workers get at 50/s), the regime where a failover without the
 * failover TTL declares live workers down.
 */
export const SIM_WORKER_SERVER: Partial<WorkerServerConfig> = {
  minHeartbeatTtlMs: 2_000,
  maxHeartbeatTtlMs: 600_000,
  heartbeatGraceMs: 4_000,
  maxHeartbeatsPerSecond: 5,
  stallThresholdMs: 2_000,
  sweepIntervalMs: 500,
  pollWaitMsMax: 20_000,
};

/** Leadership moves at these times (ms), on top of the nemesis' faults. */
export const FAILOVER_FIRST_MS = 25_000;
export const FAILOVER_EVERY_MS = 60_000;

export type WorkerTierVariant =
  'default' | 'failover-unsafe' | 'dedup-unsafe' | 'resume-unsafe' | 'tokens-unsafe';

class SimWorker {
  driver: ReturnType<typeof clientDriver> | undefined;
  life = 0;
  registered = false;
  readonly workerId: string;

  constructor(
    readonly node: SimNode,
    readonly token: number,
  ) {
    const rng = node.rng.fork('worker-id');
    this.workerId = toHex(Uint8Array.from({ length: 16 }, () => rng.int(256)));
  }
}

class WorkerTierRun implements ScenarioRun<WorkerTierView> {
  readonly store: SimStore;
  readonly servers = new Map<Address, SimServer>();
  private readonly serverNodes: SimNode[];
  private readonly workers = new Map<Address, SimWorker>();
  private readonly generations = new Map<Address, number>();
  private readonly config: WorkerServerConfig;
  private readonly promises = new Map<string, number>();
  private readonly marks: MarkRecord[] = [];
  private readonly deliveries: Delivery[] = [];
  private readonly tokens: SimToken[];
  readonly view: WorkerTierView;
  readonly checkers = [noDownBeforePromise(), assignmentsOnceInOrder(), tokenUsesWithinMax()];
  private readonly mutations: ClientMutations;

  constructor(
    private readonly world: SimWorld,
    private readonly variant: WorkerTierVariant,
  ) {
    this.config = workerServerConfig(SIM_WORKER_SERVER);
    this.serverNodes = world.nodes.slice(0, WORKER_TIER_SERVERS);
    this.store = new SimStore(
      world,
      this.serverNodes.map((n) => n.address),
      world.rng.fork('store'),
    );
    this.mutations =
      variant === 'dedup-unsafe'
        ? { resumeWithoutDedup: true }
        : variant === 'resume-unsafe'
          ? { resumeFromNow: true }
          : {};
    const workerNodes = world.nodes.slice(WORKER_TIER_SERVERS);
    // Three tokens; together they allow 90 % of the workers (the rest must be refused, used-up).
    const uses = Math.max(1, Math.floor((workerNodes.length * 0.9) / 3));
    this.tokens = [0, 1, 2].map((i) => ({
      tokenId: toHex(Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j) & 255)),
      maxUses: uses,
      expiresAtMs: 10 ** 12,
    }));
    this.view = {
      store: this.store,
      marks: this.marks,
      deliveries: this.deliveries,
      tokens: this.tokens,
    };
    this.store.onLeader((leader, term) => {
      for (const s of this.servers.values()) s.onLeader(leader, term);
    });
    this.store.onCommit((entry) => {
      for (const s of this.servers.values()) s.onCommit(entry);
    });
    for (const node of this.serverNodes) this.bootServer(node);
    workerNodes.forEach((node, i) => {
      const w = new SimWorker(node, i % 3);
      this.workers.set(node.address, w);
      // Workers arrive over the first 10 s (a registration storm).
      world.clock.at(world.rng.int(10_000), () => {
        if (!world.network.isAttached(node.address) && w.life === 0) this.bootWorker(w);
      });
    });
    this.scaleNowAndThen();
    // Failovers on schedule too (the nemesis may or may not hit the leader among 1,000 nodes).
    for (let at = FAILOVER_FIRST_MS; at < 10 * FAILOVER_FIRST_MS; at += FAILOVER_EVERY_MS)
      world.clock.at(at, () => this.store.transfer());
  }

  private bootServer(node: SimNode): void {
    const generation = (this.generations.get(node.address) ?? 0) + 1;
    this.generations.set(node.address, generation);
    const server = new SimServer(
      this.world,
      node,
      this.store,
      this.config,
      this.tokens,
      {
        renewed: (id, ttlMs) => this.promise(id, ttlMs),
        markedDown: (id) => {
          this.world.trace.add(`${node.name} marks ${id.slice(0, 8)} down`);
          this.marks.push({
            workerId: id,
            atMs: this.world.clock.now(),
            promisedUntilMs: this.promises.get(id) ?? 0,
          });
        },
        memoryTokenCount: this.variant === 'tokens-unsafe',
        noFailoverTtl: this.variant === 'failover-unsafe',
      },
      generation,
    );
    this.servers.set(node.address, server);
    this.store.up.add(node.address);
    this.world.network.attach(node.address, (from, _channel, data) =>
      server.later(0, () => server.receive(from, decodeMessage(data))),
    );
    server.onLeader(this.store.leader, this.store.term);
  }

  /** A leader renewed `id`: it promised not to declare it down before now + ttl + grace (less slack). */
  private promise(id: string, ttlMs: number): void {
    const spanMs = ttlMs + this.config.heartbeatGraceMs;
    const slackMs =
      this.config.stallThresholdMs + Math.ceil(spanMs * 0.002) + this.config.sweepIntervalMs;
    this.promises.set(
      id,
      Math.max(this.promises.get(id) ?? 0, this.world.clock.now() + spanMs - slackMs),
    );
  }

  private bootWorker(w: SimWorker): void {
    w.life++;
    const clock = w.node.clock.life();
    const servers = this.serverNodes.map((n) => n.address as string);
    // Each worker starts at its own server, then goes round-robin.
    const first = this.world.rng.int(servers.length);
    const ordered = [...servers.slice(first), ...servers.slice(0, first)];
    const driver = clientDriver(
      {
        config: workerClientConfig({ pollWaitMs: 20_000 }),
        servers: ordered,
        mode: w.node.rng.int(2) === 0 ? 'stream' : 'poll',
        registered: w.registered,
        mutations: this.mutations,
      },
      {
        clock,
        storage: w.node.storage,
        rng: w.node.rng.fork(`client/${w.life}`),
        checkInvariants: true,
      },
      (effect) => {
        switch (effect.kind) {
          case 'call':
            return this.call(w, effect.callId, effect.server as Address, effect.request);
          case 'deliver':
            this.deliveries.push({
              workerId: w.workerId,
              life: w.life,
              kind: 'batch',
              batch: effect.batch,
            });
            return;
          case 'deliver-snapshot':
            this.deliveries.push({
              workerId: w.workerId,
              life: w.life,
              kind: 'snapshot',
              revision: effect.snapshot.revision,
              count: effect.snapshot.assignments.length,
            });
            return;
          default:
            return;
        }
      },
    );
    w.driver = driver;
    const life = w.life;
    this.world.network.attach(w.node.address, (_from, _channel, data) =>
      clock.setTimer(0 as never, () => {
        if (w.life === life) this.answer(w, decodeMessage(data));
      }),
    );
    driver.start();
  }

  private call(
    w: SimWorker,
    callId: number,
    server: Address,
    request: ClientTypes['effect'] extends infer E
      ? E extends { kind: 'call'; request: infer R }
        ? R
        : never
      : never,
  ): void {
    const send = (m: Message): void =>
      this.world.network.send(w.node.address, server, 'packet', encodeMessage(m));
    switch (request.kind) {
      case 'register':
        return send({ t: 'register', callId, workerId: w.workerId, token: w.token });
      case 'heartbeat':
        return send({ t: 'heartbeat', callId, workerId: w.workerId });
      case 'assignments':
        return send({
          t: 'watch',
          callId,
          workerId: w.workerId,
          fromRevision: request.fromRevision,
          snapshot: request.snapshot,
          poll: request.mode === 'poll',
        });
      case 'renew':
        return;
    }
  }

  private answer(w: SimWorker, m: Message): void {
    const driver = w.driver;
    if (driver === undefined || driver.isStopped) return;
    const now = w.node.clock.now();
    if (m.t === 'data') {
      driver.input({
        kind: 'assignments',
        now,
        callId: m.callId,
        ...(m.snapshot === undefined
          ? {}
          : {
              snapshot: {
                revision: m.snapshot.revision,
                assignments: Array.from(
                  { length: m.snapshot.count },
                  () =>
                    ({
                      type: 'set',
                      service: 'x',
                      role: 'r',
                      index: 0,
                      spec: null,
                      generation: 0,
                    }) as never,
                ),
              },
            }),
        batches: m.batches,
        ...(m.afterRevision === undefined ? {} : { afterRevision: m.afterRevision }),
        end: m.end,
      });
      return;
    }
    if (m.t !== 'res') return;
    const state = driver.state;
    if (m.ok) {
      if (state.register?.id === m.callId) {
        w.registered = true;
        driver.input({ kind: 'registered', now, callId: m.callId, renewAtMs: now + 10 ** 9 });
      } else driver.input({ kind: 'heartbeat-ok', now, callId: m.callId, ttlMs: m.ttlMs ?? 0 });
      return;
    }
    const failure: CallFailure =
      m.failure === 'refused'
        ? { kind: 'refused', reason: m.reason ?? '?' }
        : { kind: (m.failure ?? 'unavailable') as 'no-leader' };
    driver.input({ kind: 'failed', now, callId: m.callId, failure });
  }

  /** Every 3-8 s the leader scales one of three services to a new size and spec. */
  private scaleNowAndThen(): void {
    const { world } = this;
    let generation = 0;
    const tick = (): void => {
      const leader = this.store.leader;
      if (leader !== undefined) {
        const service = `svc${world.rng.int(3)}`;
        generation++;
        const replicas = world.rng.int(Math.max(2, Math.floor(this.workers.size / 4)));
        const value = records.service.encode({
          service,
          replicas,
          roles: ['primary', 'replica'],
          spec: { g: generation },
          placement: {},
          generation,
        });
        this.store.propose(
          leader,
          { kind: 'put', request: { key: keys.service(service), value } },
          () => undefined,
        );
      }
      world.clock.at(world.clock.now() + 3_000 + world.rng.int(5_000), tick);
    };
    world.clock.at(12_000, tick);
  }

  crashNode(node: SimNode): void {
    const server = this.servers.get(node.address);
    if (server !== undefined) {
      // Connections die with the process: every stream it served breaks at the worker (a reset).
      for (const sub of server.subscribers()) {
        const w = this.workers.get(sub.worker);
        w?.driver?.input({
          kind: 'failed',
          now: w.node.clock.now(),
          callId: sub.callId,
          failure: { kind: 'unavailable' },
        });
      }
      server.stop();
      this.servers.delete(node.address);
      this.store.up.delete(node.address);
      return;
    }
    const w = this.workers.get(node.address);
    if (w === undefined) return;
    w.driver?.stop();
    w.driver = undefined;
    w.life++;
    for (const s of this.servers.values()) s.dropWorker(node.address);
  }

  restartNode(node: SimNode): void {
    if (this.serverNodes.includes(node)) return this.bootServer(node);
    const w = this.workers.get(node.address);
    if (w !== undefined) this.bootWorker(w);
  }

  startLiveness(): void {
    // Nothing to stop: the scaler keeps running, as a real operator would.
  }

  faultTargets(): FaultTargets {
    return this.store.leader === undefined ? {} : { leader: this.store.leader };
  }

  livenessDeadlineMs(): number {
    return (
      failoverHeartbeatTtlMsFor(this.workers.size, this.config) +
      4 * this.config.heartbeatGraceMs +
      60_000
    );
  }

  private missing(): string | undefined {
    const latest = new Map<string, number>();
    for (const d of this.deliveries)
      if (d.kind === 'batch') latest.set(d.workerId, d.batch.revision);
    for (const w of this.workers.values()) {
      const state = w.driver?.state;
      if (state === undefined) return `worker ${w.workerId.slice(0, 8)} is not running`;
      if (state.phase === 'stopped') continue;
      if (state.phase !== 'registered') return `worker ${w.workerId.slice(0, 8)} is ${state.phase}`;
      for (const s of this.servers.values()) {
        const record = s.workers.get(w.workerId);
        if (record?.status !== 'registered')
          return `worker ${w.workerId.slice(0, 8)} is ${record?.status ?? 'unknown'} at ${s.address}`;
        break;
      }
    }
    return undefined;
  }

  livenessReached(): boolean {
    return this.missing() === undefined;
  }

  describeLivenessFailure(): string {
    return this.missing() ?? 'reached';
  }
}

function scenario(variant: WorkerTierVariant, description: string): Scenario<WorkerTierView> {
  return {
    name: variant === 'default' ? 'worker-tier' : `worker-tier-${variant}`,
    description,
    nodesMin: WORKER_TIER_SERVERS + 1,
    setup: (world: SimWorld) => new WorkerTierRun(world, variant),
  };
}

export const workerTier = scenario(
  'default',
  '3 worker-servers over a modelled Raft store and N-3 workers: liveness, assignments, tokens',
);
export const workerTierFailoverUnsafe = scenario(
  'failover-unsafe',
  'a new leader without the failover TTL: must declare live workers down',
);
export const workerTierDedupUnsafe = scenario(
  'dedup-unsafe',
  'workers resume without dropping repeats: must deliver a revision twice',
);
export const workerTierResumeUnsafe = scenario(
  'resume-unsafe',
  'workers resume from now: must miss assignment revisions',
);
export const workerTierTokensUnsafe = scenario(
  'tokens-unsafe',
  'token uses counted in leader memory: must exceed a token maximum',
);
