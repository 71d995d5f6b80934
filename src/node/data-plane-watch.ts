/**
 * The watchers of the data plane: `node.services.watch(name)` and `node.placement.watch(key)`,
 * each a bounded async iterator (feed.ts). A service watcher reports what `list(name)` would
 * show, as changes: an instance appears (`added`), changes address, tags or weight (`updated`),
 * or goes (`removed`: withdrawn, or its node is no longer live, dead or left, even before the
 * withdrawal delay). It starts with the current instances as `added`, so a reader builds its
 * state from the stream alone. A placement watcher reports each change of a key's owners, and
 * starts with the current owners (`before: []`).
 *
 * Changes are computed on the next clock turn after the registry or the view moved (one diff
 * per watched name per turn, not per row), from the state every query reads.
 */
import { ShoalError } from '../base/errors.js';
import type { NodeId } from '../identity/node-id.js';
import type { ServiceInstance } from '../crdt/registry/queries.js';
import type { OwnersChanged, OwnersOptions, PlacementTable } from '../placement/table.js';
import { EVENT_BUFFER_MAX } from './events.js';
import { Feed } from './feed.js';

/** Most watchers (services and placement together) one node serves at once. @defaultValue 10,000 */
export const WATCHERS_MAX = 10_000;

export interface ServiceEvent {
  type: 'added' | 'updated' | 'removed';
  instance: ServiceInstance;
}

interface ServiceWatcher {
  feed: Feed<ServiceEvent>;
  shown: Map<NodeId, ServiceInstance>;
}

const sameInstance = (a: ServiceInstance, b: ServiceInstance): boolean =>
  a.address === b.address &&
  a.weight === b.weight &&
  a.tags.join('\u0000') === b.tags.join('\u0000');

export class Watchers {
  private readonly services = new Map<string, Set<ServiceWatcher>>();
  /** Each placement feed and the watch id (`strategy/replicas/key`) it follows. */
  private readonly placement = new Map<Feed<OwnersChanged>, string>();
  private readonly watchedKeys = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly list: (name: string) => ServiceInstance[],
    private readonly table: PlacementTable,
  ) {}

  private reserve(): void {
    if (this.count >= WATCHERS_MAX)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `this node already serves WATCHERS_MAX (${WATCHERS_MAX}) watchers; end some (their signal, or return())`,
      );
    this.count++;
  }

  /** Names with at least one watcher (a view change re-diffs all of them). */
  watchedNames(): Iterable<string> {
    return this.services.keys();
  }

  watchService(name: string, signal: AbortSignal | undefined): AsyncIterableIterator<ServiceEvent> {
    if (signal?.aborted === true) return new Feed<ServiceEvent>(0, signal, () => undefined);
    this.reserve();
    const feed = new Feed<ServiceEvent>(EVENT_BUFFER_MAX, signal, () => {
      this.count--;
      const set = this.services.get(name);
      set?.delete(watcher);
      if (set?.size === 0) this.services.delete(name);
    });
    const watcher: ServiceWatcher = { feed, shown: new Map() };
    let set = this.services.get(name);
    if (set === undefined) this.services.set(name, (set = new Set()));
    set.add(watcher);
    this.diff(watcher, this.list(name));
    return feed;
  }

  /** Re-diffs the watchers of `names` against what `list` shows now. */
  refresh(names: Iterable<string>): void {
    for (const name of names) {
      const set = this.services.get(name);
      if (set === undefined) continue;
      const now = this.list(name);
      for (const watcher of set) this.diff(watcher, now);
    }
  }

  private diff(watcher: ServiceWatcher, now: readonly ServiceInstance[]): void {
    const seen = new Set<NodeId>();
    for (const instance of now) {
      seen.add(instance.node);
      const before = watcher.shown.get(instance.node);
      if (before !== undefined && sameInstance(before, instance)) continue;
      watcher.shown.set(instance.node, instance);
      watcher.feed.push({ type: before === undefined ? 'added' : 'updated', instance });
    }
    for (const [node, instance] of watcher.shown) {
      if (seen.has(node)) continue;
      watcher.shown.delete(node);
      watcher.feed.push({ type: 'removed', instance });
    }
  }

  watchPlacement(
    key: string,
    options: OwnersOptions,
    signal: AbortSignal | undefined,
  ): AsyncIterableIterator<OwnersChanged> {
    const owners = this.table.owners(key, options); // checks the arguments first
    if (signal?.aborted === true) return new Feed<OwnersChanged>(0, signal, () => undefined);
    const replicas = options.replicas ?? 1;
    const strategy = options.strategy ?? 'ring';
    const id = `${strategy}/${replicas}/${key}`;
    this.reserve();
    try {
      if ((this.watchedKeys.get(id) ?? 0) === 0) this.table.watch(key, options);
    } catch (err) {
      this.count--;
      throw err;
    }
    this.watchedKeys.set(id, (this.watchedKeys.get(id) ?? 0) + 1);
    const feed: Feed<OwnersChanged> = new Feed<OwnersChanged>(EVENT_BUFFER_MAX, signal, () => {
      this.count--;
      this.placement.delete(feed);
      const left = (this.watchedKeys.get(id) ?? 1) - 1;
      if (left > 0) this.watchedKeys.set(id, left);
      else {
        this.watchedKeys.delete(id);
        this.table.unwatch(key, options);
      }
    });
    this.placement.set(feed, id);
    feed.push({ key, replicas, strategy, before: [], after: owners });
    return feed;
  }

  /** The owner changes `PlacementTable.setMembers` reported, to the watchers of each key. */
  ownersChanged(changes: readonly OwnersChanged[]): void {
    if (changes.length === 0) return;
    const byId = new Map(changes.map((c) => [`${c.strategy}/${c.replicas}/${c.key}`, c]));
    for (const [feed, id] of this.placement) {
      const change = byId.get(id);
      if (change !== undefined) feed.push(change);
    }
  }

  /** The node closed: every iterator ends. */
  end(): void {
    for (const set of [...this.services.values()])
      for (const watcher of [...set]) watcher.feed.end();
    for (const feed of [...this.placement.keys()]) feed.end();
  }
}
