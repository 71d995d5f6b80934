/**
 * `GET /metrics`: Prometheus text from a per-agent prom-client `Registry` (never the global
 * one: several agents may share a process, as in `shoal demo`). Every value is read from
 * `node.stats()` when scraped, so the protocol code keeps plain counters and pays nothing for
 * metrics between scrapes. Monotonic protocol counters are exported as Prometheus counters.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import type { DriverStats } from '../node/driver.js';
import type { StreamGauges } from '../transport/types.js';
import type { AgentNode } from './agent-node.js';
import { MEMBER_STATES, membersByState } from './stats.js';
import {
  MEMBERSHIP_COUNTER_METRICS,
  MODE_COUNTER_METRICS,
  MODE_GAUGE_METRICS,
} from './protocol-metrics.js';
import type { SseCounters } from './sse.js';
import { registerWorkerMetrics } from '../worker/metrics.js';

type Sample = [labels: Record<string, string>, value: number];

const DIRECTIONS: ReadonlyArray<[direction: string, key: 'Received' | 'Sent']> = [
  ['in', 'Received'],
  ['out', 'Sent'],
];

export interface AgentMetrics {
  registry: Registry;
  close(): void;
}

/** A metric whose samples are computed at scrape time. */
function scraped(
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: string[],
  read: () => Sample[],
): void {
  const collect = function (this: Counter | Gauge): void {
    this.reset();
    for (const [labels, value] of read()) {
      if (this instanceof Counter) this.inc(labels, value);
      else this.set(labels, value);
    }
  };
  if (kind === 'counter') new Counter({ name, help, labelNames, registers: [registry], collect });
  else new Gauge({ name, help, labelNames, registers: [registry], collect });
}

function transportSamples(
  node: AgentNode,
  what: 'packetBytes' | 'frameBytes' | 'packets' | 'frames',
): Sample[] {
  const transport = node.stats().transport;
  if (transport === undefined) return [];
  return DIRECTIONS.map(([direction, key]) => [{ direction }, transport[`${what}${key}`]]);
}

/**
 * The transport's reasons that are stream connections closed by a limit before authentication
 * (docs/design/edges.md), exported as `shoal_stream_connections_closed_total`, not as drops.
 * `oversized` and `auth_failed` stay drops: packets and frames share them.
 */
export const STREAM_CLOSE_REASONS: ReadonlySet<string> = new Set([
  'hello_timeout',
  'auth_timeout',
  'buffer_limit',
  'inbound_evicted',
  'inbound_limit',
  'bad_hello',
]);
/** Our own stream connections a peer closed with a refusal frame: `shoal_stream_refusals_received_total`. */
const REFUSED_BY_PEER = 'refused_by_peer';

/** Drops by reason: the transport's reasons plus decode errors (`ERR_DECODE_TRUNCATED` -> `decode_truncated`). */
function dropSamples(node: AgentNode): Sample[] {
  const stats = node.stats();
  const samples: Sample[] = Object.entries(stats.transport?.dropped ?? {})
    .filter(([reason]) => !STREAM_CLOSE_REASONS.has(reason) && reason !== REFUSED_BY_PEER)
    .map(([reason, n]) => [{ reason }, n]);
  for (const [code, n] of Object.entries(stats.decodeErrors))
    samples.push([{ reason: code.replace(/^ERR_/, '').toLowerCase() }, n]);
  return samples;
}

/** The protocol counters and gauges a mode reports (protocol-metrics.ts); 0 in a mode without one. */
function registerProtocolMetrics(registry: Registry, node: AgentNode): void {
  const read = (counter: string) => (): Sample[] => [[{}, node.stats().protocol[counter] ?? 0]];
  for (const [counter, [metric, help]] of Object.entries({
    ...MEMBERSHIP_COUNTER_METRICS,
    ...MODE_COUNTER_METRICS,
  }))
    scraped(registry, 'counter', metric, help, [], read(counter));
  for (const [gauge, [metric, help]] of Object.entries(MODE_GAUGE_METRICS))
    scraped(registry, 'gauge', metric, help, [], read(gauge));
}

function registerNodeMetrics(registry: Registry, node: AgentNode): void {
  scraped(
    registry,
    'gauge',
    'shoal_members',
    'Members known to this node, by state.',
    ['state'],
    () => {
      const counts = membersByState(node.members());
      return MEMBER_STATES.map((state) => [{ state }, counts[state]]);
    },
  );
  registerProtocolMetrics(registry, node);
  scraped(
    registry,
    'counter',
    'shoal_gossip_bytes_total',
    'UDP gossip payload bytes, by direction.',
    ['direction'],
    () => transportSamples(node, 'packetBytes'),
  );
  scraped(
    registry,
    'counter',
    'shoal_push_pull_bytes_total',
    'TCP stream (push-pull, fallback) payload bytes, by direction.',
    ['direction'],
    () => transportSamples(node, 'frameBytes'),
  );
  scraped(
    registry,
    'counter',
    'shoal_packets_total',
    'UDP packets, by direction.',
    ['direction'],
    () => transportSamples(node, 'packets'),
  );
  scraped(
    registry,
    'counter',
    'shoal_frames_total',
    'TCP frames, by direction.',
    ['direction'],
    () => transportSamples(node, 'frames'),
  );
  scraped(
    registry,
    'counter',
    'shoal_packets_dropped_total',
    'Payloads dropped, by reason (decode errors, auth failures, queue overflow, ...); stream connections closed by a limit are shoal_stream_connections_closed_total.',
    ['reason'],
    () => dropSamples(node),
  );
  registerStreamMetrics(registry, node);
  scraped(
    registry,
    'gauge',
    'shoal_joined',
    'Whether this node has joined a cluster (swim: 0 while its seeds have not answered; it then reports no leader).',
    [],
    () => [[{}, node.joinStatus().joined ? 1 : 0]],
  );
  scraped(
    registry,
    'gauge',
    'shoal_local_health_score',
    'Lifeguard local health (awareness) score: 0 is healthy, higher stretches timeouts.',
    [],
    () => [[{}, node.stats().protocol['awareness'] ?? 0]],
  );
  scraped(
    registry,
    'gauge',
    'shoal_epoch',
    'Membership epoch: increases when the live set changes.',
    [],
    () => [[{}, node.epoch]],
  );
  const perDriver = (read: (d: DriverStats) => number) => (): Sample[] =>
    Object.entries(node.stats().drivers).map(([protocol, d]) => [{ protocol }, read(d)]);
  scraped(
    registry,
    'counter',
    'shoal_protocol_steps_total',
    'Inputs a protocol core has stepped, by protocol.',
    ['protocol'],
    perDriver((d) => d.steps),
  );
  scraped(
    registry,
    'counter',
    'shoal_durable_writes_total',
    'Durable writes (write, fsync, rename) finished, by protocol.',
    ['protocol'],
    perDriver((d) => d.writes),
  );
  scraped(
    registry,
    'counter',
    'shoal_durable_write_errors_total',
    'Durable writes that failed (the protocol stopped), by protocol.',
    ['protocol'],
    perDriver((d) => d.writeErrors),
  );
  scraped(
    registry,
    'gauge',
    'shoal_durable_write_seconds_max',
    'Longest durable write so far (issue to durable), by protocol.',
    ['protocol'],
    perDriver((d) => d.writeMsMax / 1000),
  );
}

