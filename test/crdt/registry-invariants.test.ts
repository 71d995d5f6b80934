/**
 * The registry's per-replica invariants and transition rules (src/crdt/registry/invariants.ts)
 * fire on states that break them: each check is shown to fail on a deliberately broken state or
 * step, so a silent checker cannot pass for a sound core.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { ms } from '../../src/base/time.js';
import { registryConfig } from '../../src/crdt/registry/config.js';
import { REGISTRY_CORE } from '../../src/crdt/registry/protocol.js';
import type { RegistryState } from '../../src/crdt/registry/types.js';
import { nodeIdOf, securityOf } from '../../src/sim/registry-cluster.js';

const rng = new Rng(3);

function withRows(): RegistryState {
  const state = REGISTRY_CORE.init(
    {
      config: registryConfig('simMin', { rowsPerNodeMax: 2 }),
      selfId: nodeIdOf(0),
      wallOffsetMs: 1e12,
      security: securityOf(0),
    },
    undefined,
    { now: ms(1000), rng },
  );
  for (const name of ['a', 'b'])
    REGISTRY_CORE.step(
      state,
      {
        kind: 'local',
        now: ms(1001),
        write: { op: 'advertise-service', name, value: { address: 'x', tags: [], weight: 1 } },
      },
      { rng },
    );
  expect(REGISTRY_CORE.checkInvariants(state)).toEqual([]);
  return state;
}

const breakages: [string, (s: RegistryState) => void, RegExp][] = [
  ['own partition dropped', (s) => s.partitions.delete(s.selfId), /own partition is missing/],
  ['HLC behind our epoch', (s) => (s.clock.last = { wallMs: 0, logical: 0 }), /HLC is behind/],
  [
    'a row after its partition seq',
    (s) => ((s.partitions.get(s.selfId) as { seq: number }).seq = 1),
    /after its partition's seq/,
  ],
  [
    'too many rows',
    (s) => {
      const p = s.partitions.get(s.selfId);
      const row = p?.rows.get('service\u0000a');
      if (p !== undefined && row !== undefined) p.rows.set('service\u0000c', { ...row, key: 'c' });
    },
    /exceeds rowsPerNodeMax|filed under another id/,
  ],
  [
    'a partition under its tombstone',
    (s) => {
      const owner = nodeIdOf(5);
      s.partitions.set(owner, {
        owner,
        epoch: { wallMs: 1, logical: 0 },
        seq: 1,
        rows: new Map(),
        signature: 'ab'.repeat(64) as never,
      });
      s.tombstones.set(owner, {
        tombstone: { owner, epoch: { wallMs: 1, logical: 0 }, seq: 2 },
        seenBy: new Set(),
        atMs: ms(0),
      });
    },
    /kept under its tombstone/,
  ],
  [
    'an unsigned partition of another owner',
    (s) => {
      const owner = nodeIdOf(6);
      s.partitions.set(owner, {
        owner,
        epoch: { wallMs: 1, logical: 0 },
        seq: 1,
        rows: new Map(),
        signature: undefined,
      });
    },
    /unsigned/,
  ],
  [
    'self in the live view',
    (s) => s.live.set(s.selfId, '127.0.0.1:1' as never),
    /self is in the live view/,
  ],
  [
    'a tombstone of ourselves',
    (s) =>
      s.tombstones.set(s.selfId, {
        tombstone: { owner: s.selfId, epoch: { wallMs: 1, logical: 0 }, seq: 1 },
        seenBy: new Set(),
        atMs: ms(0),
      }),
    /tombstone of ourselves/,
  ],
];

describe('registry invariants catch broken states', () => {
  for (const [what, breakIt, sentence] of breakages)
    it(what, () => {
      const state = withRows();
      breakIt(state);
      expect(REGISTRY_CORE.checkInvariants(state).join('; ')).toMatch(sentence);
    });

  it('checkTransition: our own (epoch, seq) or HLC going back (a step that loses a write)', () => {
    const state = withRows();
    const before = REGISTRY_CORE.snapshot(state);
    const input = { kind: 'tick' as const, now: ms(1002) };
    (state.partitions.get(state.selfId) as { seq: number }).seq = 1;
    state.clock.last = { wallMs: 0, logical: 0 };
    expect(REGISTRY_CORE.checkTransition(before, state, input)).toEqual([
      'own (epoch, seq) went back',
      'HLC went back',
    ]);
  });
});
