/**
 * The pieces of the Raft benches that decide what a number means (bench/lib-raft-systems.ts,
 * bench/etcd-vs-shoal.ts) and the slower disk they give Shoal's agents (bench/lib-slow-disk.ts):
 * the Prometheus sample reader (a prefix of another metric's name, labels, absent samples),
 * entries per fsync between two samples, the median row over runs, and the FsStorage wrapper
 * (success reported exactly `delayMs` later on the injected timers, errors at once, undone by
 * its restore function).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ShoalError } from '../../src/base/errors.js';
import { FsStorage } from '../../src/node/fs-storage.js';
import { medianRow, perFsync, type Row } from '../../bench/etcd-vs-shoal.js';
import { metric } from '../../bench/lib-raft-systems.js';
import { slowDownFsStorage } from '../../bench/lib-slow-disk.js';

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

describe('slowDownFsStorage', () => {
  const dirs: string[] = [];
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
    vi.useRealTimers();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const storage = (): { fs: FsStorage; dir: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-slow-disk-'));
    dirs.push(dir);
    return { fs: new FsStorage(dir), dir };
  };

  /** Event-loop turns (setImmediate is not faked) until `until` holds, at most 10 s of real I/O. */
  const settle = async (until: () => boolean): Promise<void> => {
    const deadlineMs = performance.now() + 10_000;
    while (!until() && performance.now() < deadlineMs)
      await new Promise<void>((resolve) => setImmediate(resolve));
  };

  it('reports a durable write exactly delayMs after it finished', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    restore = slowDownFsStorage(10);
    const { fs, dir } = storage();
    const outcomes: (ShoalError | undefined)[] = [];
    fs.createDurable('seg', 4096, (error) => outcomes.push(error));
    await settle(() => existsSync(join(dir, 'seg')) && vi.getTimerCount() > 0);
    expect(vi.getTimerCount()).toBe(1);
    expect(outcomes).toEqual([]);
    vi.advanceTimersByTime(9);
    expect(outcomes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(outcomes).toEqual([undefined]);
  });

  it('reports an error at once, without the delay', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    restore = slowDownFsStorage(10);
    const { fs } = storage();
    const outcomes: (ShoalError | undefined)[] = [];
    fs.writeAtDurable('../outside', 0, new Uint8Array(4), (error) => outcomes.push(error));
    await settle(() => outcomes.length > 0);
    expect(outcomes[0]?.code).toBe('ERR_STORAGE_IO');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is undone by its restore function', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    slowDownFsStorage(10)();
    const { fs } = storage();
    const outcomes: (ShoalError | undefined)[] = [];
    fs.createDurable('seg', 4096, (error) => outcomes.push(error));
    await settle(() => outcomes.length > 0);
    expect(outcomes).toEqual([undefined]);
  });

  it('refuses a delay that is not a positive integer', () => {
    expect(() => slowDownFsStorage(0)).toThrow(/positive integer/);
    expect(() => slowDownFsStorage(1.5)).toThrow(/positive integer/);
  });
});
