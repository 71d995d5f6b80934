/**
 * Keys moved when one of N members leaves or one joins (issue 16), against the ideal 1/N (resp.
 * 1/(N+1)), for ring (128 virtual nodes), rendezvous and jump; and the balance of keys over
 * members (the largest member's share over the mean). Primary owner only, 100,000 keys.
 *
 * `npx tsx bench/placement-movement.ts` prints a markdown table; `run()` returns it.
 */
import type { NodeId } from '../src/identity/node-id.js';
import { placementConfig, type PlacementStrategy } from '../src/placement/config.js';
import { PlacementTable } from '../src/placement/table.js';
import { fmt, isMain, table } from './lib-report.js';
import { benchIds } from './placement-lookup.js';

const KEY_COUNT = 100_000;
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => `obj/${i}`);

export interface MovementRow {
  members: number;
  strategy: PlacementStrategy;
  leaveMovedPercent: number;
  joinMovedPercent: number;
  maxOverMean: number;
}

function primaries(t: PlacementTable, strategy: PlacementStrategy): (NodeId | undefined)[] {
  return KEYS.map((k) => t.owners(k, { strategy })[0]);
}

function movedPercent(
  a: readonly (NodeId | undefined)[],
  b: readonly (NodeId | undefined)[],
): number {
  let moved = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) moved++;
  return (100 * moved) / a.length;
}

export function measure(sizes: readonly number[] = [10, 50, 200]): MovementRow[] {
  const rows: MovementRow[] = [];
  for (const n of sizes) {
    const ids = benchIds(n);
    const joiner = benchIds(1, 99)[0] as NodeId;
    for (const strategy of ['ring', 'rendezvous', 'jump'] as PlacementStrategy[]) {
      const t = new PlacementTable(placementConfig());
      t.setMembers(ids);
      const before = primaries(t, strategy);
      const counts = new Map<NodeId | undefined, number>();
      for (const owner of before) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      const maxOverMean = Math.max(...counts.values()) / (KEY_COUNT / n);
      // The member that leaves is the median id, so jump's renumbering shows (not the last one).
      const leaver = [...ids].sort()[Math.floor(n / 2)];
      t.setMembers(ids.filter((id) => id !== leaver));
      const afterLeave = primaries(t, strategy);
      t.setMembers([...ids, joiner]);
      const afterJoin = primaries(t, strategy);
      rows.push({
        members: n,
        strategy,
        leaveMovedPercent: movedPercent(before, afterLeave),
        joinMovedPercent: movedPercent(before, afterJoin),
        maxOverMean,
      });
    }
  }
  return rows;
}

export async function run(): Promise<string> {
  const rows = measure().map((r) => [
    String(r.members),
    r.strategy,
    `${fmt(r.leaveMovedPercent, 2)}% (ideal ${fmt(100 / r.members, 2)}%)`,
    `${fmt(r.joinMovedPercent, 2)}% (ideal ${fmt(100 / (r.members + 1), 2)}%)`,
    fmt(r.maxOverMean, 2),
  ]);
  return table(
    [
      'members',
      'strategy',
      'keys moved, one leaves',
      'keys moved, one joins',
      'largest share ÷ mean',
    ],
    rows,
  );
}

if (isMain(import.meta.url)) console.log(await run());
