/**
 * The data plane's cluster checkers (issue 16), over any set of registry replicas: the
 * `registry*` scenarios' nodes (built by buildNode, the production wiring) and the pure-core
 * cluster of src/sim/registry-cluster.ts both hand them `RegistryReplica`s.
 *
 * - `listed-only-live`: a replica never lists (so never resolves) an instance or a process of a
 *   node its own membership holds dead or left (queries.ts filters by the view; slack: the one
 *   clock turn the view takes to reach the registry).
 * - `departed-withdrawn`: a replica holds no rows of a node its membership has held dead for
 *   longer than `withdrawDelayMs` (left: at once), whatever laggards keep sending.
 * - `rows-only-from-their-owner`: every partition version a replica holds is one its owner held,
 *   with exactly those rows (OwnerVersions records each node's own versions after every event):
 *   a forged or altered row shows as a version its owner never had.
 * - `converged` (liveness, after the heal): every replica lists exactly the rows the live nodes
 *   advertise now: nothing missing, nothing withdrawn come back, nothing of a departed node.
 */
import type { NodeId } from '../../identity/node-id.js';
import { listProcesses, listServices } from '../../crdt/registry/queries.js';
import type { Partition, RegistryState, Row } from '../../crdt/registry/types.js';

export type MemberWord = 'joining' | 'alive' | 'suspect' | 'dead' | 'left';

/** One node's registry as the checkers read it. */
export interface RegistryReplica {
  readonly name: string;
  readonly state: RegistryState;
  /** What this replica's membership says of `id`, and for how long (its own clock); undefined when it holds nothing. */
  member(id: NodeId): { state: MemberWord; forMs: number } | undefined;
}

const departed = (word: MemberWord | undefined): boolean => word === 'dead' || word === 'left';

/** A violation, and what it is about (a replica and a node), to tell a lasting one from a passing one. */
export interface Finding {
  readonly key: string;
  readonly message: string;
}

/**
 * The findings of `check` that were also found by its previous call: a node whose clock was just
 * stepped forward runs its overdue timers (a due withdrawal) in the events right after the step,
 * so a finding at the step itself is not yet a violation; one that lasts to the next scan is.
 */
export function lasting(check: () => Finding[]): () => string[] {
  let before = new Set<string>();
  return () => {
    const found = check();
    const out = found.filter((f) => before.has(f.key)).map((f) => f.message);
    before = new Set(found.map((f) => f.key));
    return out;
  };
}

/** The rows a replica lists, as one comparable string (services, then processes). */
export function listedRows(state: RegistryState): string {
  return JSON.stringify([listServices(state), listProcesses(state)]);
}

/** Instances and processes listed of nodes the replica's view holds departed for over `slackMs`. */
export function listedDeparted(replicas: readonly RegistryReplica[], slackMs: number): Finding[] {
  const out: Finding[] = [];
  for (const r of replicas) {
    const nodes = new Set<NodeId>();
    for (const s of listServices(r.state)) nodes.add(s.node);
    for (const p of listProcesses(r.state)) nodes.add(p.node);
    for (const node of nodes) {
      const m = r.member(node);
      if (m !== undefined && departed(m.state) && m.forMs > slackMs)
        out.push({
          key: `${r.name}/${node}`,
          message: `${r.name} lists rows of ${node.slice(0, 8)}, ${m.state} to it for ${m.forMs} ms`,
        });
    }
  }
  return out;
}

/** Rows held of nodes the replica's view holds dead past `withdrawDelayMs` (left: past 0), plus `slackMs`. */
export function heldPastWithdrawal(
  replicas: readonly RegistryReplica[],
  withdrawDelayMs: number,
  slackMs: number,
): Finding[] {
  const out: Finding[] = [];
  for (const r of replicas)
    for (const p of r.state.partitions.values()) {
      if (p.owner === r.state.selfId || p.rows.size === 0) continue;
      const m = r.member(p.owner);
      if (m === undefined || !departed(m.state)) continue;
      const boundMs = (m.state === 'left' ? 0 : withdrawDelayMs) + slackMs;
      if (m.forMs > boundMs)
        out.push({
          key: `${r.name}/${p.owner}`,
          message: `${r.name} still holds ${p.rows.size} rows of ${p.owner.slice(0, 8)}, ${m.state} to it for ${m.forMs} ms (bound ${boundMs} ms)`,
        });
    }
  return out;
}

