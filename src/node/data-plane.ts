/**
 * The data plane of a node (docs/design/data-plane.md, "Wiring"): the registry core
 * (crdt/registry) on its own ProtocolDriver, sharing the node's cluster port with membership
 * (port-split.ts), its view fed from membership, the placement table over the same live set,
 * and the watchers. `swim` mode wires it over membership; `single` runs it alone (this node's
 * rows only, no transport). Other modes have no data plane (node.ts refuses the API there).
 *
 * The view: the whole of membership's table at start, then, on the next clock turn after any
 * member event, the members that changed (a coalesced `members` input: O(changes), not O(N),
 * per turn) with the keys their signed records carry, so partitions verify against them. A
 * member membership no longer holds (reaped) is sent as removed. The placement table follows
 * the live set (self, alive, suspect) whenever it changes.
 *
 * Chains (data-chain.ts) ride the same port (type 45, their own view) and the same view of
 * membership: `node.chain`. So do shared Merkle trees (data-tree.ts, type 46): `node.trees`.
 *
 * With `gossipCarrier: 'piggyback'` the core's gossip rounds ride in membership's packets
 * (data-plane-carrier.ts); every node unwraps carried frames whatever its own carrier.
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { ms, type TimerHandle } from '../base/time.js';
import { ProcessesApi, ServicesApi, type RegistryPort } from '../crdt/registry/api.js';
import { registryConfig, type REGISTRY_PROFILES } from '../crdt/registry/config.js';
import { REGISTRY_CORE, registryProtocol } from '../crdt/registry/protocol.js';
import { decodeDeltaPayload } from '../crdt/registry/codec.js';
import { listServices } from '../crdt/registry/queries.js';
import type { RegistryTypes, ViewMember } from '../crdt/registry/types.js';
import type { NodeId } from '../identity/node-id.js';
import type { Member, MemberTable } from '../membership/member-table.js';
import { placementConfig } from '../placement/config.js';
import { PlacementTable } from '../placement/table.js';
import { LIMITS } from '../base/limits.js';
import type { Transport, TransportStats } from '../transport/types.js';
import { decodeCarried, DeltaCarrier, type CarrierStats } from './data-plane-carrier.js';
import { CHAIN_CRYPTO, registrySecurity } from './data-crypto.js';
import {
  chainSettings,
  ChainService,
  NodeChain,
  type ChainFork,
  type ChainSettings,
  type ChainStats,
} from './data-chain.js';
import { CHAIN_DEFAULTS } from '../chain/chain.js';
import type { ResolvedNodeOptions } from './options.js';
import { NodeTrees, TreeService, treeSettings, type TreeStats } from './data-tree.js';
import { NodePlacement, NodeProcesses, NodeServices } from './data-plane-api.js';
import { Watchers } from './data-plane-watch.js';
import { ProtocolDriver, type DriverStats } from './driver.js';
import type { PortCarrier } from './port-split.js';
import { driverHooks, type WiringContext } from './runtime.js';

/** Membership as the data plane reads it. */
export interface MembershipView {
  /** Every member membership holds, self excluded. */
  all(): ViewMember[];
  /** Member `id` as membership holds it now; undefined once it no longer holds it. */
  get(id: NodeId): ViewMember | undefined;
  /** How many members membership holds, self excluded. */
  count(): number;
}

export interface DataPlaneStats {
  /** The registry core's counters, and gauges of what it holds. */
  counters: Record<string, number>;
  decodeErrors: Record<string, number>;
  driver: DriverStats;
  /** The data plane's own traffic on the shared port (absent without a transport). */
  transport: TransportStats | undefined;
  /** The piggyback carrier's counts (absent without a transport). */
  carrier: CarrierStats | undefined;
  /** Chain replication's counts (data-chain.ts). */
  chain: ChainStats;
  /** Tree sync's counts (data-tree.ts). */
  tree: TreeStats;
}

