/**
 * Watchers (etcd's mvcc/watchable_store.go, watcher_group.go): a node-local registry of watches
 * on a key, a prefix or a range, each from a revision, fed by the events every apply returns.
 *
 * A watcher is synced (live events are appended to its queue as they are applied) or unsynced
 * (it replays history from the store's revision log, from a position (revision, sub-revision)).
 * - `fromRevision` 0 or above the current revision: synced, reporting changes from then on.
 * - `fromRevision` at or below the current revision: unsynced, replaying from there; below the
 *   compacted revision the watch is refused with ERR_COMPACTED and the compacted revision.
 * - A slow consumer never blocks apply: when the events of one revision would overflow its queue
 *   (watcherQueueEventsMax), the watcher turns unsynced at that revision and later catches up
 *   from history, as etcd's unsynced watchers do, so no event is lost and none is repeated. It is
 *   cancelled (with the compacted revision) only if compaction overtakes its position, which is
 *   etcd's behaviour too; the consumer then re-reads and watches again.
 * - One catch-up call scans at most watchCatchUpScanMax history entries, so its time is bounded.
 * - prevKv is looked up at delivery (the key at revision - 1), as etcd's watch server does: absent
 *   for a creation, and when compaction already dropped it.
 *
 * Contract: call `onApplied` with every apply's events right after the apply, and
 * `onStoreReplaced` after restoring a snapshot; a woken watcher's events are read with
 * `takeEvents`. Watch ids are local to the node.
 */
import type { WatchConfig } from './config.js';
import { keySpan, keyText, spanHas, type KeySpan } from './keys.js';
import { getAt, type KvRecord } from './mvcc.js';
import type { KvState } from './state.js';
import { kvError, type KvError, type KvEvent, type Revision } from './types.js';

export interface WatchRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** First revision to report; 0 or absent: changes after the current revision. */
  readonly fromRevision?: number;
  /** Drop put events (etcd's NOPUT filter). */
  readonly noPut?: boolean;
  /** Drop delete events (etcd's NODELETE filter). */
  readonly noDelete?: boolean;
  /** Attach each event's previous value. */
  readonly prevKv?: boolean;
}

interface Watcher {
  readonly id: number;
  readonly span: KeySpan;
  readonly request: WatchRequest;
  /** Events ready to hand out, in order. */
  readonly queue: KvEvent[];
  synced: boolean;
  /** Synced: events below this revision are not reported (a watch from a future revision). */
  startRevision: number;
  /** Unsynced: the history position (main, sub) to replay from. */
  nextMain: number;
  nextSub: number;
}

export interface WatchStats {
  /** Watchers that turned unsynced because their queue was full. */
  fellBehind: number;
  /** Watchers cancelled because compaction overtook them. */
  compacted: number;
}

export interface WatchRegistry {
  readonly config: WatchConfig;
  readonly watchers: Map<number, Watcher>;
  /** Single-key watchers by binary-string key. */
  readonly byKey: Map<string, Set<Watcher>>;
  /** Watchers of a range or prefix. */
  readonly ranges: Set<Watcher>;
  nextId: number;
  readonly stats: WatchStats;
}

export function createWatchRegistry(config: WatchConfig): WatchRegistry {
  return {
    config,
    watchers: new Map(),
    byKey: new Map(),
    ranges: new Set(),
    nextId: 1,
    stats: { fellBehind: 0, compacted: 0 },
  };
}

/** Registers a watch; refused with ERR_TOO_MANY_WATCHERS, ERR_INVALID_ARGUMENT or ERR_COMPACTED. */
export function addWatcher(
  registry: WatchRegistry,
  state: KvState,
  request: WatchRequest,
): { readonly id: number } | KvError {
  const { watchersMax } = registry.config;
  if (registry.watchers.size >= watchersMax)
    return kvError('ERR_TOO_MANY_WATCHERS', `${watchersMax} watchers exist (watchersMax)`);
  if (request.key.length === 0) return kvError('ERR_INVALID_ARGUMENT', 'watch key is empty');
  const from = request.fromRevision ?? 0;
  if (!Number.isSafeInteger(from) || from < 0)
    return kvError('ERR_INVALID_ARGUMENT', `fromRevision (${from}) must be >= 0`);
  const { revision: current, compactRevision } = state.mvcc;
  if (from !== 0 && from < compactRevision)
    return kvError(
      'ERR_COMPACTED',
      `watch from revision ${from}, below the compacted revision ${compactRevision}`,
      compactRevision,
    );
  const synced = from === 0 || from > current;
  const watcher: Watcher = {
    id: registry.nextId++,
    span: keySpan(request.key, request.rangeEnd),
    request,
    queue: [],
    synced,
    startRevision: Math.max(current + 1, from),
    nextMain: from,
    nextSub: 0,
  };
  registry.watchers.set(watcher.id, watcher);
  if (watcher.span.end === undefined) {
    const set = registry.byKey.get(watcher.span.start) ?? new Set();
    set.add(watcher);
    registry.byKey.set(watcher.span.start, set);
  } else registry.ranges.add(watcher);
  return { id: watcher.id };
}

