/**
 * `GET /v1/watch/<key>` (`?prefix`, `?fromRevision=N`, `?prevKv`): a watch as Server-Sent
 * Events (docs/http-api.md, "Replicated store"). Each change is one `put` or `delete` event
 * whose data is `{"type","kv","revision"}` (kv-json.ts); a watch whose history was compacted
 * away ends with one `compacted` event `{"compactRevision"}` (re-read, then watch from the
 * read's revision + 1); the node closing ends it with `canceled`.
 *
 * Backpressure, not buffering: the next batch is taken from the store only once the socket
 * drained the last one, so a slow reader costs one batch of memory; its watcher falls behind
 * and catches up from history (kv.md, "Watches"). At most WATCH_STREAMS_MAX streams per agent
 * (503 ERR_QUEUE_FULL beyond). A comment line every SSE_HEARTBEAT_MS keeps proxies from closing a
 * quiet stream.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KvService } from '../node/kv-service.js';
import { specRange, watchEventView, type KeySpec } from '../node/node-kv.js';
import { HttpError } from './http-errors.js';
import { watchEventJson } from './kv-json.js';
import { formatSse, SSE_HEARTBEAT_MS } from './sse.js';

/** @defaultValue 256 watch streams per agent. */
export const WATCH_STREAMS_MAX = 256;

export interface WatchStreams {
  open: number;
  max: number;
  refused: number;
}

export function watchStreams(max = WATCH_STREAMS_MAX): WatchStreams {
  return { open: 0, max, refused: 0 };
}

/** Resolves once `res` drained (or closed). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function serveWatch(
  streams: WatchStreams,
  kv: KvService,
  request: FastifyRequest,
  reply: FastifyReply,
  spec: KeySpec,
  options: { fromRevision?: number; prevKv: boolean },
): void {
  if (streams.open >= streams.max) {
    streams.refused++;
    throw new HttpError(
      503,
      'ERR_QUEUE_FULL',
      `${streams.open} watch streams are open on this agent (WATCH_STREAMS_MAX); try again later`,
    );
  }
  const controller = new AbortController();
  // Started before the response is taken over: a refused watch is an ordinary error answer.
  const watch = kv.watch({
    ...specRange(spec),
    ...(options.fromRevision === undefined ? {} : { fromRevision: options.fromRevision }),
    prevKv: options.prevKv,
    signal: controller.signal,
  });
  streams.open++;
  reply.hijack();
  request.raw.socket.setTimeout(0);
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const heartbeat = setInterval(() => res.write(': ping\n\n'), SSE_HEARTBEAT_MS);
  heartbeat.unref();
  res.on('close', () => controller.abort());
  void (async () => {
    try {
      for await (const batch of watch.batches) {
        if (res.destroyed) break;
        if (batch.kind === 'compacted') {
          res.write(formatSse('compacted', { compactRevision: batch.compactRevision }));
          break;
        }
        if (batch.kind === 'canceled') {
          res.write(formatSse('canceled', { reason: batch.reason }));
          break;
        }
        let ok = true;
        for (const event of batch.events)
          ok = res.write(formatSse(event.type, watchEventJson(watchEventView(event))));
        if (!ok) await drained(res);
      }
    } finally {
      clearInterval(heartbeat);
      watch.cancel();
      streams.open--;
      res.end();
    }
  })();
}
