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
  Partition,
  RegistryInput,
  RegistryState,
  RegistryTypes,
} from '../../src/crdt/registry/types.js';
import { protocolContract } from '../base/contract.js';
import {
  addressOf,
  nodeIdOf,
  publicKeyOf,
  securityOf,
  signedDeltas,
  signVersion,
} from '../../src/sim/registry-cluster.js';

const WALL = 1_700_000_000_000;
const STATES = ['alive', 'suspect', 'dead', 'left'] as const;

function randomDelta(rng: Rng, now: Millis): Omit<Delta, 'signature'> {
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

function partitionOf(rng: Rng, now: Millis): Partition {
  const d = randomDelta(rng, now);
  const unsigned = {
    owner: d.owner,
    epoch: d.epoch,
    seq: d.toSeq,
    rows: new Map(d.upserts.map((r) => [`${r.table}\u0000${r.key}`, r])),
  };
  return { ...unsigned, signature: signVersion(unsigned) };
}

function randomInput(rng: Rng, state: RegistryState, now: Millis): RegistryInput {
  const from = addressOf(1 + rng.int(3));
  const peer = nodeIdOf(1 + rng.int(3));
  switch (rng.int(8)) {
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
          publicKey: publicKeyOf(i),
        })),
      };
    case 7: {
      const i = 1 + rng.int(3);
      return rng.chance(1, 4)
        ? { kind: 'members', now, members: [], removed: [nodeIdOf(i)] }
        : {
            kind: 'members',
            now,
            members: [
              {
                id: nodeIdOf(i),
                address: addressOf(i),
                state: rng.pick(STATES),
                publicKey: publicKeyOf(i),
              },
            ],
            removed: [],
          };
    }
    case 3:
      // Signed by the owner as the version this replica would hold (or, one time in four, forged).
      return {
        kind: 'deltas',
        now,
        from,
        deltas: signedDeltas(state, [
          rng.chance(1, 4)
            ? {
                ...randomDelta(rng, now),
                signature: signVersion({ ...partitionOf(rng, now), owner: nodeIdOf(5) }),
              }
            : randomDelta(rng, now),
        ]),
      };
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
      const partition = partitionOf(rng, now);
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
    config: () => ({
      config: registryConfig('simMin'),
      selfId: nodeIdOf(0),
      wallOffsetMs: WALL,
      security: securityOf(0),
    }),
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