const rowsKey = (rows: ReadonlyMap<string, Row>): string =>
  JSON.stringify([...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const versionKey = (p: Pick<Partition, 'epoch' | 'seq'>): string =>
  `${p.epoch.wallMs}.${p.epoch.logical}/${p.seq}`;

/**
 * The truth of `rows-only-from-their-owner`: every version each node's own partition went
 * through, with its rows. `record` after every event (cheap: a node's version changes only when
 * it writes or restamps); `check` compares what replicas hold, each (replica, owner, version)
 * once.
 */
export class OwnerVersions {
  private readonly versions = new Map<NodeId, Map<string, string>>();
  private readonly lastSeen = new Map<NodeId, string>();
  private readonly checked = new Set<string>();

  record(own: Partition): void {
    const key = versionKey(own);
    if (this.lastSeen.get(own.owner) === key) return;
    this.lastSeen.set(own.owner, key);
    let mine = this.versions.get(own.owner);
    if (mine === undefined) this.versions.set(own.owner, (mine = new Map()));
    if (!mine.has(key)) mine.set(key, rowsKey(own.rows));
  }

  check(replicas: readonly RegistryReplica[]): string[] {
    const out: string[] = [];
    for (const r of replicas)
      for (const p of r.state.partitions.values()) {
        if (p.owner === r.state.selfId) continue;
        const seen = `${r.name}/${p.owner}/${versionKey(p)}`;
        if (this.checked.has(seen)) continue;
        const truth = this.versions.get(p.owner)?.get(versionKey(p));
        if (truth === undefined)
          out.push(
            `${r.name} holds version ${versionKey(p)} of ${p.owner.slice(0, 8)}, which that node never had`,
          );
        else if (truth !== rowsKey(p.rows))
          out.push(
            `${r.name} holds version ${versionKey(p)} of ${p.owner.slice(0, 8)} with rows its owner never had there`,
          );
        else this.checked.add(seen);
      }
    return out;
  }
}

/**
 * Liveness: every replica lists exactly the rows of `owners` (each live node's own partition),
 * or the first difference found.
 */
export function convergedTo(
  replicas: readonly RegistryReplica[],
  owners: readonly Partition[],
): string | undefined {
  const expected = new Map<NodeId, Partition>(owners.map((p) => [p.owner, p]));
  for (const r of replicas) {
    const listed = new Map<NodeId, number>();
    for (const s of listServices(r.state)) listed.set(s.node, (listed.get(s.node) ?? 0) + 1);
    for (const p of listProcesses(r.state)) listed.set(p.node, (listed.get(p.node) ?? 0) + 1);
    for (const [node, count] of listed)
      if (!expected.has(node))
        return `${r.name} lists ${count} rows of ${node.slice(0, 8)}, which is not up`;
    for (const own of expected.values()) {
      if (own.owner === r.state.selfId) continue;
      const held = r.state.partitions.get(own.owner);
      if ((held === undefined ? 0 : held.rows.size) === 0 && own.rows.size === 0) continue;
      if (held === undefined || rowsKey(held.rows) !== rowsKey(own.rows))
        return `${r.name} does not hold ${own.owner.slice(0, 8)}'s rows as it advertises them (version ${versionKey(own)}, holds ${held === undefined ? 'none' : versionKey(held)})`;
      if ((listed.get(own.owner) ?? 0) !== own.rows.size)
        return `${r.name} lists ${listed.get(own.owner) ?? 0} of ${own.rows.size} rows of ${own.owner.slice(0, 8)}`;
    }
  }
  return undefined;
}
