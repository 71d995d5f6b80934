/**
 * A small deterministic cluster of registry cores for tests: a seeded, lossy, in-memory bus (each
 * message is encoded and decoded, so the codec runs too), views handed to every core as
 * membership would, and the cluster checkers with their mutants. It drives the pure cores alone
 * (unit tests, bench/crdt-registry.ts); the `registry*` scenarios (scenarios/registry.ts) run the
 * data plane as production wires it, beside membership in buildNode.
 */
import type { Address } from '../base/address.js';
import { Rng } from '../base/rng.js';
import { ms, type Millis } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import { registryConfig, type RegistryConfig } from '../crdt/registry/config.js';
import { REGISTRY_CORE, registryWire } from '../crdt/registry/protocol.js';
import { decodeDeltaPayload } from '../crdt/registry/codec.js';
import type {
  LocalOp,
  RegistryEffect,
  RegistryInput,
  RegistryState,
  RowChange,
  ViewMember,
} from '../crdt/registry/types.js';
import { listProcesses, listServices } from '../crdt/registry/queries.js';
import type { CoreInput } from '../base/protocol.js';
import type { Delta, Partition, RegistryTypes } from '../crdt/registry/types.js';
import { deltaOutcome, partitionAfter } from '../crdt/registry/partition.js';
import { rowsDigest, versionBytes, type RegistrySecurity } from '../crdt/registry/signing.js';
import { registrySecurity, sha256 } from '../node/data-crypto.js';
import { identityFromSeed, publicKeyHex, type SigningIdentity } from '../identity/member-crypto.js';
import type { PublicKey, Signature } from '../identity/signed.js';

export const nodeIdOf = (i: number): NodeId =>
  (i.toString(16).padStart(2, '0') + 'ab'.repeat(15)) as NodeId;
export const addressOf = (i: number): Address => `10.0.0.${i}:7946` as Address;
/** The harness's cluster id (signed into every partition version). */
export const CLUSTER_ID = 'test';

const identities = new Map<NodeId, SigningIdentity>();

/**
 * The Ed25519 identity the harness gives owner `id`: a real key from a seed derived from the id
 * (the registry checks rows against the key the view gives; membership binds id and key).
 */
export function identityOf(id: NodeId): SigningIdentity {
  let identity = identities.get(id);
  if (identity === undefined) {
    identity = identityFromSeed(sha256(new TextEncoder().encode(id)));
    identities.set(id, identity);
  }
  return identity;
}

/** Node i's public key (of `nodeIdOf(i)`). */
export const publicKeyOf = (i: number): PublicKey => publicKeyHex(identityOf(nodeIdOf(i)));

export function securityOf(i: number | NodeId, verifySignatures = true): RegistrySecurity {
  const id = typeof i === 'number' ? nodeIdOf(i) : i;
  return registrySecurity(identityOf(id), CLUSTER_ID, verifySignatures);
}

/** The owner's signature of a version of its partition (what the owner's core would make). */
export function signVersion(p: Pick<Partition, 'owner' | 'epoch' | 'seq' | 'rows'>): Signature {
  const security = securityOf(p.owner);
  const digest = rowsDigest(p.rows.values(), registryConfig(), security.crypto.sha256);
  return security.crypto.sign(versionBytes(CLUSTER_ID, p.owner, p.epoch, p.seq, digest));
}

/**
 * `deltas` signed by their owners as a replica holding `state`'s partitions would need them:
 * each delta's signature is of the version the replica holds after applying it (and the ones
 * before it in the list). A delta that would not apply gets the signature of what it carries;
 * one that already carries a signature keeps it (a forgery).
 */
export function signedDeltas(
  state: RegistryState,
  deltas: readonly (Omit<Delta, 'signature'> & { signature?: Signature | undefined })[],
): Delta[] {
  const held = new Map<NodeId, Partition | undefined>();
  return deltas.map((d) => {
    const before = held.has(d.owner) ? held.get(d.owner) : state.partitions.get(d.owner);
    const draft = { ...d, signature: '' as Signature };
    const next = partitionAfter(before, draft);
    if (deltaOutcome(before, draft) === 'apply') held.set(d.owner, next);
    return { ...d, signature: d.signature ?? signVersion(next) };
  });
}

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
  /** Check partition signatures (off: the forgery mutant). @defaultValue true */
  verifySignatures?: boolean;
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
    this.wire = registryWire(CLUSTER_ID, this.config);
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
        security: securityOf(i, this.options.verifySignatures ?? true),
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
      publicKey: publicKeyOf(i),
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
