/** Placement and scale fan-out (docs/design/worker-tier.md, "Scale"). */
import { describe, expect, it } from 'vitest';
import { parseKey } from '../../src/worker/core/layout.js';
import { place, type Candidate } from '../../src/worker/core/placement.js';
import { records, type ServiceRecord } from '../../src/worker/core/records.js';
import {
  planScale,
  scaleTxns,
  serviceState,
  type StoredAssignment,
} from '../../src/worker/core/scale.js';

const node = (
  i: number,
  kind: Candidate['kind'] = 'worker',
  leader = false,
  labels = {},
): Candidate => ({
  id: i.toString(16).padStart(32, '0'),
  kind,
  labels,
  leader,
});
const servers = [node(1, 'server', true), node(2, 'server'), node(3, 'server')];
const workers = [4, 5, 6, 7, 8].map((i) =>
  node(i, 'worker', false, { zone: i % 2 === 0 ? 'a' : 'b' }),
);
const none = new Map<number, string>();

describe('placement', () => {
  it('spreads: no node holds more than ceil(replicas / eligible)', () => {
    const out = place({
      service: 'api',
      replicas: 20,
      candidates: [...servers, ...workers],
      current: none,
    });
    const counts = new Map<string, number>();
    for (const id of out) counts.set(id as string, (counts.get(id as string) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(3);
    expect(counts.size).toBe(8);
  });

  it('never all on the leader: one replica goes elsewhere, even when it was on the leader', () => {
    expect(place({ service: 'a', replicas: 1, candidates: servers, current: none })).not.toEqual([
      servers[0]?.id,
    ]);
    const onLeader = new Map([[0, servers[0]?.id as string]]);
    expect(
      place({ service: 'a', replicas: 1, candidates: servers, current: onLeader }),
    ).not.toEqual([servers[0]?.id]);
    // Only the leader is eligible: it runs it (better than nothing).
    expect(
      place({ service: 'a', replicas: 1, candidates: [servers[0] as Candidate], current: none }),
    ).toEqual([servers[0]?.id]);
  });

  it('is stable: replicas stay where they are while their node is eligible', () => {
    const before = place({ service: 'api', replicas: 5, candidates: workers, current: none });
    const current = new Map(before.map((id, i) => [i, id as string]));
    const after = place({
      service: 'api',
      replicas: 5,
      candidates: [...workers, node(9)],
      current,
    });
    expect(after).toEqual(before);
  });

  it('honours label selectors and the servers flag', () => {
    const out = place({
      service: 'api',
      replicas: 4,
      candidates: [...servers, ...workers],
      labels: { zone: 'a' },
      current: none,
    });
    const zoneA = new Set(workers.filter((w) => w.labels['zone'] === 'a').map((w) => w.id));
    expect(out.every((id) => zoneA.has(id as string))).toBe(true);
    const noServers = place({
      service: 'api',
      replicas: 4,
      candidates: servers,
      servers: false,
      current: none,
    });
    expect(noServers).toEqual([undefined, undefined, undefined, undefined]);
  });
});

const service = (
  replicas: number,
  generation = 1,
  spec: unknown = { image: 'api:1' },
): ServiceRecord => ({
  service: 'api',
  replicas,
  roles: ['primary', 'replica'],
  spec,
  placement: {},
  generation,
});

function applyPuts(
  current: StoredAssignment[],
  puts: ReturnType<typeof planScale>,
): StoredAssignment[] {
  const byKey = new Map(current.map((a) => [`${a.nodeId}/${a.index}`, a]));
  for (const put of puts) {
    const key = parseKey(put.key);
    const value = records.assignment.decode(put.value);
    if (key?.kind !== 'assignment' || value === undefined) throw new Error('bad put');
    byKey.set(`${key.nodeId}/${key.index}`, { nodeId: key.nodeId, index: key.index, value });
  }
  return [...byKey.values()].filter((a) => a.value.op !== 'delete');
}

describe('scale plan', () => {
  const plan = (svc: ServiceRecord, current: StoredAssignment[], status = new Map()) =>
    planScale({
      service: svc,
      current,
      candidates: workers,
      workerStatus: status,
      drainGraceMs: 30_000,
    });

  it('places every replica with the full spec and its role, then reaches a fixed point', () => {
    const puts = plan(service(3), []);
    expect(puts).toHaveLength(3);
    const values = puts.map((p) => records.assignment.decode(p.value));
    expect(values.map((v) => v?.op === 'set' && [v.index, v.role, v.spec])).toEqual([
      [0, 'primary', { image: 'api:1' }],
      [1, 'replica', { image: 'api:1' }],
      [2, 'replica', { image: 'api:1' }],
    ]);
    expect(plan(service(3), applyPuts([], puts))).toEqual([]);
  });

  it('scales de-assigned nodes to zero and rewrites every replica on a spec change', () => {
    const three = applyPuts([], plan(service(3), []));
    const down = plan(service(1), three);
    expect(down.map((p) => records.assignment.decode(p.value)?.op).sort()).toEqual([
      'delete',
      'delete',
    ]);
    const respec = plan(service(3, 2, { image: 'api:2' }), three);
    expect(respec.map((p) => records.assignment.decode(p.value))).toMatchObject([
      { op: 'set', spec: { image: 'api:2' }, generation: 2 },
      { op: 'set', spec: { image: 'api:2' }, generation: 2 },
      { op: 'set', spec: { image: 'api:2' }, generation: 2 },
    ]);
  });

  it("moves a down worker's replicas with a forced delete, a drained one's with a drain", () => {
    const current = applyPuts([], plan(service(5), []));
    const victim = current[0]?.nodeId as string;
    const others = workers.filter((w) => w.id !== victim);
    for (const [status, op] of [
      ['down', 'delete'],
      ['drained', 'drain'],
    ] as const) {
      const puts = planScale({
        service: service(5),
        current,
        candidates: others,
        workerStatus: new Map([[victim, status]]),
        drainGraceMs: 30_000,
      });
      const released = puts
        .map((p) => [parseKey(p.key), records.assignment.decode(p.value)] as const)
        .filter(([k]) => k?.kind === 'assignment' && k.nodeId === victim);
      expect(released.map(([, v]) => v?.op)).toEqual([op]);
      if (op === 'delete') expect(released[0]?.[1]).toMatchObject({ force: true });
      expect(puts.filter((p) => records.assignment.decode(p.value)?.op === 'set')).toHaveLength(1);
    }
  });

  it('groups puts into txns of at most 64 operations', () => {
    const many = Array.from({ length: 130 }, () => ({
      key: new Uint8Array(1),
      value: new Uint8Array(1),
    }));
    expect(scaleTxns(many).map((t) => t.success.length)).toEqual([64, 64, 2]);
  });
});

describe('service state', () => {
  it('counts unreported replicas as pending, not failed, and healthy ones as they report', () => {
    const current = applyPuts(
      [],
      planScale({
        service: service(2),
        current: [],
        candidates: workers,
        workerStatus: new Map(),
        drainGraceMs: 1,
      }),
    );
    const [a, b] = current as [StoredAssignment, StoredAssignment];
    const statuses = new Map([
      [
        a.nodeId,
        {
          nodeId: a.nodeId,
          revision: 9,
          atMs: 1,
          containers: [
            { service: 'api', index: a.index, state: 'running' as const, healthy: true },
          ],
        },
      ],
    ]);
    expect(serviceState('api', service(2), current, statuses)).toMatchObject({
      replicas: 2,
      placed: 2,
      running: 1,
      healthy: 1,
      pending: 1,
    });
    expect(b.nodeId).not.toBe(a.nodeId);
  });
});