/**
 * The chain settings of `NodeOptions.chain` (validated there), then the tests' and simulator's
 * `internals.chain`; a larger `entriesKeptMax` raises `hashesKeptMax` (which must cover it) too.
 */
function chainOptions(
  user: ResolvedNodeOptions['chain'],
  internal: Partial<ChainSettings> | undefined,
): Partial<ChainSettings> {
  const out: Partial<ChainSettings> = {};
  if (user?.pullIntervalMs !== undefined) out.pullIntervalMs = user.pullIntervalMs;
  if (user?.payloadBytesMax !== undefined) out.payloadBytesMax = user.payloadBytesMax;
  if (user?.entriesKeptMax !== undefined) {
    out.entriesKeptMax = user.entriesKeptMax;
    out.hashesKeptMax = Math.max(CHAIN_DEFAULTS.hashesKeptMax, user.entriesKeptMax);
  }
  return { ...out, ...internal };
}

export interface DataPlane {
  readonly services: NodeServices;
  readonly processes: NodeProcesses;
  readonly placement: NodePlacement;
  readonly chain: NodeChain;
  readonly chainService: ChainService;
  readonly trees: NodeTrees;
  readonly treeService: TreeService;
  readonly driver: ProtocolDriver<RegistryTypes>;
  /** Where forks found by chain replication are reported (the node's `chain-fork` event). */
  onChainFork(listener: (fork: ChainFork) => void): void;
  /** Membership reported an event about `id`: its entry is sent to the core on the next turn. */
  memberChanged(id: NodeId): void;
  /** Stops the driver, ends every watcher; idempotent. */
  halt(): void;
  stats(): DataPlaneStats;
}

/** The registry profile of a node: the user's, or the simulator's (`internals.registryProfile`). */
function profileOf(ctx: WiringContext): keyof typeof REGISTRY_PROFILES {
  return ctx.internals.registryProfile ?? ctx.options.profile;
}

/** Rows, partitions, tombstones and queued deltas the replica holds now. */
function gauges(driver: ProtocolDriver<RegistryTypes>): Record<string, number> {
  const s = driver.state;
  let rows = 0;
  for (const p of s.partitions.values()) rows += p.rows.size;
  const own = s.partitions.get(s.selfId);
  return {
    partitions: s.partitions.size,
    rows,
    ownRows: own?.rows.size ?? 0,
    tombstones: s.tombstones.size,
    queuedDeltas: s.queue.size,
  };
}

