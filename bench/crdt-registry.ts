/**
 * The data plane's replicated registry (issue 16), pure cores only (no sockets): local writes
 * and delta merges per second, bytes per delta and per gossip datagram, the digest and the full
 * push-pull state at N owners, the LWW map and OR-set joins, and how long a write takes to reach
 * every replica of a cluster under packet loss (virtual time, registry-harness from the tests).
 *
 * `npx tsx bench/crdt-registry.ts` prints markdown tables; `run()` returns them for bench/run.ts.
 */
import { Rng } from '../src/base/rng.js';
import { ms } from '../src/base/time.js';
import { lwwMap, lwwSet, mergeLwwMap } from '../src/crdt/lww.js';
import { copyOrSet, orSet, orSetAdd, orSetMerge } from '../src/crdt/or-set.js';
import { registryConfig } from '../src/crdt/registry/config.js';
import {
  deltaBytes,
  encodeRegistryMessage,
  partitionBytes,
  registryMessages,
} from '../src/crdt/registry/codec.js';
import { digestOf } from '../src/crdt/registry/partition.js';
import { REGISTRY_CORE } from '../src/crdt/registry/protocol.js';
import type { Delta, RegistryState, Row } from '../src/crdt/registry/types.js';
import { rowId } from '../src/crdt/registry/types.js';
import type { NodeId } from '../src/identity/node-id.js';
import type { Signature } from '../src/identity/signed.js';
import {
  converged,
  RegistryCluster,
  securityOf,
  signVersion,
} from '../src/sim/registry-cluster.js';
import { fmt, isMain, machineNote, table } from './lib-report.js';
import { benchIds, opsPerSec } from './placement-lookup.js';

const WALL = 1_700_000_000_000;
const config = registryConfig('lan');
const rng = new Rng(1);

function fresh(self: NodeId, verifySignatures = true): RegistryState {
  return REGISTRY_CORE.init(
    { config, selfId: self, wallOffsetMs: WALL, security: securityOf(self, verifySignatures) },
    undefined,
    { now: ms(1000), rng },
  );
}

const serviceRow = (seq: number): Row => ({
  table: 'service',
  key: 'api',
  seq,
  stamp: { wallMs: WALL + seq, logical: 0 },
  value: { address: '10.0.12.34:8080', tags: ['v2'], weight: 1 },
});
const processRow = (seq: number): Row => ({
  table: 'process',
  key: `worker-${seq % 64}`,
  seq,
  stamp: { wallMs: WALL + seq, logical: 0 },
  value: { type: 'worker', capabilities: ['gpu'], status: 'running', load: 0.42 },
});

function oneRowDelta(owner: NodeId, seq: number, row: Row): Delta {
  return {
    owner,
    epoch: { wallMs: WALL, logical: 0 },
    fromSeq: seq - 1,
    toSeq: seq,
    upserts: [row],
    removals: [],
    signature: 'ab'.repeat(64) as Signature,
  };
}

/**
 * One-row deltas from `peer`, each signed by `peer` as the version a replica holds after the ones
 * before it (made before timing: what is measured is the receiver's side, verification included).
 */
function signedStream(peer: NodeId, count: number): Delta[] {
  const rows = new Map<string, Row>();
  const out: Delta[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const d = oneRowDelta(peer, seq, processRow(seq));
    for (const row of d.upserts) rows.set(rowId(row.table, row.key), row);
    const signature = signVersion({ owner: peer, epoch: d.epoch, seq, rows });
    out.push({ ...d, signature });
  }
  return out;
}

function throughput(): string[][] {
  const [self, peer] = benchIds(2) as [NodeId, NodeId];
  const writer = fresh(self);
  let n = 0;
  const writes = opsPerSec(() =>
    REGISTRY_CORE.step(
      writer,
      {
        kind: 'local',
        now: ms(2000),
        write: {
          op: 'advertise-process',
          pid: `p${n++ % 512}`,
          value: { type: 'worker', capabilities: ['gpu'], status: 'running', load: 0.5 },
        },
      },
      { rng },
    ),
  );
  const stream = signedStream(peer, 3000);
  const mergeRate = (verifySignatures: boolean): number => {
    const reader = fresh(self, verifySignatures);
    REGISTRY_CORE.step(
      reader,
      {
        kind: 'view',
        now: ms(1000),
        members: [
          {
            id: peer,
            address: '10.0.0.2:7946' as never,
            state: 'alive',
            publicKey: securityOf(peer).publicKey,
          },
        ],
      },
      { rng },
    );
    let seq = 0;
    return opsPerSec(() => {
      const d = stream[seq++ % stream.length] as Delta;
      if (seq % stream.length === 0) reader.partitions.delete(peer);
      return REGISTRY_CORE.step(
        reader,
        { kind: 'deltas', now: ms(2000), from: '10.0.0.2:7946' as never, deltas: [d] },
        { rng },
      );
    });
  };
  const merges = mergeRate(true);
  const mergesUnchecked = mergeRate(false);
  let signSeq = 0;
  const ownSigns = opsPerSec(() => {
    writer.partitions.get(self)!.signature = undefined;
    writer.partitions.get(self)!.seq = 1_000_000 + signSeq++;
    return signVersion(writer.partitions.get(self)!);
  });
  const a = lwwMap<number>();
  const b = lwwMap<number>();
  for (let i = 0; i < 1000; i++) lwwSet(b, `k${i}`, peer, i, { wallMs: i, logical: 0 }, peer);
  const lww = opsPerSec(() => mergeLwwMap(a, b));
  const s = orSet();
  let e = 0;
  const orAdds = opsPerSec(() => orSetAdd(s, self, `e${e++ % 1000}`));
  const other = copyOrSet(s);
  const orMerge = opsPerSec(() => orSetMerge(copyOrSet(s), other));
  return [
    ['local write (advertise a process), core step', fmt(writes / 1e3, 0)],
    [
      'delta merge (one-row delta from a peer, signature verified), core step',
      fmt(merges / 1e3, 1),
    ],
    ['delta merge, signatures not checked (the -unsafe setting)', fmt(mergesUnchecked / 1e3, 0)],
    [
      'signing our version (rows digest + Ed25519), once per send after writes',
      fmt(ownSigns / 1e3, 1),
    ],
    ['LWW map join of 1,000 entries (already merged)', fmt((lww * 1000) / 1e3, 0) + ' entries'],
    ['OR-set add (delta mutator)', fmt(orAdds / 1e3, 0)],
    ['OR-set join of two 1,000-element replicas', fmt(orMerge / 1e3, 2)],
  ];
}

