/**
 * Watchers (etcd's watchable_store.go semantics): from a revision, replay then live; compacted
 * refusal; a slow watcher falls behind and catches up from history without loss or repeat, and is
 * cancelled only when compaction overtakes it; filters and prevKv; and a property that every
 * watcher sees exactly the applied events of its range from its revision, in order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logIndex } from '../../src/base/units.js';
import { prefixRange } from '../../src/kv/commands.js';
import { kvConfig, watchConfig, type WatchConfig } from '../../src/kv/config.js';
import { keySpan, keyText, spanHas } from '../../src/kv/keys.js';
import { takeSnapshot } from '../../src/kv/snapshot.js';
import { restoreSnapshot } from '../../src/kv/snapshot-restore.js';
import { apply, createKvStore, type KvState } from '../../src/kv/store.js';
import type { KvEvent } from '../../src/kv/types.js';
import {
  addWatcher,
  cancelWatcher,
  createWatchRegistry,
  onApplied,
  onStoreReplaced,
  takeEvents,
  type WatchRegistry,
  type WatchRequest,
} from '../../src/kv/watch.js';
import { command, span } from './arbitraries.js';
import { TestStore, b, rev, t } from './helpers.js';

/** A store whose applies feed a registry, as the node must wire them. */
class Watched extends TestStore {
  readonly registry: WatchRegistry;
  woken = new Set<number>();

  constructor(config: Partial<WatchConfig> = {}) {
    super();
    this.registry = createWatchRegistry(watchConfig(config));
  }

  override run(...args: Parameters<TestStore['run']>): ReturnType<TestStore['run']> {
    const out = super.run(...args);
    for (const id of onApplied(this.registry, out.events)) this.woken.add(id);
    return out;
  }

  watch(request: WatchRequest): number {
    const r = addWatcher(this.registry, this.state, request);
    if ('kind' in r) throw new Error(`watch refused: ${r.code}`);
    return r.id;
  }

  /** Every event of watcher `id` available now. */
  drain(id: number, eventsMax = 1000): string[] {
    const out: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const taken = takeEvents(this.registry, this.state, id, eventsMax);
      if (taken === undefined) break;
      out.push(...taken.events.map(show));
      if (taken.compactRevision !== undefined) out.push(`compacted@${taken.compactRevision}`);
      if (!taken.pending) break;
    }
    return out;
  }
}

function show(e: KvEvent): string {
  const prev = e.prevKv === undefined ? '' : ` (was ${t(e.prevKv.value)})`;
  return `${e.type} ${t(e.kv.key)}${e.type === 'put' ? `=${t(e.kv.value)}` : ''}@${e.revision}${prev}`;
}

describe('watch from a revision', () => {
  it('from 0 reports only later changes, puts and deletes, in order', () => {
    const s = new Watched();
    s.put('k', '1');
    const id = s.watch({ key: b('k') });
    s.put('k', '2');
    s.put('other', '1');
    s.del('k');
    expect(s.woken).toEqual(new Set([id]));
    expect(s.drain(id)).toEqual(['put k=2@3', 'delete k@5']);
  });

  it('from a past revision replays history, then goes on live, across a prefix', () => {
    const s = new Watched();
    s.put('p/a', '1'); // 2
    s.put('q', '1'); // 3
    s.put('p/b', '1'); // 4
    s.del('p/a'); // 5
    const id = s.watch({ ...prefixRange('p/'), fromRevision: 3 });
    s.put('p/c', '1'); // 6
    expect(s.drain(id)).toEqual(['put p/b=1@4', 'delete p/a@5', 'put p/c=1@6']);
    s.put('p/d', '1');
    expect(s.drain(id)).toEqual(['put p/d=1@7']);
  });

  it('from a future revision reports from there on', () => {
    const s = new Watched();
    const id = s.watch({ key: b('k'), fromRevision: 4 });
    s.put('k', '1'); // 2
    s.put('k', '2'); // 3
    s.put('k', '3'); // 4
    expect(s.drain(id)).toEqual(['put k=3@4']);
  });

  it('below the compacted revision is refused with it (ERR_COMPACTED); at it replays from it', () => {
    const s = new Watched();
    s.put('k', '1'); // 2
    s.del('k'); // 3
    s.put('j', '1'); // 4
    s.do({ kind: 'compact', revision: rev(3) });
    expect(addWatcher(s.registry, s.state, { key: b('k'), fromRevision: 2 })).toMatchObject({
      kind: 'error',
      code: 'ERR_COMPACTED',
      compactRevision: 3,
    });
    const id = s.watch({ key: b('k'), fromRevision: 3 });
    expect(s.drain(id)).toEqual(['delete k@3']);
  });

  it('filters puts or deletes, and attaches prevKv except on creation', () => {
    const s = new Watched();
    const noPut = s.watch({ key: b('k'), noPut: true });
    const noDelete = s.watch({ key: b('k'), noDelete: true, prevKv: true });
    s.put('k', '1');
    s.put('k', '2');
    s.del('k');
    expect(s.drain(noPut)).toEqual(['delete k@4']);
    expect(s.drain(noDelete)).toEqual(['put k=1@2', 'put k=2@3 (was 1)']);
    const replay = s.watch({ key: b('k'), fromRevision: 2, prevKv: true });
    expect(s.drain(replay)).toEqual(['put k=1@2', 'put k=2@3 (was 1)', 'delete k@4 (was 2)']);
  });

  it('cancel removes a watcher; an unknown id takes nothing', () => {
    const s = new Watched();
    const id = s.watch({ key: b('k') });
    expect(cancelWatcher(s.registry, id)).toBe(true);
    expect(cancelWatcher(s.registry, id)).toBe(false);
    s.put('k', '1');
    expect(takeEvents(s.registry, s.state, id, 10)).toBeUndefined();
    expect(s.registry.byKey.size).toBe(0);
  });
});

