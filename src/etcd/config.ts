/**
 * Settings of the etcd-compatible gRPC endpoint (docs/etcd.md, "Limits"). All are node-local:
 * they bound what one member's endpoint accepts and buffers, never what the replicated store
 * holds (that is KvConfig's business, src/kv/config.ts). Defaults follow etcd 3.4 where it has
 * the same knob, so a client that works against etcd's defaults works here.
 */
import { ShoalError } from '../base/errors.js';

export interface EtcdGrpcConfig {
  /**
   * Largest request message gRPC accepts, bytes: etcd's --max-request-bytes (1.5 MiB) plus the
   * 512 KiB gRPC allowance etcd adds. A larger message is refused by gRPC with
   * RESOURCE_EXHAUSTED before it is parsed; a smaller one that breaks the store's requestBytesMax
   * gets etcd's "etcdserver: request is too large". @defaultValue 2097152
   */
  receiveMessageBytesMax: number;
  /** Concurrent calls (HTTP/2 streams) on one client connection. @defaultValue 1024 */
  streamsPerConnectionMax: number;
  /**
   * Watches one Watch stream may hold (etcd has no such limit; its clients put every watch of
   * one context on one stream). One more is refused with a created-and-canceled response whose
   * cancel_reason names this limit. @defaultValue 10000
   */
  watchesPerStreamMax: number;
  /**
   * A watch response carries at most this many bytes of events (keys, values and previous
   * values, plus WATCH_EVENT_OVERHEAD_BYTES each); a bigger batch is split at event boundaries,
   * flagged as fragments when the watch asked for them (etcd's fragment option, at its
   * --max-request-bytes). One event larger than this goes alone. @defaultValue 1572864
   */
  watchResponseBytesMax: number;
  /**
   * A watch created with progress_notify that sent nothing for this long gets an empty
   * response with the revision it has caught up to, ms (etcd: 10 minutes). @defaultValue 600000
   */
  watchProgressIntervalMs: number;
  /**
   * Responses a stream may hold for a client that does not read. A watch waits for the client
   * before it takes more events (the store keeps them, and a watch that falls far behind
   * catches up from history), so each watch holds at most one; control responses (created,
   * canceled, keep-alive answers) fill the rest. Past this the stream is ended with
   * RESOURCE_EXHAUSTED. Must exceed watchesPerStreamMax. @defaultValue 20000
   */
  streamResponsesQueuedMax: number;
  /**
   * Requests waiting on one Watch or LeaseKeepAlive stream: they are handled in order, one at a
   * time, as etcd does. One more ends the stream with RESOURCE_EXHAUSTED. @defaultValue 1024
   */
  streamRequestsQueuedMax: number;
  /** How long `close()` lets calls finish before cutting them, ms. @defaultValue 2000 */
  closeGraceMs: number;
}

export const ETCD_GRPC_DEFAULTS: Readonly<EtcdGrpcConfig> = {
  receiveMessageBytesMax: 1.5 * 1024 * 1024 + 512 * 1024,
  streamsPerConnectionMax: 1024,
  watchesPerStreamMax: 10_000,
  watchResponseBytesMax: 1.5 * 1024 * 1024,
  watchProgressIntervalMs: 600_000,
  streamResponsesQueuedMax: 20_000,
  streamRequestsQueuedMax: 1024,
  closeGraceMs: 2_000,
};

/** Bytes a watch event costs beyond its keys and values when sizing a response (headers, tags). */
export const WATCH_EVENT_OVERHEAD_BYTES = 64;

/** Fills defaults and checks every field is a positive safe integer (ERR_INVALID_CONFIG). */
export function etcdGrpcConfig(settings: Partial<EtcdGrpcConfig> = {}): EtcdGrpcConfig {
  const config = { ...ETCD_GRPC_DEFAULTS };
  for (const name of Object.keys(ETCD_GRPC_DEFAULTS) as (keyof EtcdGrpcConfig)[]) {
    const value = settings[name] ?? config[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `invalid etcd gRPC config: ${name} (${String(value)}) must be a positive integer`,
      );
    config[name] = value;
  }
  if (config.streamResponsesQueuedMax <= config.watchesPerStreamMax)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid etcd gRPC config: streamResponsesQueuedMax (${config.streamResponsesQueuedMax}) must exceed watchesPerStreamMax (${config.watchesPerStreamMax})`,
    );
  return config;
}