export function wireDataPlane(
  ctx: WiringContext,
  transport: Transport | undefined,
  membership: MembershipView | undefined,
  port?: {
    setCarrier(carrier: PortCarrier): void;
    /** Membership's packet budget (its `packetBytesMax`); the carrier stays within it. */
    packetBytesMax?: number;
    /** Chain replication's view of the port (type 45). */
    chain?: Transport;
    /** Tree sync's view of the port (type 46). */
    tree?: Transport;
  },
): DataPlane {
  const { io, options, internals } = ctx;
  // The user's carrier (NodeOptions.gossipCarrier), unless a test or the simulator sets one.
  const config = registryConfig(profileOf(ctx), {
    ...(options.gossipCarrier === undefined ? {} : { gossipCarrier: options.gossipCarrier }),
    ...(options.eagerPushesMax === undefined ? {} : { eagerPushesMax: options.eagerPushesMax }),
    ...internals.registry,
  });
  const wallClockMs = internals.wallClockMs ?? Date.now;
  const security = registrySecurity(
    ctx.identity,
    options.clusterId,
    internals.unsafeSkipVerification !== true,
  );
  const dirty = new Set<string>();
  const pending = new Set<NodeId>();
  let viewMoved = false;
  let timer: TimerHandle | undefined;
  let halted = false;
  const carrierErrors: Record<string, number> = {};
  const carrier =
    transport === undefined
      ? undefined
      : new DeltaCarrier({
          clusterId: options.clusterId,
          packetBytesMax:
            Math.min(port?.packetBytesMax ?? LIMITS.packetBytesMax, LIMITS.packetBytesMax) -
            (transport.packetOverheadBytes ?? 0),
          waitMs: ms(config.gossipIntervalMs),
          clock: io.clock,
          rng: io.rng.fork('registry-carrier'),
          live: () => driver.state.live.values(),
          sendAlone: (to, frame) => transport.sendPacket(to, frame),
        });

  const driver = new ProtocolDriver<RegistryTypes>({
    protocol:
      transport === undefined
        ? { core: REGISTRY_CORE }
        : registryProtocol(options.clusterId, config),
    config: { config, selfId: ctx.id, wallOffsetMs: wallClockMs() - io.clock.now(), security },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('registry'),
    ...(transport === undefined ? {} : { transport }),
    checkInvariants: internals.checkInvariants ?? false,
    onOutput: (effect) => {
      if (effect.kind === 'piggyback') {
        carrier?.offer(effect.payload, config.gossipFanout);
        return;
      }
      if (effect.kind !== 'changed' || effect.table !== 'service') return;
      dirty.add(effect.key);
      schedule();
    },
    onFatal: (error) => ctx.fail(error),
    ...driverHooks<RegistryTypes>(internals, 'registry'),
  });
  const table = new PlacementTable(placementConfig());
  const placeOverLive = (): void => {
    watchers.ownersChanged(table.setMembers([ctx.id, ...driver.state.live.keys()]));
  };
  const watchers = new Watchers((name) => listServices(driver.state, name), table);
  const checkOpen = (): void => {
    if (halted)
      throw new ShoalError(
        'ERR_TRANSPORT_CLOSED',
        'the node is closed: it advertises nothing more',
      );
  };
  const registryPort: RegistryPort = {
    get state() {
      return driver.state;
    },
    write: (write) => void driver.input({ kind: 'local', now: io.clock.now(), write }),
  };

  /** One flush per clock turn: membership and the core's own changes arrive mid-step. */
  function schedule(): void {
    if (timer !== undefined || halted) return;
    timer = io.clock.setTimer(ms(0), flush);
  }

  function flush(): void {
    timer = undefined;
    if (halted) return;
    if (pending.size > 0 && membership !== undefined) sendChanges(membership);
    if (viewMoved) {
      viewMoved = false;
      placeOverLive();
      watchers.refresh([...watchers.watchedNames()]);
    } else watchers.refresh(dirty);
    dirty.clear();
  }

  function sendChanges(view: MembershipView): void {
    const state = driver.state;
    const members: ViewMember[] = [];
    const removed: NodeId[] = [];
    const before = new Map([...pending].map((id) => [id, state.live.has(id)]));
    for (const id of pending) {
      const member = view.get(id);
      if (member === undefined) removed.push(id);
      else members.push(member);
    }
    pending.clear();
    // Reaped members produce no event: a replica holding more members than membership does
    // learns which ones went by comparing (cheap to detect, O(N) only when it happens).
    if (state.members.size - removed.length > view.count())
      for (const id of state.members.keys()) if (view.get(id) === undefined) removed.push(id);
    driver.input({ kind: 'members', now: io.clock.now(), members, removed: [...new Set(removed)] });
    for (const [id, wasLive] of before) if (driver.state.live.has(id) !== wasLive) viewMoved = true;
    for (const id of removed) if (!before.has(id)) viewMoved = true;
  }

  /** A carried frame: its deltas to the core (bad bytes counted, dropped), its packet back. */
  function unwrap(from: Address, frame: Uint8Array): Uint8Array {
    const carried = decodeCarried(frame, options.clusterId);
    const fail = (code: string): Uint8Array => {
      carrierErrors[code] = (carrierErrors[code] ?? 0) + 1;
      return new Uint8Array(0);
    };
    if (!carried.ok) return fail(carried.code);
    const decoded = decodeDeltaPayload(carried.payload, config);
    if (!decoded.ok) {
      fail(decoded.code);
      return carried.packet; // membership's part is membership's to judge
    }
    if (carrier !== undefined) {
      carrier.counts.received++;
      carrier.counts.receivedBytes += carried.payload.length;
    }
    if (!halted)
      driver.input({ kind: 'deltas', now: io.clock.now(), from, deltas: decoded.deltas });
    return carried.packet;
  }

  if (carrier !== undefined && port !== undefined)
    port.setCarrier({
      wrap: (to, packet) =>
        config.gossipCarrier === 'piggyback' && !halted ? carrier.wrap(to, packet) : packet,
      unwrap,
    });
  let forkListener: ((fork: ChainFork) => void) | undefined;
  const chains = new ChainService({
    id: ctx.id,
    publicKey: ctx.identity.publicKey,
    sign: (data) => ctx.identity.sign(data),
    clusterId: options.clusterId,
    crypto:
      internals.unsafeSkipVerification === true
        ? { sha256: CHAIN_CRYPTO.sha256, verify: () => true }
        : CHAIN_CRYPTO,
    clock: io.clock,
    rng: io.rng.fork('chain'),
    storage: io.storage,
    transport: port?.chain,
    membership,
    settings: chainSettings(chainOptions(options.chain, internals.chain)),
    onFork: (fork) => forkListener?.(fork),
  });
  const trees = new TreeService({
    id: ctx.id,
    publicKey: ctx.identity.publicKey,
    sign: (data) => ctx.identity.sign(data),
    verify: internals.unsafeSkipVerification === true ? () => true : CHAIN_CRYPTO.verify,
    sha256: CHAIN_CRYPTO.sha256,
    clusterId: options.clusterId,
    clock: io.clock,
    rng: io.rng.fork('trees'),
    wallOffsetMs: wallClockMs() - io.clock.now(),
    transport: port?.tree,
    membership,
    settings: treeSettings(internals.trees),
  });
  driver.start();
  driver.input({ kind: 'view', now: io.clock.now(), members: membership?.all() ?? [] });
  placeOverLive();
  return {
    services: new NodeServices(new ServicesApi(registryPort), watchers, checkOpen),
    processes: new NodeProcesses(new ProcessesApi(registryPort), checkOpen),
    placement: new NodePlacement(table, watchers),
    chain: new NodeChain(chains, ctx.id),
    chainService: chains,
    trees: new NodeTrees(trees),
    treeService: trees,
    driver,
    onChainFork(listener) {
      forkListener = listener;
    },
    memberChanged(id) {
      if (halted || id === ctx.id) return;
      pending.add(id);
      schedule();
    },
    halt() {
      if (halted) return;
      halted = true;
      timer?.cancel();
      timer = undefined;
      carrier?.clear();
      chains.halt();
      trees.halt();
      driver.stop();
      watchers.end();
    },
    stats: () => ({
      counters: { ...driver.state.counters, ...gauges(driver) },
      decodeErrors: mergeCounts(driver.decodeErrors, carrierErrors),
      driver: driver.stats(),
      transport: transport?.stats(),
      carrier: carrier === undefined ? undefined : { ...carrier.counts },
      chain: chains.stats(),
      tree: trees.stats(),
    }),
  };
}

/** Sums two count records key by key. */
function mergeCounts(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Membership's table as the data plane reads it (swim mode): states, addresses and keys. */
export function membershipViewOf(table: () => MemberTable): MembershipView {
  const entry = (m: Member): ViewMember => ({
    id: m.id,
    address: m.address,
    state: m.state,
    publicKey: m.publicKey,
  });
  return {
    all: () => {
      const t = table();
      const out: ViewMember[] = [];
      for (let slot = 1; slot < t.size; slot++) out.push(entry(t.at(slot)));
      return out;
    },
    get: (id) => {
      const m = table().get(id);
      return m === undefined || m.slot === 0 ? undefined : entry(m);
    },
    count: () => table().size - 1,
  };
}
