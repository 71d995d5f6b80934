/**
 * Reads of the replicated registry (INTERFACE.md, "Data plane"): the service list and resolver,
 * the process table's finders and the least-loaded node. Only rows of live owners are ever
 * returned (self, and members membership reports alive or suspect): an instance on a dead or
 * left node is never listed or resolved, even before its partition is withdrawn.
 */
import type { NodeId } from '../../identity/node-id.js';
import { compareNodeId } from '../../identity/node-id.js';
import type { ProcessValue, RegistryState, Row, ServiceValue } from './types.js';

export interface ServiceInstance {
  name: string;
  node: NodeId;
  address: string;
  tags: string[];
  weight: number;
}

export interface ProcessRow extends ProcessValue {
  pid: string;
  node: NodeId;
}

function isLive(state: RegistryState, node: NodeId): boolean {
  return node === state.selfId || state.live.has(node);
}

function* liveRows(state: RegistryState, table: Row['table']): Generator<[NodeId, Row]> {
  for (const p of state.partitions.values()) {
    if (!isLive(state, p.owner)) continue;
    for (const row of p.rows.values()) if (row.table === table) yield [p.owner, row];
  }
}

/** Live instances of `name` (every name when omitted), ordered by name then node. */
export function listServices(state: RegistryState, name?: string): ServiceInstance[] {
  const out: ServiceInstance[] = [];
  for (const [node, row] of liveRows(state, 'service')) {
    if (name !== undefined && row.key !== name) continue;
    const v = row.value as ServiceValue;
    out.push({ name: row.key, node, address: v.address, tags: [...v.tags], weight: v.weight });
  }
  return out.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : compareNodeId(a.node, b.node),
  );
}

/**
 * Picks one instance: the preferred node's when it is live and has one (whatever its weight),
 * else weighted round-robin over the live instances of weight > 0, by `turn` (the resolver's
 * counter for this name: turn t picks the instance whose cumulative weight range holds t mod the
 * total, so over `total` turns each instance is picked `weight` times).
 */
export function pickInstance(
  instances: readonly ServiceInstance[],
  prefer: NodeId | undefined,
  turn: number,
): ServiceInstance | undefined {
  if (prefer !== undefined) {
    const preferred = instances.find((i) => i.node === prefer);
    if (preferred !== undefined) return preferred;
  }
  const total = instances.reduce((sum, i) => sum + i.weight, 0);
  if (total === 0) return undefined;
  let at = turn % total;
  for (const i of instances) {
    if (at < i.weight) return i;
    at -= i.weight;
  }
  return undefined;
}

/** Weighted round-robin resolution with one turn counter per name (bounded: `namesMax`). */
export class ServiceResolver {
  private readonly turns = new Map<string, number>();

  constructor(private readonly namesMax = 10_000) {}

  resolve(state: RegistryState, name: string, prefer?: NodeId): ServiceInstance | undefined {
    const turn = this.turns.get(name) ?? 0;
    const picked = pickInstance(listServices(state, name), prefer, turn);
    if (picked !== undefined && picked.node !== prefer) {
      this.turns.delete(name);
      if (this.turns.size >= this.namesMax)
        this.turns.delete(this.turns.keys().next().value as string);
      this.turns.set(name, (turn + 1) % Number.MAX_SAFE_INTEGER);
    }
    return picked;
  }
}

/** Live process rows, ordered by node then pid. */
export function listProcesses(
  state: RegistryState,
  filter: { type?: string; capability?: string } = {},
): ProcessRow[] {
  const out: ProcessRow[] = [];
  for (const [node, row] of liveRows(state, 'process')) {
    const v = row.value as ProcessValue;
    if (filter.type !== undefined && v.type !== filter.type) continue;
    if (filter.capability !== undefined && !v.capabilities.includes(filter.capability)) continue;
    out.push({ pid: row.key, node, ...v, capabilities: [...v.capabilities] });
  }
  return out.sort(
    (a, b) => compareNodeId(a.node, b.node) || (a.pid < b.pid ? -1 : a.pid > b.pid ? 1 : 0),
  );
}

export const findByType = (state: RegistryState, type: string): ProcessRow[] =>
  listProcesses(state, { type });
export const findByCapability = (state: RegistryState, capability: string): ProcessRow[] =>
  listProcesses(state, { capability });

/**
 * The live node, among those running a matching process (status `running`), whose processes'
 * loads sum lowest (a node's load is every process it advertises, matching or not); ties go to
 * the smaller NodeId so every member answers the same.
 */
export function leastLoadedNode(
  state: RegistryState,
  filter: { type?: string; capability?: string } = {},
): NodeId | undefined {
  const candidates = new Set(
    listProcesses(state, filter)
      .filter((p) => p.status === 'running')
      .map((p) => p.node),
  );
  const load = new Map<NodeId, number>();
  for (const p of listProcesses(state)) load.set(p.node, (load.get(p.node) ?? 0) + p.load);
  let best: NodeId | undefined;
  for (const node of candidates) {
    const mine = load.get(node) ?? 0;
    const theirs = best === undefined ? Infinity : (load.get(best) ?? 0);
    if (mine < theirs || (mine === theirs && compareNodeId(node, best as NodeId) < 0)) best = node;
  }
  return best;
}