function sizes(): string[][] {
  const [self, peer] = benchIds(2) as [NodeId, NodeId];
  const table40 = registryMessages(config);
  const svc = oneRowDelta(peer, 7, serviceRow(7));
  const proc = oneRowDelta(peer, 7, processRow(7));
  const packet = (deltas: Delta[]) =>
    encodeRegistryMessage(table40, { type: 'data-gossip', from: self, deltas }, 'prod-eu-1').length;
  let fit = 0;
  const many: Delta[] = [];
  for (const id of benchIds(64)) {
    const d = oneRowDelta(id, 3, processRow(3));
    if (
      many.reduce((sum, x) => sum + deltaBytes(x, config), 0) + deltaBytes(d, config) >
      config.deltaBytesMax
    )
      break;
    many.push(d);
    fit++;
  }
  const digest = encodeRegistryMessage(
    table40,
    { type: 'data-digest', from: self, reply: false, digest: '0123456789abcdef' },
    'prod-eu-1',
  ).length;
  return [
    ['one-row service delta', String(deltaBytes(svc, config)), String(packet([svc]))],
    ['one-row process delta', String(deltaBytes(proc, config)), String(packet([proc]))],
    [
      `deltas of one process row per datagram (deltaBytesMax ${config.deltaBytesMax})`,
      String(fit),
      String(packet(many)),
    ],
    ['push-pull digest (each way when replicas agree)', '—', String(digest)],
  ];
}

function stateAtScale(): string[][] {
  const rows: string[][] = [];
  for (const owners of [10, 100, 1000]) {
    const [self] = benchIds(1, 7) as [NodeId];
    const s = fresh(self);
    let bytes = 0;
    for (const owner of benchIds(owners)) {
      const rowsOf = new Map<string, Row>();
      for (let i = 1; i <= 10; i++) {
        const r = processRow(i);
        rowsOf.set(rowId(r.table, r.key), r);
      }
      const p = {
        owner,
        epoch: { wallMs: WALL, logical: 0 },
        seq: 10,
        rows: rowsOf,
        signature: 'ab'.repeat(64) as Signature,
      };
      s.partitions.set(owner, p);
      bytes += partitionBytes(p, config);
    }
    const digestRate = opsPerSec(() => digestOf(s));
    rows.push([String(owners), fmt(1e6 / digestRate, 0), fmt(bytes / 1024, 1)]);
  }
  return rows;
}

function convergence(): string[][] {
  const rows: string[][] = [];
  for (const [nodes, loss] of [
    [10, 0],
    [10, 20],
    [30, 20],
  ] as const) {
    const times: number[] = [];
    for (const seed of [1, 2, 3]) {
      const cluster = new RegistryCluster({
        nodes,
        seed,
        lossPercent: loss,
        config: {
          gossipIntervalMs: 200,
          pushPullIntervalMs: 5000,
          retransmitMult: 4,
          gossipFanout: 3,
        },
      });
      cluster.run(500);
      const start = cluster.now;
      cluster.local(0, {
        op: 'advertise-service',
        name: 'api',
        value: { address: 'h:1', tags: [], weight: 1 },
      });
      let t = 0;
      while (converged(cluster).length > 0 && t < 30_000) {
        cluster.run(50);
        t += 50;
      }
      times.push(cluster.now - start);
    }
    rows.push([String(nodes), `${loss}%`, times.map(String).join(', ')]);
  }
  return rows;
}

export async function run(): Promise<string> {
  return [
    table(['operation', 'thousands per second'], throughput()),
    '',
    table(['payload', 'delta bytes', 'datagram bytes (envelope, cluster id "prod-eu-1")'], sizes()),
    '',
    table(
      ['owners (10 process rows each)', 'digest, µs', 'full push-pull state, KiB'],
      stateAtScale(),
    ),
    '',
    table(
      ['members', 'packet loss', 'ms until every replica lists a new write (LAN profile, 3 seeds)'],
      convergence(),
    ),
    '',
    machineNote(),
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(await run());
