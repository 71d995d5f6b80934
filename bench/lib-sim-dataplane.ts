/**
 * Converged simulated clusters for the data-plane benches: N registry cores (the data plane's
 * replication core on the generic ProtocolDriver, its real wire, Ed25519 signatures checked) and
 * N membership cores, each over MemoryTransport on one SimNetwork with LAN timings, started as a
 * cluster that has been running a while, so a bench can time one event's spread through N
 * members without first paying the N² traffic of everyone joining.
 *
 * Registry: every node holds the view (all N members alive, with their keys) and every member's
 * partition at version 1 (signed by its owner; one copy per owner shared by the replicas, which
 * never change a held partition in place, while the owner keeps its own); its queue is empty
 * and its next push-pull falls at a random point of `pushPullIntervalMs`, so the digests agree
 * and nothing is in flight. Membership: one push-pull of every member's signed record merged by
 * each core, queues emptied, push-pulls spread over the scaled period.
 */
import type { Address } from '../src/base/address.js';
import { Rng } from '../src/base/rng.js';
import { ms, type Millis } from '../src/base/time.js';
import { incarnation } from '../src/base/units.js';
import { registryConfig, type RegistryConfig } from '../src/crdt/registry/config.js';
import { signOwn } from '../src/crdt/registry/merge.js';
import { registryProtocol } from '../src/crdt/registry/protocol.js';
import type {
  Partition,
  RegistryTypes,
  RowChange,
  ViewMember,
} from '../src/crdt/registry/types.js';
import { memberCrypto, publicKeyHex, type SigningIdentity } from '../src/identity/member-crypto.js';
import type { NodeId } from '../src/identity/node-id.js';
import type { MemberRecord } from '../src/membership/messages.js';
import { signRecord } from '../src/membership/record.js';
import { pushPullIntervalScaledMs } from '../src/membership/scaling.js';
import type { MembershipEvent, MembershipTypes } from '../src/membership/types.js';
import { registrySecurity } from '../src/node/data-crypto.js';
import { ProtocolDriver } from '../src/node/driver.js';
import { SimClock } from '../src/sim/clock.js';
import { SimNetwork } from '../src/sim/network.js';
import {
  SIM_CLUSTER_ID,
  SIM_WALL_CLOCK_EPOCH_MS,
  simIdentityFrom,
} from '../src/sim/scenarios/sim-node.js';
import { swimConfig } from '../src/sim/scenarios/swim.js';
import { SimStorage } from '../src/sim/storage.js';
import { simAddress } from '../src/sim/trace.js';
import { MemoryTransport } from '../src/transport/memory.js';
import { simMembershipDriver } from './lib-sim-membership.js';

export interface SimRegistryCluster {
  clock: SimClock;
  config: RegistryConfig;
  drivers: ProtocolDriver<RegistryTypes>[];
  ids: NodeId[];
  /** Called with (node index, change) for every row change any node reports. */
  onChange: ((i: number, change: RowChange) => void) | undefined;
}

/** N registry cores, converged (see the module comment). */
export function simRegistryCluster(n: number, seed = 1): SimRegistryCluster {
  const rng = new Rng(seed);
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: rng.fork('network') });
  const config = registryConfig('lan');
  const identities = Array.from({ length: n }, (_, i) =>
    simIdentityFrom(rng.fork(`node/n${i + 1}`).fork('id')),
  );
  const view: ViewMember[] = identities.map((identity, i) => ({
    id: identity.nodeId,
    address: simAddress(`n${i + 1}`),
    state: 'alive',
    publicKey: publicKeyHex(identity),
  }));
  const cluster: SimRegistryCluster = {
    clock,
    config,
    drivers: [],
    ids: identities.map((id) => id.nodeId),
    onChange: undefined,
  };
  const now = ms(0);
  identities.forEach((identity, i) => {
    const member = view[i] as ViewMember;
    const nodeClock = clock.nodeClock(member.address);
    const nodeRng = rng.fork(`node/n${i + 1}`);
    const driver = new ProtocolDriver<RegistryTypes>({
      protocol: registryProtocol(SIM_CLUSTER_ID, config),
      config: {
        config,
        selfId: identity.nodeId,
        wallOffsetMs: SIM_WALL_CLOCK_EPOCH_MS,
        security: registrySecurity(identity, SIM_CLUSTER_ID, true),
      },
      clock: nodeClock,
      storage: new SimStorage({ rng: nodeRng.fork('storage'), clock: nodeClock }),
      rng: nodeRng.fork('registry'),
      transport: new MemoryTransport(network, member.address),
      onOutput: (effect) => {
        if (effect.kind === 'changed') cluster.onChange?.(i, effect);
      },
    });
    driver.start();
    // The view: every member alive. Our first live peer announces our partition as version 1.
    driver.input({ kind: 'view', now, members: view });
    const state = driver.state;
    signOwn(state);
    state.queue.clear();
    state.nextPushPullMs = ms(1 + nodeRng.fork('push-pull-phase').int(config.pushPullIntervalMs));
    cluster.drivers.push(driver);
  });
  // Every replica holds every owner's version 1: one copy per owner in one base shared by the
  // replicas (a replica's later versions go to its own overlay); each owner keeps its own.
  const shared = new Map<NodeId, Partition>();
  for (const d of cluster.drivers) {
    const own = d.state.partitions.get(d.state.selfId) as Partition;
    shared.set(own.owner, { ...own, rows: new Map(own.rows) });
  }
  for (const d of cluster.drivers) {
    const own = d.state.partitions.get(d.state.selfId) as Partition;
    d.state.partitions.reset(shared);
    d.state.partitions.set(own.owner, own);
  }
  return cluster;
}

