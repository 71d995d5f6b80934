/**
 * etcd's Watch service: one bidirectional stream carries many watches (etcdserver/api/v3rpc/
 * watch.go, v3.4). Requests are handled in order:
 * - create: a watch on a key, a range or a prefix from a start revision, with filters (NOPUT,
 *   NODELETE), prev_kv, progress_notify and fragment. Answered by a `created` response (header
 *   revision: where the watch stands) before any event of it. The id is the client's when it
 *   gives one (etcd 3.4), else the stream's counter (from 0, skipping ids in use), as etcd's.
 *   A refused create is answered `created` and `canceled` with watch_id -1 and a cancel_reason.
 *   A start revision below the compacted revision is not refused: the watch is created, then
 *   canceled by a response carrying compact_revision, exactly as etcd sends it (etcdctl and the
 *   etcd3 client read the compaction from that response).
 * - cancel: answered `canceled` with the id; nothing of that watch follows. An unknown id is
 *   ignored, as etcd ignores it.
 * - progress: an empty response with watch_id -1 whose header revision every watch on the stream
 *   has delivered all events up to (the lowest of their progress revisions).
 * Each watch's events are taken from its KvWatch one batch at a time (`poll`: woken by the
 * store, no promise per batch; a KvWatch without it is pumped through `batches`); a watch waits
 * for the client to read before taking the next batch, so a slow client holds back only its own
 * watches (the store keeps their events, and a watch that falls far behind catches up from
 * history). The watches of a stream woken by one apply are drained in the same turn, so their
 * responses leave as one write (h2-server.ts).
 * A batch is split at event boundaries to stay under watchResponseBytesMax (flagged `fragment`
 * when the watch asked for it). A watch created with progress_notify that sent nothing during a
 * watchProgressIntervalMs gets an empty response with its own id and the revision it has
 * delivered everything up to (never beyond: KvWatch.progress()).
 *
 * The stream ends (every watch canceled) when the client cancels it or half-closes it.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { KvEvent, KeyValue } from '../kv/types.js';
import type { KvHeader, KvWatch, WatchBatch } from '../node/kv-service.js';
import { WATCH_EVENT_OVERHEAD_BYTES } from './config.js';
import { int64, wireHeader, wireRevision } from './convert.js';
import { encodeEvent, encodeWatchEvents } from './encode.js';
import { OrderedStream, type Endpoint } from './endpoint.js';
import type { WireWatchCreateRequest, WireWatchRequest } from './proto.js';
import { toEtcdStatus } from './status.js';

/** etcd's clientv3.InvalidWatchID: the id of answers that belong to no watch. */
export const INVALID_WATCH_ID = -1;
/** etcd's mvcc.ErrWatcherDuplicateID message. */
export const DUPLICATE_WATCH_ID = 'mvcc: duplicate watch ID provided on the WatchStream';

interface StreamWatch {
  readonly id: number;
  readonly watch: KvWatch;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  /** Canceled by the client or the stream: nothing more may be sent for it. */
  ended: boolean;
  /** Waiting for its next batch: a progress notification may go out now. */
  idle: boolean;
  /** Sent nothing since the last progress tick (etcd's progress map). */
  quiet: boolean;
  /** Called by the store when the watch may have a batch (poll form). */
  readonly wake: () => void;
}

function eventBytes(event: KvEvent): number {
  const kvBytes = (kv: KeyValue | undefined): number =>
    kv === undefined ? 0 : kv.key.length + kv.value.length;
  return kvBytes(event.kv) + kvBytes(event.prevKv) + WATCH_EVENT_OVERHEAD_BYTES;
}

