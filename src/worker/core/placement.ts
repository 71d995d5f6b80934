/**
 * Placement for scale fan-out (docs/design/worker-tier.md, "Scale"): which node runs each
 * replica index of a service. Deterministic (every server computes the same answer from the same
 * store), stable (a replica stays where it is while its node is eligible and not over its share),
 * spread (no node holds more than ceil(replicas / eligible) of one service) and never all on the
 * leader: among nodes with equally few replicas the leader comes last, so one replica goes to
 * another node whenever one is eligible. Ties are broken by a rendezvous hash of (service, index,
 * node), so a new replica does not always land on the same node.
 */

export interface Candidate {
  readonly id: string;
  readonly kind: 'server' | 'worker';
  readonly labels: Readonly<Record<string, string>>;
  readonly leader: boolean;
}

export interface PlacementRequest {
  readonly service: string;
  readonly replicas: number;
  /** Nodes that may run replicas: live servers and registered (not drained, down or revoked) workers. */
  readonly candidates: readonly Candidate[];
  /** Only nodes with all these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Whether servers may run replicas. @defaultValue true */
  readonly servers?: boolean;
  /** Where each index runs now (index -> node id). */
  readonly current: ReadonlyMap<number, string>;
}

/** FNV-1a 32-bit: a stable hash for rendezvous tie-breaks (not for security). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  return false;
}

export function eligible(request: PlacementRequest): Candidate[] {
  const want = Object.entries(request.labels ?? {});
  return request.candidates
    .filter((c) => request.servers !== false || c.kind === 'worker')
    .filter((c) => want.every(([k, v]) => c.labels[k] === v));
}

/** The node of every index in 0..replicas-1, or undefined where no node is eligible. */
export function place(request: PlacementRequest): (string | undefined)[] {
  const nodes = eligible(request);
  const out: (string | undefined)[] = new Array<string | undefined>(request.replicas).fill(
    undefined,
  );
  if (nodes.length === 0) return out;
  const share = Math.ceil(request.replicas / nodes.length);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const load = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  // Keep what may stay, lowest index first, up to each node's share.
  for (let index = 0; index < request.replicas; index++) {
    const at = request.current.get(index);
    if (at === undefined || !byId.has(at) || (load.get(at) as number) >= share) continue;
    out[index] = at;
    load.set(at, (load.get(at) as number) + 1);
  }
  for (let index = 0; index < request.replicas; index++) {
    if (out[index] !== undefined) continue;
    let best: Candidate | undefined;
    let bestKey: [number, number, number] | undefined;
    for (const node of nodes) {
      const key: [number, number, number] = [
        load.get(node.id) as number,
        node.leader ? 1 : 0,
        -hash(`${request.service}/${index}/${node.id}`),
      ];
      if (bestKey === undefined || lexLess(key, bestKey)) {
        best = node;
        bestKey = key;
      }
    }
    const chosen = best as Candidate;
    out[index] = chosen.id;
    load.set(chosen.id, (load.get(chosen.id) as number) + 1);
  }
  avoidAllOnLeader(request.service, nodes, out);
  return out;
}

/** Kept replicas may all sit on the leader (a worker joined since): move the last one off it. */
function avoidAllOnLeader(
  service: string,
  nodes: readonly Candidate[],
  out: (string | undefined)[],
): void {
  const leader = nodes.find((n) => n.leader);
  const others = nodes.filter((n) => !n.leader);
  if (leader === undefined || others.length === 0 || out.length === 0) return;
  if (!out.every((id) => id === leader.id)) return;
  const index = out.length - 1;
  const target = others.reduce((a, b) =>
    hash(`${service}/${index}/${a.id}`) >= hash(`${service}/${index}/${b.id}`) ? a : b,
  );
  out[index] = target.id;
}
