/**
 * The pieces of the Raft benches that decide what a number means (bench/lib-raft-systems.ts,
 * bench/etcd-vs-shoal.ts): the Prometheus sample reader (a prefix of another metric's name,
 * labels, absent samples), entries per fsync between two samples, the median row over runs.
 * (The slower disk is the agent's own `--fsync-delay-ms` now: test/agent/config.test.ts and
 * FsStorage's tests.)
 */
import { describe, expect, it } from 'vitest';
import { medianRow, perFsync, type Row } from '../../bench/etcd-vs-shoal.js';
import { metric } from '../../bench/lib-raft-systems.js';
import { summarize } from '../../bench/raft-profile.js';

const METRICS = [
  '# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.',
  '# TYPE etcd_disk_wal_fsync_duration_seconds histogram',
  'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 90',
  'etcd_disk_wal_fsync_duration_seconds_sum 0.25',
  'etcd_disk_wal_fsync_duration_seconds_count 120',
  'etcd_server_proposals_committed_total 4321',
  'shoal_durable_writes_total{protocol="election"} 7',
  'shoal_durable_writes_total{protocol="raft"} 88',
].join('\n');

describe('metric', () => {
  it('reads a sample by its exact name, not by a prefix of a longer one', () => {
    expect(metric(METRICS, 'etcd_disk_wal_fsync_duration_seconds_count')).toBe(120);
    expect(metric(METRICS, 'etcd_server_proposals_committed_total')).toBe(4321);
    expect(metric(METRICS, 'etcd_disk_wal_fsync_duration_seconds')).toBeUndefined();
  });

  it('picks the sample whose labels match', () => {
    expect(metric(METRICS, 'shoal_durable_writes_total', 'protocol="raft"')).toBe(88);
    expect(metric(METRICS, 'shoal_durable_writes_total', 'protocol="election"')).toBe(7);
    expect(metric(METRICS, 'shoal_durable_writes_total', 'protocol="swim"')).toBeUndefined();
  });

  it('is undefined for a metric that is not there', () => {
    expect(metric(METRICS, 'etcd_server_proposals_applied_total')).toBeUndefined();
    expect(metric('', 'anything')).toBeUndefined();
  });
});

describe('perFsync', () => {
  it('divides the entries added by the fsyncs done between two samples', () => {
    expect(perFsync({ entries: 100, fsyncs: 10 }, { entries: 400, fsyncs: 20 })).toBe(30);
  });

  it('is undefined without a sample or without an fsync in between', () => {
    expect(perFsync(undefined, { entries: 1, fsyncs: 1 })).toBeUndefined();
    expect(perFsync({ entries: 1, fsyncs: 1 }, undefined)).toBeUndefined();
    expect(perFsync({ entries: 1, fsyncs: 5 }, { entries: 9, fsyncs: 5 })).toBeUndefined();
  });
});

describe('medianRow', () => {
  const row = (opsPerSec: number, p99Ms: number | undefined, errors: number): Row => ({
    opsPerSec,
    p50Ms: 1,
    p99Ms,
    maxMs: 2,
    serverCpuUsPerOp: undefined,
    clientCpuUsPerOp: 10,
    entriesPerFsync: undefined,
    errors,
    load1: 3,
    note: errors > 0 ? 'first error: x' : '',
  });

  it('takes each field’s median over the runs that have it, sums errors, keeps a note', () => {
    const m = medianRow([row(100, 10, 0), row(300, undefined, 2), row(200, 30, 1)]);
    expect(m?.opsPerSec).toBe(200);
    expect(m?.p99Ms).toBe(20);
    expect(m?.serverCpuUsPerOp).toBeUndefined();
    expect(m?.errors).toBe(3);
    expect(m?.note).toBe('first error: x');
  });

  it('is undefined with no runs', () => {
    expect(medianRow([])).toBeUndefined();
  });
});

describe('summarize (bench/raft-profile.ts)', () => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
  // root -> handle (src/node/a.ts) -> encode (src/raft/b.ts); idle under root.
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
      { id: 2, callFrame: frame('handle', 'file:///repo/src/node/a.ts'), children: [3] },
      { id: 3, callFrame: frame('encode', 'file:///repo/src/raft/b.ts') },
      { id: 4, callFrame: frame('(idle)', '') },
    ],
    // Sampled at 100, 200, ..., 600 µs: encode, handle, idle, encode (in the window), then two out.
    samples: [3, 2, 4, 3, 3, 2],
    timeDeltas: [100, 100, 100, 100, 100, 100],
    startTime: 0,
    endTime: 600,
  };

  it('counts only the window, idle apart; self by function and file, total through callers', () => {
    const s = summarize(profile, 100, 400);
    expect([s.total, s.idle]).toEqual([4, 1]);
    expect(s.self.map((e) => [e.name, e.samples])).toEqual([
      ['encode src/raft/b.ts', 2],
      ['handle src/node/a.ts', 1],
    ]);
    expect(s.files.map((e) => [e.name, e.samples])).toEqual([
      ['src/raft/b.ts', 2],
      ['src/node/a.ts', 1],
    ]);
    expect(s.inclusive.map((e) => [e.name, e.samples, e.share])).toEqual([
      ['handle src/node/a.ts', 3, 1],
      ['encode src/raft/b.ts', 2, 2 / 3],
    ]);
  });
});