/** Splits events into runs of at most `bytesMax` (an event larger than that goes alone). */
export function splitEvents(events: readonly KvEvent[], bytesMax: number): KvEvent[][] {
  const parts: KvEvent[][] = [];
  let part: KvEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = eventBytes(event);
    if (part.length > 0 && bytes + size > bytesMax) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(event);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

export class WatchStream extends OrderedStream<WireWatchRequest> {
  private readonly watches = new Map<number, StreamWatch>();
  private nextId = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(ep: Endpoint, call: ServerDuplexStream<object, object>) {
    super(ep, 'Watch/Watch', call);
    this.timer = setInterval(() => this.progressTick(), ep.config.watchProgressIntervalMs);
    this.timer.unref();
  }

  protected async handle(request: WireWatchRequest): Promise<void> {
    switch (request.request_union) {
      case 'create_request':
        if (request.create_request) await this.create(request.create_request);
        return;
      case 'cancel_request':
        if (request.cancel_request) this.cancel(int64(request.cancel_request.watch_id));
        return;
      case 'progress_request':
        await this.progressAll();
        return;
      default:
        // etcd ignores a request it does not know rather than ending the stream.
        return;
    }
  }

  private respond(header: KvHeader, body: object): boolean {
    this.ep.stats.watchResponses++;
    return this.send({ header: wireHeader(header), ...body });
  }

  private async refuseCreate(reason: string): Promise<void> {
    const header = await this.ep.header();
    this.respond(header, {
      watch_id: INVALID_WATCH_ID,
      created: true,
      canceled: true,
      cancel_reason: reason,
    });
  }

  /** The id for a create: the client's (0 = choose), or a reason to refuse it. */
  private chooseId(asked: number): number | string {
    if (asked < 0 || asked === Infinity)
      return `shoal: watch_id ${asked} is not supported (use 0 to let the server choose, or 1 to 2^53 - 1)`;
    if (asked !== 0) return this.watches.has(asked) ? DUPLICATE_WATCH_ID : asked;
    while (this.watches.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }

  private async create(w: WireWatchCreateRequest): Promise<void> {
    const max = this.ep.config.watchesPerStreamMax;
    if (this.watches.size >= max)
      return this.refuseCreate(
        `shoal: this stream already holds ${max} watches (watchesPerStreamMax)`,
      );
    const id = this.chooseId(int64(w.watch_id));
    if (typeof id === 'string') return this.refuseCreate(id);
    let watch: KvWatch;
    try {
      const fromRevision = wireRevision(w.start_revision);
      watch = this.ep.kv.watch({
        // etcd: an empty key is \x00, the smallest key; range_end [0x00] is "every key >= key".
        key: w.key.length === 0 ? Uint8Array.of(0) : w.key,
        ...(w.range_end.length === 0 ? {} : { rangeEnd: w.range_end }),
        ...(fromRevision === 0 ? {} : { fromRevision }),
        noPut: w.filters.includes('NOPUT'),
        noDelete: w.filters.includes('NODELETE'),
        prevKv: w.prev_kv,
      });
    } catch (err) {
      return this.refuseCreate(toEtcdStatus(err).status.details);
    }
    const entry: StreamWatch = {
      id,
      watch,
      progressNotify: w.progress_notify,
      fragment: w.fragment,
      ended: false,
      idle: false,
      quiet: true,
      wake: () => this.drain(entry),
    };
    this.watches.set(id, entry);
    this.ep.stats.watchesOpen++;
    this.respond(this.ep.seen(watch.progress()), { watch_id: id, created: true });
    if (watch.poll === undefined) void this.pump(entry);
    else this.drain(entry);
  }

  private remove(entry: StreamWatch): void {
    if (entry.ended) return;
    entry.ended = true;
    entry.watch.cancel();
    this.watches.delete(entry.id);
    this.ep.stats.watchesOpen--;
  }

  private cancel(id: number): void {
    const entry = this.watches.get(id);
    if (entry === undefined) return;
    const header = entry.watch.progress();
    this.remove(entry);
    this.respond(header, { watch_id: id, canceled: true });
  }

  /**
   * Sends what the watch has now (poll form), until it must wait for the store (its `wake`
   * brings it back) or for the client to read (the stream's drain does).
   */
  private drain(entry: StreamWatch): void {
    const poll = entry.watch.poll;
    if (poll === undefined) return;
    for (;;) {
      if (entry.ended || this.closed) return;
      let next: WatchBatch | 'wait' | 'ended';
      try {
        next = poll(entry.wake);
      } catch (err) {
        void this.failWatch(entry, err);
        return;
      }
      entry.idle = next === 'wait';
      if (next === 'wait') return;
      if (next === 'ended' || !this.deliver(entry, next)) {
        this.remove(entry);
        return;
      }
      if (this.call.writableNeedDrain) {
        void this.writable().then(() => this.drain(entry));
        return;
      }
    }
  }

  /** Ends a watch whose store failed it: canceled with the reason. */
  private async failWatch(entry: StreamWatch, err: unknown): Promise<void> {
    const header = await this.ep.header();
    if (!entry.ended && !this.closed)
      this.respond(header, {
        watch_id: entry.id,
        canceled: true,
        cancel_reason: toEtcdStatus(err).status.details,
      });
    this.remove(entry);
  }

  /** Sends one watch's batches until it ends; waits for the client between batches. */
  private async pump(entry: StreamWatch): Promise<void> {
    const batches = entry.watch.batches[Symbol.asyncIterator]();
    try {
      for (;;) {
        entry.idle = true;
        const next = await batches.next();
        entry.idle = false;
        if (next.done === true || entry.ended || this.closed) break;
        if (!this.deliver(entry, next.value)) break;
        await this.writable();
      }
    } catch (err) {
      if (!entry.ended && !this.closed) {
        const header = await this.ep.header();
        this.respond(header, {
          watch_id: entry.id,
          canceled: true,
          cancel_reason: toEtcdStatus(err).status.details,
        });
      }
    } finally {
      this.remove(entry);
    }
  }

  /** Sends one batch; false when the watch ended with it. */
  private deliver(entry: StreamWatch, batch: WatchBatch): boolean {
    const header = this.ep.seen(batch.header);
    switch (batch.kind) {
      case 'events': {
        if (batch.events.length === 0) return true;
        // Encoded here, not by gRPC: the header once per revision, each event once for every
        // watch that delivers it (encode.ts).
        const headerBytes = this.ep.headerBytes.of(header);
        const parts = splitEvents(batch.events, this.ep.config.watchResponseBytesMax);
        for (const [i, part] of parts.entries()) {
          const more = entry.fragment && i < parts.length - 1;
          this.ep.stats.watchResponses++;
          this.send(encodeWatchEvents(headerBytes, entry.id, part.map(encodeEvent), more));
        }
        entry.quiet = false;
        return true;
      }
      case 'compacted':
        this.respond(header, {
          watch_id: entry.id,
          compact_revision: batch.compactRevision,
          canceled: true,
        });
        return false;
      case 'canceled':
        this.respond(header, { watch_id: entry.id, canceled: true, cancel_reason: batch.reason });
        return false;
    }
  }

  /** etcd's progress ticker: a quiet, caught-up watch that asked for it gets its revision. */
  private progressTick(): void {
    for (const entry of this.watches.values()) {
      if (!entry.progressNotify) continue;
      if (entry.quiet && entry.idle) {
        this.ep.stats.progressNotifications++;
        this.respond(entry.watch.progress(), { watch_id: entry.id });
      }
      entry.quiet = true;
    }
  }

  /** A progress request: the lowest revision every watch of the stream has delivered up to. */
  private async progressAll(): Promise<void> {
    let lowest: KvHeader | undefined;
    for (const entry of this.watches.values()) {
      const header = entry.watch.progress();
      if (lowest === undefined || header.revision < lowest.revision) lowest = header;
    }
    this.ep.stats.progressNotifications++;
    this.respond(lowest ?? (await this.ep.header()), { watch_id: INVALID_WATCH_ID });
  }

  protected onClose(): void {
    clearInterval(this.timer);
    for (const entry of [...this.watches.values()]) this.remove(entry);
  }
}