describe('slow watchers', () => {
  it('fall behind when their queue is full and catch up from history: nothing lost, nothing twice', () => {
    const s = new Watched({ watcherQueueEventsMax: 2, watchCatchUpScanMax: 3 });
    const id = s.watch({ ...prefixRange('k'), fromRevision: 0 });
    for (let i = 0; i < 10; i++) s.put(`k${i % 3}`, String(i));
    s.put('other', 'x');
    expect(s.registry.stats.fellBehind).toBe(1);
    const events = s.drain(id, 4);
    expect(events).toEqual(Array.from({ length: 10 }, (_, i) => `put k${i % 3}=${i}@${i + 2}`));
    s.put('k9', 'live');
    expect(s.drain(id)).toEqual(['put k9=live@13']);
  });

  it('never split a revision when falling behind: a txn’s events arrive together', () => {
    const s = new Watched({ watcherQueueEventsMax: 3 });
    const id = s.watch(prefixRange('k'));
    s.put('k0', 'a');
    s.put('k0', 'b');
    const put = (k: string) => ({ kind: 'put' as const, request: { key: b(k), value: b('t') } });
    s.do({ kind: 'txn', request: { compare: [], success: [put('k1'), put('k2')], failure: [] } });
    expect(s.registry.stats.fellBehind).toBe(1);
    expect(s.drain(id)).toEqual(['put k0=a@2', 'put k0=b@3', 'put k1=t@4', 'put k2=t@4']);
  });

  it('are cancelled with the compacted revision when compaction overtakes them', () => {
    const s = new Watched({ watcherQueueEventsMax: 1 });
    const id = s.watch({ key: b('k') });
    s.put('k', '1'); // 2, queued
    s.put('k', '2'); // 3, falls behind at 3
    s.put('k', '3'); // 4
    s.do({ kind: 'compact', revision: rev(4) });
    expect(s.drain(id)).toEqual(['put k=1@2', 'compacted@4']);
    expect(s.registry.watchers.has(id)).toBe(false);
    expect(s.registry.stats.compacted).toBe(1);
  });

  it('after a snapshot restore replaces the store, replay from where they were', () => {
    const s = new Watched();
    const id = s.watch({ key: b('k') });
    s.put('k', '1');
    expect(s.drain(id)).toEqual(['put k=1@2']);
    // A follower installs a snapshot taken by a store that went further.
    const ahead = createKvStore(kvConfig());
    for (const [i, v] of ['1', '2', '3'].entries())
      apply(ahead, { op: { kind: 'put', request: { key: b('k'), value: b(v) } } }, logIndex(i + 1));
    const restored = restoreSnapshot(takeSnapshot(ahead), kvConfig()) as KvState;
    onStoreReplaced(s.registry, rev(2));
    const taken = takeEvents(s.registry, restored, id, 10)!;
    expect(taken.events.map(show)).toEqual(['put k=2@3', 'put k=3@4']);
  });
});

