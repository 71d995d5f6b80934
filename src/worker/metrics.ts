/**
 * The worker tier's Prometheus metrics (`GET /metrics` of a `worker-server` agent), read from
 * the WorkerServer's counters when scraped (src/agent/metrics.ts registers them on its
 * per-agent registry; on other modes they export nothing):
 *
 * - `shoal_workers{state}`: worker records by status (registered, down, drained, revoked), from
 *   this server's applied view of the store;
 * - `shoal_worker_heartbeats_total` and `shoal_worker_heartbeats_per_second` (since the
 *   previous scrape): heartbeats this server took from workers;
 * - `shoal_worker_heartbeat_ttl_base_seconds`: the TTL base at the current number of workers
 *   (TTLs are granted in [base, 2·base));
 * - `shoal_worker_leading`: 1 on the server that keeps the deadlines;
 * - `shoal_worker_registrations_total`, `shoal_worker_registrations_refused_total{reason}`
 *   (every token refusal word, `busy`, `limit`, `bad-request`), `shoal_worker_registrations_queued`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { heartbeatTtlBaseMsFor } from './core/config.js';
import type { WorkerServer } from './server.js';

type Sample = [labels: Record<string, string>, value: number];

const STATES = ['registered', 'down', 'drained', 'revoked'] as const;

function metric(
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

/** Registers the tier's metrics; `workers()` is the node's worker-server, if it is one. */
export function registerWorkerMetrics(
  registry: Registry,
  workers: () => WorkerServer | undefined,
  nowMs: () => number = () => Date.now(),
): void {
  const stats = (): Record<string, number> | undefined => workers()?.stats();
  metric(registry, 'gauge', 'shoal_workers', 'Workers by state.', ['state'], () => {
    const s = stats();
    return s === undefined ? [] : STATES.map((state) => [{ state }, s[`workers_${state}`] ?? 0]);
  });
  metric(
    registry,
    'counter',
    'shoal_worker_heartbeats_total',
    'Heartbeats this server took from workers (never store writes).',
    [],
    () => {
      const s = stats();
      return s === undefined ? [] : [[{}, s['heartbeats'] ?? 0]];
    },
  );
  let previous: { atMs: number; heartbeats: number } | undefined;
  metric(
    registry,
    'gauge',
    'shoal_worker_heartbeats_per_second',
    'Heartbeats per second this server took since the previous scrape (0 at the first).',
    [],
    () => {
      const s = stats();
      if (s === undefined) return [];
      const now = { atMs: nowMs(), heartbeats: s['heartbeats'] ?? 0 };
      const rate =
        previous === undefined || now.atMs <= previous.atMs
          ? 0
          : ((now.heartbeats - previous.heartbeats) * 1000) / (now.atMs - previous.atMs);
      previous = now;
      return [[{}, rate]];
    },
  );
  metric(
    registry,
    'gauge',
    'shoal_worker_heartbeat_ttl_base_seconds',
    'The heartbeat TTL base at the current number of workers; TTLs are granted in [base, 2·base).',
    [],
    () => {
      const server = workers();
      const s = server?.stats();
      if (server === undefined || s === undefined) return [];
      const live = (s['workers_registered'] ?? 0) + (s['workers_drained'] ?? 0);
      return [[{}, heartbeatTtlBaseMsFor(live, server.options.config) / 1000]];
    },
  );
  metric(
    registry,
    'gauge',
    'shoal_worker_leading',
    '1 on the worker-server that keeps the deadlines (the Raft leader), else 0.',
    [],
    () => {
      const s = stats();
      return s === undefined ? [] : [[{}, s['leading'] ?? 0]];
    },
  );
  metric(
    registry,
    'counter',
    'shoal_worker_registrations_total',
    'Registrations this server certified.',
    [],
    () => {
      const s = stats();
      return s === undefined ? [] : [[{}, s['registrations'] ?? 0]];
    },
  );
  metric(
    registry,
    'counter',
    'shoal_worker_registrations_refused_total',
    'Registrations this server refused, by reason (token refusal words, busy, limit, bad-request).',
    ['reason'],
    () =>
      Object.entries(stats() ?? {})
        .filter(([k]) => k.startsWith('refused_'))
        .map(([k, v]) => [{ reason: k.slice('refused_'.length) }, v]),
  );
  metric(
    registry,
    'gauge',
    'shoal_worker_registrations_queued',
    'Registrations waiting for a place on this server.',
    [],
    () => {
      const s = stats();
      return s === undefined ? [] : [[{}, s['registrations_queued'] ?? 0]];
    },
  );
}
