/**
 * The registry core passes the protocol contract suite (test/base/contract.ts): determinism,
 * deadlines never in the past, one-line descriptions of every kind, invariants after every step,
 * over random local writes, views, deltas and push-pull messages from three peers.
 */
import { describe } from 'vitest';
import type { Rng } from '../../src/base/rng.js';
import type { Millis } from '../../src/base/time.js';
import { registryConfig } from '../../src/crdt/registry/config.js';
import { REGISTRY_CORE } from '../../src/crdt/registry/protocol.js';
import type {
  Delta,
  RegistryInput,
  RegistryState,
  RegistryTypes,
} from '../../src/crdt/registry/types.js';
import { protocolContract } from '../base/contract.js';
import { addressOf, nodeIdOf } from './registry-harness.js';

const WALL = 1_700_000_000_000;
const STATES = ['alive', 'suspect', 'dead', 'left'] as const;

function randomDelta(rng: Rng, now: Millis): Delta {
  const owner = nodeIdOf(1 + rng.int(3));
  const fromSeq = rng.int(4);
  const toSeq = fromSeq + 1 + rng.int(2);
  const stamp = { wallMs: WALL + now - rng.int(100), logical: rng.int(3) };
  return {
    owner,
    epoch: { wallMs: WALL + rng.int(3) * 100, logical: 0 },
    fromSeq,
    toSeq,
    upserts: rng.chance(1, 2)
      ? [
          {
            table: 'service',
            key: `s${rng.int(3)}`,
            seq: toSeq,
            stamp,
            value: { address: 'a:1', tags: [], weight: 1 },
          },
        ]
      : [],
    removals: rng.chance(1, 3) ? [{ table: 'process', key: 'p', seq: toSeq }] : [],
  };
}

function randomInput(rng: Rng, state: RegistryState, now: Millis): RegistryInput {
  const from = addressOf(1 + rng.int(3));
  const peer = nodeIdOf(1 + rng.int(3));
  switch (rng.int(7)) {
    case 0:
      return {
        kind: 'local',
        now,
        write: {
          op: 'advertise-service',
          name: `s${rng.int(3)}`,
          value: { address: 'h:1', tags: ['t'], weight: rng.int(3) },
        },
      };
    case 1:
      return rng.chance(1, 2)
        ? {
            kind: 'local',
            now,
            write: {
              op: 'advertise-process',
              pid: `p${rng.int(3)}`,
              value: { type: 'w', capabilities: [], status: 'running', load: rng.int(10) / 10 },
            },
          }
        : {
            kind: 'local',
            now,
            write: { op: 'withdraw', table: 'service', key: `s${rng.int(3)}` },
          };
    case 2:
      return {
        kind: 'view',
        now,
        members: [1, 2, 3].map((i) => ({
          id: nodeIdOf(i),
          address: addressOf(i),
          state: rng.pick(STATES),
        })),
      };
    case 3:
      return { kind: 'deltas', now, from, deltas: [randomDelta(rng, now)] };
    case 4:
      return {
        kind: 'receive',
        now,
        from,
        message: {
          type: 'data-digest',
          from: peer,
          reply: rng.chance(1, 2),
          digest: rng.chance(1, 2) ? '0000000000000000' : 'ffffffffffffffff',
        },
      };
    case 5: {
      const entries = [...state.partitions.values()].map((p) => ({
        owner: p.owner,
        epoch: p.epoch,
        seq: Math.max(0, p.seq - rng.int(2)),
      }));
      return {
        kind: 'receive',
        now,
        from,
        message: { type: 'data-summary', from: peer, partial: rng.chance(1, 3), entries },
      };
    }
    default: {
      const d = randomDelta(rng, now);
      const partition = {
        owner: d.owner,
        epoch: d.epoch,
        seq: d.toSeq,
        rows: new Map(d.upserts.map((r) => [`${r.table}\u0000${r.key}`, r])),
      };
      const tombstones = rng.chance(1, 3)
        ? [
            {
              owner: nodeIdOf(1 + rng.int(3)),
              epoch: { wallMs: WALL, logical: 0 },
              seq: rng.int(3),
            },
          ]
        : [];
      return {
        kind: 'receive',
        now,
        from,
        message: {
          type: 'data-state',
          from: peer,
          reply: rng.chance(1, 2),
          partitions: [partition],
          tombstones,
          want: rng.chance(1, 2) ? [nodeIdOf(0)] : [],
        },
      };
    }
  }
}

describe('registry core: protocol contract', () => {
  protocolContract<RegistryTypes>({
    core: REGISTRY_CORE,
    config: () => ({ config: registryConfig('simMin'), selfId: nodeIdOf(0), wallOffsetMs: WALL }),
    persisted: () => undefined,
    randomInput,
    sampleEffects: [
      {
        kind: 'send',
        to: addressOf(1),
        channel: 'packet',
        message: { type: 'data-gossip', from: nodeIdOf(0), deltas: [] },
      },
      {
        kind: 'changed',
        table: 'service',
        key: 'api',
        node: nodeIdOf(1),
        before: undefined,
        after: undefined,
      },
      { kind: 'piggyback', payload: new Uint8Array([0]), deltas: 0 },
    ],
    sampleInputs: [
      { kind: 'persisted', now: 0 as Millis, records: [] } as unknown as RegistryInput,
    ],
  });
});