/**
 * Inbound stream connections and the bytes they hold for unfinished frames, split by whether
 * the connection has authenticated (src/transport/tcp.ts: the caps apply to these numbers).
 */
function registerStreamMetrics(registry: Registry, node: AgentNode): void {
  const read =
    (
      pick: (s: StreamGauges) => [first: number, unauthenticated: number],
      first = 'authenticated',
    ) =>
    (): Sample[] => {
      const streams = node.stats().transport?.streams;
      if (streams === undefined) return [];
      const [value, unauthenticated] = pick(streams);
      return [
        [{ state: first }, value],
        [{ state: 'unauthenticated' }, unauthenticated],
      ];
    };
  scraped(
    registry,
    'gauge',
    'shoal_stream_connections',
    'Inbound stream connections, by whether they have authenticated (sent a frame this node accepted).',
    ['state'],
    read((s) => [s.inbound - s.unauthenticated, s.unauthenticated]),
  );
  scraped(
    registry,
    'gauge',
    'shoal_stream_buffered_bytes',
    'Bytes inbound stream connections hold for unfinished frames, by whether they have authenticated.',
    ['state'],
    read((s) => [s.bufferedBytes - s.unauthenticatedBufferedBytes, s.unauthenticatedBufferedBytes]),
  );
  const dropped = (read: (d: Readonly<Record<string, number>>) => Sample[]) => (): Sample[] => {
    const transport = node.stats().transport;
    return transport === undefined ? [] : read(transport.dropped);
  };
  scraped(
    registry,
    'counter',
    'shoal_stream_connections_closed_total',
    'Inbound stream connections closed by a limit, by reason: hello_timeout (no hello within helloTimeoutMs), auth_timeout (no accepted frame within inboundAuthTimeoutMs), buffer_limit (would pass a buffered-bytes cap), inbound_evicted (idlest unauthenticated one, at inboundConnectionsMax), inbound_limit (refused: every connection authenticated), bad_hello.',
    ['reason'],
    dropped((d) => [...STREAM_CLOSE_REASONS].map((reason) => [{ reason }, d[reason] ?? 0])),
  );
  scraped(
    registry,
    'counter',
    'shoal_stream_refusals_received_total',
    'Our stream connections a peer closed with a refusal frame saying why (its inbound limit is full, it cannot authenticate our frames, ...); the join log names the reason.',
    [],
    dropped((d) => [[{}, d[REFUSED_BY_PEER] ?? 0]]),
  );
  scraped(
    registry,
    'gauge',
    'shoal_stream_buffered_bytes_peak',
    'Largest total held for unfinished frames since start: all connections, and the unauthenticated ones.',
    ['state'],
    read((s) => [s.bufferedBytesPeak, s.unauthenticatedBufferedBytesPeak], 'all'),
  );
}

/** Builds the registry; `close()` stops the event-loop-delay monitor. */
export function createAgentMetrics(node: AgentNode, sse: () => SseCounters): AgentMetrics {
  const registry = new Registry();
  registerNodeMetrics(registry, node);
  registerWorkerMetrics(registry, () => node.workers);
  scraped(registry, 'gauge', 'shoal_sse_clients', 'Connected /v1/events clients.', [], () => [
    [{}, sse().clients],
  ]);
  scraped(
    registry,
    'counter',
    'shoal_sse_clients_dropped_total',
    'Event-stream clients dropped (slow: buffer full) or refused (too many).',
    ['reason'],
    () => [
      [{ reason: 'slow' }, sse().droppedSlow],
      [{ reason: 'refused' }, sse().refused],
    ],
  );
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  scraped(
    registry,
    'gauge',
    'shoal_event_loop_delay_seconds',
    'Event-loop delay since the previous scrape, by statistic.',
    ['stat'],
    () => {
      const samples: Sample[] = [
        [{ stat: 'p50' }, loop.percentile(50) / 1e9],
        [{ stat: 'p99' }, loop.percentile(99) / 1e9],
        [{ stat: 'max' }, loop.max / 1e9],
      ];
      loop.reset();
      return samples;
    },
  );
  return { registry, close: () => loop.disable() };
}
