/**
 * The Watch stream (etcdserver/api/v3rpc/watch.go semantics): many watches on one stream, ids,
 * cancel, progress (requested and periodic), fragments, limits, compaction, and the end of a
 * stream. Every stream's responses are also checked against the rules clients rely on
 * (watch-check.ts), and that checker is shown to catch broken sequences.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EtcdGrpcConfig } from '../../src/etcd/config.js';
import { DUPLICATE_WATCH_ID, splitEvents } from '../../src/etcd/watch-stream.js';
import type { KvEvent } from '../../src/kv/types.js';
import { waitFor } from '../helpers/wait.js';
import { startDoubleCluster, type DoubleCluster } from './double-cluster.js';
import type { KvDoubleOptions } from './kv-double.js';
import { ok, openStream, serviceClient, type RecordedStream } from './grpc-client.js';
import { checkWatchResponses, type WireWatchResponse } from './watch-check.js';

const key = (text: string): Buffer => Buffer.from(text);
type Response = Record<string, unknown> & WireWatchResponse;

let cluster: DoubleCluster | undefined;
const streams: RecordedStream[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.cancel();
  await cluster?.stop();
  cluster = undefined;
});

async function setup(
  config: Partial<EtcdGrpcConfig> = {},
  double: KvDoubleOptions = {},
): Promise<{ watch: RecordedStream; put: (k: string, v: string) => Promise<number> }> {
  cluster = await startDoubleCluster({ config, ...double });
  const address = cluster.endpoints[0] ?? '';
  const kv = serviceClient(address, 'KV');
  const watch = openStream(serviceClient(address, 'Watch'), 'Watch');
  streams.push(watch);
  const put = async (k: string, v: string): Promise<number> => {
    const r = await ok(kv, 'Put', { key: key(k), value: key(v) });
    return Number((r['header'] as { revision: string }).revision);
  };
  return { watch, put };
}

const of = (responses: readonly Response[], id: string): Response[] =>
  responses.filter((r) => String(r.watch_id) === id);
const eventsOf = (responses: readonly Response[], id: string): string[] =>
  of(responses, id).flatMap((r) =>
    (r.events ?? []).map((e) => Buffer.from(e.kv?.key ?? []).toString()),
  );
const responses = (watch: RecordedStream): Response[] => watch.responses as Response[];

describe('the Watch stream', () => {
  it('carries many watches: ids from 0, created before events, each gets its own', async () => {
    const { watch, put } = await setup();
    watch.write({ create_request: { key: key('a') } });
    watch.write({ create_request: { key: key('p/'), range_end: key('p0') } });
    watch.write({ create_request: { key: key('r1'), range_end: key('r3') } });
    await watch.until((r) => r.length === 3, '3 created');
    expect(responses(watch).map((r) => [r.watch_id, r.created])).toEqual([
      ['0', true],
      ['1', true],
      ['2', true],
    ]);
    for (const k of ['a', 'p/x', 'r2', 'r3', 'b', 'p/y']) await put(k, 'v');
    await watch.until((r) => r.length >= 7, 'events');
    await waitFor(() => eventsOf(responses(watch), '1').length === 2, 10_000, 'p/ events');
    expect(eventsOf(responses(watch), '0')).toEqual(['a']);
    expect(eventsOf(responses(watch), '1')).toEqual(['p/x', 'p/y']);
    expect(eventsOf(responses(watch), '2')).toEqual(['r2']);
    expect(checkWatchResponses(responses(watch))).toEqual([]);
    expect(cluster?.servers[0]?.stats().watchesOpen).toBe(3);
  });

  it("takes the client's ids, refuses a duplicate with etcd's reason", async () => {
    const { watch } = await setup();
    watch.write({ create_request: { key: key('a'), watch_id: 7 } });
    watch.write({ create_request: { key: key('b'), watch_id: 7 } });
    watch.write({ create_request: { key: key('c') } });
    await watch.until((r) => r.length === 3, '3 answers');
    expect(responses(watch).map((r) => [r.watch_id, r.created, r.canceled])).toEqual([
      ['7', true, false],
      ['-1', true, true],
      ['0', true, false],
    ]);
    expect(responses(watch)[1]?.['cancel_reason']).toBe(DUPLICATE_WATCH_ID);
  });

  it('cancel answers canceled, and nothing of that watch follows', async () => {
    const { watch, put } = await setup();
    watch.write({ create_request: { key: key('a') } });
    watch.write({ create_request: { key: key('b') } });
    await watch.until((r) => r.length === 2, 'created');
    watch.write({ cancel_request: { watch_id: 1 } });
    watch.write({ cancel_request: { watch_id: 99 } });
    await watch.until((r) => r.length === 3, 'canceled');
    expect(responses(watch)[2]).toMatchObject({ watch_id: '1', canceled: true });
    await put('b', 'ignored');
    await put('a', 'seen');
    await watch.until((r) => eventsOf(r as Response[], '0').length === 1, 'the event on a');
    expect(eventsOf(responses(watch), '1')).toEqual([]);
    expect(checkWatchResponses(responses(watch))).toEqual([]);
    expect(cluster?.servers[0]?.stats().watchesOpen).toBe(1);
  });

  it('a progress request answers watch_id -1 at the revision every watch has delivered', async () => {
    const { watch, put } = await setup();
    watch.write({ create_request: { key: key('a') } });
    await watch.until((r) => r.length === 1, 'created');
    const rev = await put('zz', 'unwatched');
    watch.write({ progress_request: {} });
    await watch.until((r) => r.length === 2, 'progress');
    expect(responses(watch)[1]).toMatchObject({ watch_id: '-1', created: false, events: [] });
    expect(Number(responses(watch)[1]?.header?.revision)).toBe(rev);
  });

  it('a quiet watch with progress_notify gets its revision every interval, others do not', async () => {
    const { watch, put } = await setup({ watchProgressIntervalMs: 40 });
    watch.write({ create_request: { key: key('a'), progress_notify: true } });
    watch.write({ create_request: { key: key('b') } });
    await watch.until((r) => r.length === 2, 'created');
    const rev = await put('zz', 'x');
    await watch.until(
      (r) => of(r as Response[], '0').some((x) => Number(x.header?.revision) === rev),
      'a progress notification at the new revision',
    );
    expect(of(responses(watch), '1')).toHaveLength(1);
    expect(
      of(responses(watch), '0')
        .slice(1)
        .every((r) => (r.events ?? []).length === 0),
    ).toBe(true);
    expect(cluster?.servers[0]?.stats().progressNotifications).toBeGreaterThan(0);
    expect(checkWatchResponses(responses(watch))).toEqual([]);
  });

  it('splits a large batch under watchResponseBytesMax, flagging fragments when asked', async () => {
    const { watch } = await setup({ watchResponseBytesMax: 300 });
    watch.write({ create_request: { key: key('f/'), range_end: key('f0'), fragment: true } });
    watch.write({ create_request: { key: key('f/'), range_end: key('f0') } });
    await watch.until((r) => r.length === 2, 'created');
    const kv = serviceClient(cluster?.endpoints[0] ?? '', 'KV');
    const value = Buffer.alloc(100, 'v');
    const puts = [1, 2, 3, 4, 5].map((i) => ({ request_put: { key: key(`f/${i}`), value } }));
    await ok(kv, 'Txn', { success: puts });
    await watch.until(
      (r) =>
        eventsOf(r as Response[], '0').length === 5 && eventsOf(r as Response[], '1').length === 5,
      'both watches get 5 events',
    );
    const fragmented = of(responses(watch), '0').slice(1);
    expect(fragmented.length).toBeGreaterThan(1);
    expect(fragmented.map((r) => r['fragment'])).toEqual([
      ...fragmented.slice(1).map(() => true),
      false,
    ]);
    const plain = of(responses(watch), '1').slice(1);
    expect(plain.length).toBe(fragmented.length);
    expect(plain.every((r) => r['fragment'] === false)).toBe(true);
    expect(checkWatchResponses(responses(watch))).toEqual([]);
  });

  it('holds at most watchesPerStreamMax watches (limit - 1, limit, limit + 1)', async () => {
    const { watch } = await setup({ watchesPerStreamMax: 3, streamResponsesQueuedMax: 10 });
    for (const k of ['a', 'b', 'c', 'd']) watch.write({ create_request: { key: key(k) } });
    await watch.until((r) => r.length === 4, '4 answers');
    expect(responses(watch).map((r) => r.canceled)).toEqual([false, false, false, true]);
    expect(responses(watch)[3]).toMatchObject({
      watch_id: '-1',
      cancel_reason: 'shoal: this stream already holds 3 watches (watchesPerStreamMax)',
    });
    watch.write({ cancel_request: { watch_id: 0 } });
    watch.write({ create_request: { key: key('e') } });
    await watch.until((r) => r.length === 6, 'a free slot is used');
    // etcd numbers on from its counter rather than reusing a freed id.
    expect(responses(watch)[5]).toMatchObject({ watch_id: '3', created: true, canceled: false });
  });

  it("relays the store's refusal of a watch as a canceled create", async () => {
    const { watch } = await setup({}, { watch: { watchersMax: 1 } });
    watch.write({ create_request: { key: key('a') } });
    watch.write({ create_request: { key: key('b') } });
    await watch.until((r) => r.length === 2, 'answers');
    expect(responses(watch)[1]).toMatchObject({
      watch_id: '-1',
      created: true,
      canceled: true,
      cancel_reason: 'shoal: 1 watchers exist (watchersMax)',
    });
  });

  it('replays from a past revision before live events; below compaction it is canceled', async () => {
    const { watch, put } = await setup();
    const first = await put('h', '1');
    await put('h', '2');
    watch.write({ create_request: { key: key('h'), start_revision: first } });
    await watch.until((r) => eventsOf(r as Response[], '0').length === 2, 'history');
    await put('h', '3');
    await watch.until((r) => eventsOf(r as Response[], '0').length === 3, 'live');
    const revisions = of(responses(watch), '0').flatMap((r) =>
      (r.events ?? []).map((e) => Number(e.kv?.mod_revision)),
    );
    expect(revisions).toEqual([first, first + 1, first + 2]);
    const kv = serviceClient(cluster?.endpoints[0] ?? '', 'KV');
    await ok(kv, 'Compact', { revision: first + 2 });
    watch.write({ create_request: { key: key('h'), start_revision: first } });
    await watch.until((r) => of(r as Response[], '1').length === 2, 'created, then compacted');
    expect(of(responses(watch), '1')[1]).toMatchObject({
      canceled: true,
      compact_revision: String(first + 2),
    });
    expect(checkWatchResponses(responses(watch))).toEqual([]);
  });

  it('a client half-close ends the stream with OK and ends its watches in the store', async () => {
    const { watch } = await setup();
    watch.write({ create_request: { key: key('a') } });
    await watch.until((r) => r.length === 1, 'created');
    await waitFor(() => cluster?.double.registry.watchers.size === 1, 5_000, 'one watcher');
    watch.halfClose();
    expect(await watch.end()).toBeNull();
    await waitFor(() => cluster?.double.registry.watchers.size === 0, 5_000, 'no watcher left');
    expect(cluster?.servers[0]?.stats().watchesOpen).toBe(0);
    expect(cluster?.servers[0]?.stats().streamsOpen).toBe(0);
  });
});

describe('splitEvents', () => {
  const event = (bytes: number): KvEvent =>
    ({
      type: 'put',
      revision: 1,
      kv: {
        key: new Uint8Array(1),
        value: new Uint8Array(bytes),
        createRevision: 1,
        modRevision: 1,
        version: 1,
      },
    }) as unknown as KvEvent;

  it('keeps events under the bound in order; an event larger than it goes alone', () => {
    const sizes = (parts: KvEvent[][]): number[][] =>
      parts.map((p) => p.map((e) => e.kv.value.length));
    // Each event costs value + 1 key byte + 64 overhead.
    expect(sizes(splitEvents([event(35), event(35), event(35)], 200))).toEqual([[35, 35], [35]]);
    expect(sizes(splitEvents([event(35), event(35)], 200))).toEqual([[35, 35]]);
    expect(sizes(splitEvents([event(500), event(1)], 200))).toEqual([[500], [1]]);
    expect(splitEvents([], 200)).toEqual([]);
  });
});

describe('the watch response checker catches broken streams', () => {
  const created = (id: number): WireWatchResponse => ({ watch_id: id, created: true });
  const events = (id: number, ...revs: number[]): WireWatchResponse => ({
    watch_id: id,
    events: revs.map((r) => ({ kv: { key: key(`k${r}`), mod_revision: r } })),
  });

  it('accepts a valid stream', () => {
    expect(
      checkWatchResponses([
        created(0),
        events(0, 2, 3),
        { watch_id: 0, header: { revision: 3 } },
        events(0, 4),
        { watch_id: 0, canceled: true },
      ]),
    ).toEqual([]);
  });

  it('flags events before created, after cancel, out of order, repeated, or behind a progress', () => {
    expect(checkWatchResponses([events(0, 2), created(0)])).toHaveLength(1);
    expect(
      checkWatchResponses([created(0), { watch_id: 0, canceled: true }, events(0, 2)]),
    ).toHaveLength(1);
    expect(checkWatchResponses([created(0), events(0, 3), events(0, 2)])).toHaveLength(1);
    expect(checkWatchResponses([created(0), events(0, 2), events(0, 2)])).toHaveLength(1);
    expect(
      checkWatchResponses([created(0), { watch_id: 0, header: { revision: 5 } }, events(0, 5)]),
    ).toHaveLength(1);
  });
});
