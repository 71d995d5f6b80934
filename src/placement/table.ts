/**
 * The placement table: the owners of a key over the live members, by ring, rendezvous or jump,
 * and the owner changes of watched keys when the view changes. Pure and synchronous: membership's
 * live set arrives through `setMembers` (the lead wires it to `node.placement` and to its events),
 * so every member that shares a view computes the same owners, in the simulator as in production.
 *
 * Which members count: the caller passes the live set (alive and suspect, as membership's view
 * digest counts them). A suspected member keeps its keys until it is declared dead: moving keys
 * on every suspicion would churn them on every lost packet.
 */
import { ShoalError } from '../base/errors.js';
import { utf8Bytes } from '../base/utf8.js';
import { compareNodeId, isNodeId, type NodeId } from '../identity/node-id.js';
import type { PlacementConfig, PlacementStrategy } from './config.js';
import { PLACEMENT_STRATEGIES } from './config.js';
import { jumpOwners } from './jump.js';
import { hashMember, rendezvousOwners, type HashedMember } from './rendezvous.js';
import { buildRing, memberPoints, ringOwners, type Ring } from './ring.js';

export interface OwnersOptions {
  /** How many distinct owners, primary first. @defaultValue 1 */
  replicas?: number;
  /** @defaultValue 'ring' */
  strategy?: PlacementStrategy;
}

/** A watched key whose owners changed with the view (`before` and `after`, primary first). */
export interface OwnersChanged {
  key: string;
  replicas: number;
  strategy: PlacementStrategy;
  before: NodeId[];
  after: NodeId[];
}

interface Watch {
  key: string;
  replicas: number;
  strategy: PlacementStrategy;
  owners: NodeId[];
}

const watchId = (key: string, replicas: number, strategy: PlacementStrategy): string =>
  `${strategy}/${replicas}/${key}`;

function sameOwners(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

export class PlacementTable {
  private members: NodeId[] = [];
  private hashed: HashedMember[] = [];
  private ring: Ring | undefined;
  /** Each member's ring points, kept across views so a change computes only the newcomers'. */
  private readonly pointsCache = new Map<NodeId, Float64Array>();
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly config: PlacementConfig) {}

  /** The members placed over, sorted by id. */
  view(): readonly NodeId[] {
    return this.members;
  }

  /**
   * Replaces the live set; returns the owner changes of every watched key. Refuses (ERR_INVALID_ARGUMENT)
   * a set larger than `membersMax` or an id that is not a NodeId, and then changes nothing.
   */
  setMembers(ids: Iterable<NodeId>): OwnersChanged[] {
    const sorted = [...new Set(ids)].sort(compareNodeId);
    if (sorted.length > this.config.membersMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `placement view of ${sorted.length} members exceeds membersMax (${this.config.membersMax})`,
      );
    const bad = sorted.find((id) => !isNodeId(id));
    if (bad !== undefined)
      throw new ShoalError('ERR_INVALID_ARGUMENT', `${JSON.stringify(bad)} is not a NodeId`);
    if (sameOwners(sorted, this.members)) return [];
    this.members = sorted;
    this.hashed = sorted.map(hashMember);
    this.ring = undefined;
    const live = new Set(sorted);
    for (const id of [...this.pointsCache.keys()]) if (!live.has(id)) this.pointsCache.delete(id);
    const changes: OwnersChanged[] = [];
    for (const watch of this.watches.values()) {
      const after = this.compute(watch.key, watch.replicas, watch.strategy);
      if (sameOwners(after, watch.owners)) continue;
      changes.push({ ...watch, before: watch.owners, after });
      watch.owners = after;
    }
    return changes;
  }

  /** The owners of `key`, primary first; fewer than `replicas` when the view is smaller. */
  owners(key: string, options: OwnersOptions = {}): NodeId[] {
    const { replicas, strategy } = this.checkArgs(key, options);
    return this.compute(key, replicas, strategy);
  }

  /** Starts reporting `key`'s owner changes from `setMembers`; returns its current owners. */
  watch(key: string, options: OwnersOptions = {}): NodeId[] {
    const { replicas, strategy } = this.checkArgs(key, options);
    const id = watchId(key, replicas, strategy);
    const existing = this.watches.get(id);
    if (existing !== undefined) return existing.owners;
    if (this.watches.size >= this.config.watchedKeysMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `cannot watch more than watchedKeysMax (${this.config.watchedKeysMax}) keys`,
      );
    const owners = this.compute(key, replicas, strategy);
    this.watches.set(id, { key, replicas, strategy, owners });
    return owners;
  }

  unwatch(key: string, options: OwnersOptions = {}): boolean {
    const { replicas, strategy } = this.checkArgs(key, options);
    return this.watches.delete(watchId(key, replicas, strategy));
  }

  watchedCount(): number {
    return this.watches.size;
  }

  private compute(key: string, replicas: number, strategy: PlacementStrategy): NodeId[] {
    switch (strategy) {
      case 'ring':
        this.ring ??= buildRing(this.members, (id) => this.pointsOf(id));
        return ringOwners(this.ring, key, replicas);
      case 'rendezvous':
        return rendezvousOwners(this.hashed, key, replicas);
      case 'jump':
        return jumpOwners(this.members, key, replicas);
    }
  }

  private pointsOf(id: NodeId): Float64Array {
    let points = this.pointsCache.get(id);
    if (points === undefined) {
      points = memberPoints(id, this.config.vnodesPerMember);
      this.pointsCache.set(id, points);
    }
    return points;
  }

  private checkArgs(
    key: string,
    options: OwnersOptions,
  ): { replicas: number; strategy: PlacementStrategy } {
    const replicas = options.replicas ?? 1;
    const strategy = options.strategy ?? 'ring';
    if (typeof key !== 'string' || utf8Bytes(key) > this.config.keyBytesMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `placement key must be a string of at most keyBytesMax (${this.config.keyBytesMax}) bytes`,
      );
    if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > this.config.replicasMax)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `replicas (${replicas}) must be an integer in [1, replicasMax (${this.config.replicasMax})]`,
      );
    if (!PLACEMENT_STRATEGIES.includes(strategy))
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `strategy ${JSON.stringify(strategy)} must be one of ${PLACEMENT_STRATEGIES.join(', ')}`,
      );
    return { replicas, strategy };
  }
}