export function cancelWatcher(registry: WatchRegistry, id: number): boolean {
  const watcher = registry.watchers.get(id);
  if (watcher === undefined) return false;
  registry.watchers.delete(id);
  registry.ranges.delete(watcher);
  const set = registry.byKey.get(watcher.span.start);
  if (set !== undefined) {
    set.delete(watcher);
    if (set.size === 0) registry.byKey.delete(watcher.span.start);
  }
  return true;
}

function wanted(watcher: Watcher, type: KvEvent['type']): boolean {
  return type === 'put' ? watcher.request.noPut !== true : watcher.request.noDelete !== true;
}

/** Feeds one apply's events (one revision) to the synced watchers; returns the ids with news. */
export function onApplied(registry: WatchRegistry, events: readonly KvEvent[]): Set<number> {
  const woken = new Set<number>();
  if (events.length === 0 || registry.watchers.size === 0) return woken;
  const matched = new Map<Watcher, KvEvent[]>();
  const add = (watcher: Watcher, event: KvEvent): void => {
    if (!watcher.synced || event.revision < watcher.startRevision) return;
    if (!wanted(watcher, event.type)) return;
    const list = matched.get(watcher);
    if (list === undefined) matched.set(watcher, [event]);
    else list.push(event);
  };
  for (const event of events) {
    const text = keyText(event.kv.key);
    for (const watcher of registry.byKey.get(text) ?? []) add(watcher, event);
    for (const watcher of registry.ranges) if (spanHas(watcher.span, text)) add(watcher, event);
  }
  const queueMax = registry.config.watcherQueueEventsMax;
  for (const [watcher, list] of matched) {
    woken.add(watcher.id);
    if (watcher.queue.length + list.length > queueMax) {
      // Never split a revision: replay all of it, and what follows, from history.
      watcher.synced = false;
      watcher.nextMain = (list[0] as KvEvent).revision;
      watcher.nextSub = 0;
      registry.stats.fellBehind++;
    } else watcher.queue.push(...list);
  }
  return woken;
}

/** After the store was replaced (snapshot restore): every watcher replays from where it was. */
export function onStoreReplaced(registry: WatchRegistry, previousRevision: Revision): void {
  for (const watcher of registry.watchers.values()) {
    if (!watcher.synced) continue;
    watcher.synced = false;
    watcher.nextMain = Math.max(watcher.startRevision, previousRevision + 1);
    watcher.nextSub = 0;
  }
}

export interface TakenEvents {
  readonly events: readonly KvEvent[];
  /** Set when the watcher was cancelled because compaction overtook it: the compacted revision. */
  readonly compactRevision?: Revision;
  /** True when calling again at once may give more (queued events, or history left to replay). */
  readonly pending: boolean;
}

/** Up to `eventsMax` events of watcher `id` (undefined for an unknown id). */
export function takeEvents(
  registry: WatchRegistry,
  state: KvState,
  id: number,
  eventsMax: number,
): TakenEvents | undefined {
  const watcher = registry.watchers.get(id);
  if (watcher === undefined) return undefined;
  const events = watcher.queue.splice(0, eventsMax);
  if (events.length < eventsMax && !watcher.synced) {
    const { compactRevision } = state.mvcc;
    if (watcher.nextMain < compactRevision) {
      cancelWatcher(registry, id);
      registry.stats.compacted++;
      return { events: withPrevKv(watcher, state, events), compactRevision, pending: false };
    }
    catchUp(registry, watcher, state, events, eventsMax);
  }
  const pending = watcher.queue.length > 0 || !watcher.synced;
  return { events: withPrevKv(watcher, state, events), pending };
}

/** Index of the first log record at or after (main, sub). */
function logPosition(log: readonly KvRecord[], main: number, sub: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = log[mid] as KvRecord;
    if (r.main < main || (r.main === main && r.sub < sub)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function catchUp(
  registry: WatchRegistry,
  watcher: Watcher,
  state: KvState,
  events: KvEvent[],
  eventsMax: number,
): void {
  const log = state.mvcc.log;
  let i = logPosition(log, watcher.nextMain, watcher.nextSub);
  const scanEnd = Math.min(log.length, i + registry.config.watchCatchUpScanMax);
  for (; i < scanEnd && events.length < eventsMax; i++) {
    const r = log[i] as KvRecord;
    const type = r.deleted ? 'delete' : 'put';
    if (spanHas(watcher.span, r.text) && wanted(watcher, type))
      events.push({ type, kv: r.kv, revision: r.main });
  }
  if (i === log.length) {
    watcher.synced = true;
    watcher.startRevision = state.mvcc.revision + 1;
    return;
  }
  const next = log[i] as KvRecord;
  watcher.nextMain = next.main;
  watcher.nextSub = next.sub;
}

function withPrevKv(watcher: Watcher, state: KvState, events: KvEvent[]): KvEvent[] {
  if (watcher.request.prevKv !== true) return events;
  return events.map((event) => {
    if (event.type === 'put' && event.kv.version === 1) return event;
    const before = event.revision - 1;
    if (before < state.mvcc.compactRevision) return event;
    const prevKv = getAt(state.mvcc, keyText(event.kv.key), before);
    return prevKv === undefined ? event : { ...event, prevKv };
  });
}