/** Mostly writes, with compactions at a fraction of the current revision (so they apply). */
const step = fc.oneof(
  {
    weight: 8,
    arbitrary: command.filter((c) => c.session === undefined && c.op.kind !== 'compact'),
  },
  {
    weight: 2,
    arbitrary: fc.double({ min: 0.5, max: 1, noNaN: true }).map((f) => ({ compactAt: f })),
  },
);

/** Mostly wide spans, so watchers see many events. */
const watchSpan = fc.oneof(
  { weight: 2, arbitrary: fc.constant(prefixRange('')) },
  { weight: 1, arbitrary: fc.constant(prefixRange('b')) },
  { weight: 1, arbitrary: span },
);

describe('every watcher sees exactly its events (property)', () => {
  it('over random writes, watch points, compactions, queue sizes and take sizes', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 5, maxLength: 40 }),
        fc.array(
          fc.record({ at: fc.nat(), span: watchSpan, back: fc.integer({ min: -2, max: 8 }) }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 8 }),
        (steps, watches, takeEvery, queueMax, scanMax, takes) => {
          const state = createKvStore(kvConfig({ compactionSliceKeys: 2 }));
          const registry = createWatchRegistry(
            watchConfig({ watcherQueueEventsMax: queueMax, watchCatchUpScanMax: scanMax }),
          );
          const applied: KvEvent[] = [];
          const seen = new Map<
            number,
            {
              from: number;
              span: ReturnType<typeof keySpan>;
              events: KvEvent[];
              compacted?: number;
            }
          >();
          const takeSome = (round: number): void => {
            for (const [id, w] of seen) {
              if (w.compacted !== undefined) continue;
              const taken = takeEvents(registry, state, id, takes[round % takes.length] as number);
              w.events.push(...(taken?.events ?? []));
              if (taken?.compactRevision !== undefined) w.compacted = taken.compactRevision;
            }
          };
          steps.forEach((s, i) => {
            for (const w of watches.filter((x) => x.at % steps.length === i)) {
              // back < 0: from a future revision; 0: from now (fromRevision 0); > 0: that far back.
              const current = state.mvcc.revision;
              const from = w.back === 0 ? 0 : Math.max(1, current + 1 - w.back);
              const r = addWatcher(registry, state, { ...w.span, fromRevision: from });
              if ('id' in r)
                seen.set(r.id, {
                  from: from === 0 ? current + 1 : from,
                  span: keySpan(w.span.key, 'rangeEnd' in w.span ? w.span.rangeEnd : undefined),
                  events: [],
                });
              else expect(r.code).toBe('ERR_COMPACTED');
            }
            const c =
              'compactAt' in s
                ? {
                    op: {
                      kind: 'compact' as const,
                      revision: rev(Math.max(1, Math.floor(state.mvcc.revision * s.compactAt))),
                    },
                  }
                : s;
            const out = apply(state, c, logIndex(i + 1));
            applied.push(...out.events);
            onApplied(registry, out.events);
            if (i % takeEvery === 0) takeSome(i);
          });
          for (let round = 0; round < 300; round++) takeSome(round);
          for (const w of seen.values()) {
            const want = applied.filter(
              (e) => e.revision >= w.from && spanHas(w.span, keyText(e.kv.key)),
            );
            if (w.compacted === undefined) expect(w.events).toEqual(want);
            else {
              // Cancelled (as etcd) only when compaction passed the position the watcher stood at.
              expect(w.events).toEqual(want.slice(0, w.events.length));
              const stood =
                w.events.length > 0 ? (w.events.at(-1) as KvEvent).revision : w.from - 1;
              expect(w.compacted).toBeGreaterThan(stood);
            }
          }
          stats.watchers += seen.size;
          stats.events += [...seen.values()].reduce((n, w) => n + w.events.length, 0);
          stats.fellBehind += registry.stats.fellBehind;
          stats.compacted += registry.stats.compacted;
        },
      ),
      { seed: 1321, numRuns: 300 },
    );
    // The property must have exercised what it claims to: catch-up and compacted cancels included.
    expect(stats.events).toBeGreaterThan(1000);
    expect(stats.fellBehind).toBeGreaterThan(30);
    expect(stats.compacted).toBeGreaterThan(30);
  });
});

const stats = { watchers: 0, events: 0, fellBehind: 0, compacted: 0 };