export interface SimMembershipCluster {
  clock: SimClock;
  network: SimNetwork;
  rng: Rng;
  records: MemberRecord[];
  /** Called with (observer index, event) for every membership event. */
  onEvent: ((i: number, event: MembershipEvent) => void) | undefined;
  /** Starts node `n + k` (a newcomer), joining through node 0 at the clock's now. */
  join(k: number): NodeId;
  drivers: ProtocolDriver<MembershipTypes>[];
}

function signedRecord(identity: SigningIdentity, i: number): MemberRecord {
  const { kind: _kind, ...fields } = signRecord(memberCrypto(identity), SIM_CLUSTER_ID, 'alive', {
    id: identity.nodeId,
    incarnation: incarnation(1),
    name: `n${i + 1}`,
    address: simAddress(`n${i + 1}`),
    labels: {},
    publicKey: publicKeyHex(identity),
    certificate: undefined,
  });
  return { ...fields, state: 'alive', accusation: undefined };
}

/**
 * N membership cores, converged (bench/sim-scale.ts measures them so); `join` adds newcomers.
 * `onEvent` sees every event from the start (the converging push-pull's `joined` ones too).
 */
export function simMembershipCluster(
  n: number,
  seed = 1,
  onEvent?: (i: number, event: MembershipEvent) => void,
): SimMembershipCluster {
  const rng = new Rng(seed);
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: rng.fork('network') });
  const config = swimConfig(n, 'LAN');
  const pushPullPeriodMs = pushPullIntervalScaledMs(config.pushPullIntervalMs, n);
  const identities = Array.from({ length: n }, (_, i) =>
    simIdentityFrom(rng.fork(`node/n${i + 1}`).fork('id')),
  );
  const records = identities.map((identity, i) => signedRecord(identity, i));
  const cluster: SimMembershipCluster = {
    clock,
    network,
    rng,
    records,
    onEvent,
    drivers: [],
    join(k: number): NodeId {
      const i = n + k;
      const identity = simIdentityFrom(rng.fork(`node/n${i + 1}`).fork('id'));
      const name = `n${i + 1}`;
      const address = simAddress(name);
      const driver = simMembershipDriver({
        identity,
        name,
        address,
        clock: clock.nodeClock(address),
        network,
        config,
        rng: rng.fork(`node/${name}`),
        clusterId: SIM_CLUSTER_ID,
        onEvent: (event) => cluster.onEvent?.(i, event),
      });
      driver.input({ kind: 'start', now: clock.now(), seeds: [records[0]?.address as Address] });
      driver.start();
      cluster.drivers.push(driver);
      return identity.nodeId;
    },
  };
  records.forEach((record, i) => {
    const nodeRng = rng.fork(`node/${record.name}`);
    const driver = simMembershipDriver({
      identity: identities[i] as SigningIdentity,
      name: record.name,
      address: record.address,
      clock: clock.nodeClock(record.address),
      network,
      config,
      rng: nodeRng,
      clusterId: SIM_CLUSTER_ID,
      onEvent: (event) => cluster.onEvent?.(i, event),
    });
    // Converged: start alone, merge one push-pull of every record (the core's own join path),
    // its signatures not checked: the bench signed them itself a moment ago, and checking costs
    // ~15 µs a record (10⁸ records at 10,000 members). Checked again for everything after.
    driver.input({ kind: 'start', now: ms(0), seeds: [] });
    const { security } = driver.state;
    driver.state.security = { ...security, verifySignatures: false };
    driver.input({
      kind: 'receive',
      now: ms(0),
      from: 'boot:1' as Address,
      channel: 'stream',
      message: {
        type: 'push-pull',
        from: record.id,
        fromAddress: record.address,
        join: false,
        reply: false,
        configFingerprint: driver.state.fingerprint,
        members: records,
      },
    });
    driver.state.security = security;
    driver.state.queue.byMember.clear();
    driver.state.nextPushPullAtMs = ms(1 + nodeRng.fork('push-pull-phase').int(pushPullPeriodMs));
    driver.start();
    cluster.drivers.push(driver);
  });
  return cluster;
}

/** Runs `clock` until `done()` holds or `limitMs` of virtual time passed; the virtual ms it took. */
export function runUntil(
  clock: SimClock,
  done: () => boolean,
  limitMs: number,
): Millis | undefined {
  const start = clock.now();
  const outcome = clock.runUntil(start + limitMs, {
    eventsMax: Number.MAX_SAFE_INTEGER,
    afterEvent: done,
  });
  return outcome.stop === 'hook' ? ms(clock.now() - start) : undefined;
}
