/**
 * Scale fan-out as store writes (docs/design/worker-tier.md, "Scale"): `planScale` compares a
 * service's desired state with its assignments in the store and returns the puts that move one
 * to the other. Every node placed gets a `set` carrying the FULL spec (never a reference to a
 * cached one); a node that loses an index gets a tombstone (`delete`, forced when the node is
 * down or revoked, graceful on scale-down) or a `drain` with grace when it was drained; indices
 * above the new replica count are deleted, so de-assigned nodes scale to zero. `serviceState`
 * aggregates per-node status reports into one cluster-wide view.
 *
 * Puts are grouped in txns of at most SCALE_TXN_OPS_MAX operations (etcd's txnOpsMax is 128).
 */
import type { TxnRequest } from '../../kv/types.js';
import { keys } from './layout.js';
import { place, type Candidate } from './placement.js';
import {
  records,
  type AssignmentValue,
  type ContainerStatus,
  type ServiceRecord,
  type StatusRecord,
  type WorkerStatus,
} from './records.js';

export const SCALE_TXN_OPS_MAX = 64;

/** One live assignment of the service (op set or drain), as stored. */
export interface StoredAssignment {
  readonly nodeId: string;
  readonly index: number;
  readonly value: AssignmentValue;
}

export interface ScalePlanInput {
  readonly service: ServiceRecord;
  readonly current: readonly StoredAssignment[];
  readonly candidates: readonly Candidate[];
  /** Status of worker nodes by id (servers are absent): decides forced delete vs drain. */
  readonly workerStatus: ReadonlyMap<string, WorkerStatus>;
  readonly drainGraceMs: number;
}

export interface Put {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

function roleOf(service: ServiceRecord, index: number): string {
  const roles = service.roles.length === 0 ? ['replica'] : service.roles;
  return roles[Math.min(index, roles.length - 1)] as string;
}

function set(service: ServiceRecord, nodeId: string, index: number): Put {
  const value: AssignmentValue = {
    op: 'set',
    service: service.service,
    role: roleOf(service, index),
    index,
    spec: service.spec,
    generation: service.generation,
  };
  return {
    key: keys.assignment(nodeId, service.service, index),
    value: records.assignment.encode(value),
  };
}

function release(input: ScalePlanInput, a: StoredAssignment, scaledDown: boolean): Put {
  const status = input.workerStatus.get(a.nodeId);
  const key = keys.assignment(a.nodeId, a.value.service, a.index);
  const value: AssignmentValue =
    status === 'drained' && !scaledDown && a.value.op === 'set'
      ? {
          op: 'drain',
          service: a.value.service,
          role: a.value.role,
          index: a.index,
          graceMs: input.drainGraceMs,
          generation: a.value.generation,
        }
      : {
          op: 'delete',
          service: a.value.service,
          index: a.index,
          force: status === 'down' || status === 'revoked',
        };
  return { key, value: records.assignment.encode(value) };
}

/** The puts that bring the service's assignments to its desired state (empty when they are there). */
export function planScale(input: ScalePlanInput): Put[] {
  const { service } = input;
  const byIndex = new Map<number, StoredAssignment[]>();
  for (const a of input.current) {
    const list = byIndex.get(a.index) ?? [];
    list.push(a);
    byIndex.set(a.index, list);
  }
  const running = new Map<number, string>();
  for (const [index, list] of byIndex) {
    const live = list.find((a) => a.value.op === 'set');
    if (live !== undefined) running.set(index, live.nodeId);
  }
  const target = place({
    service: service.service,
    replicas: service.replicas,
    candidates: input.candidates,
    ...(service.placement.labels === undefined ? {} : { labels: service.placement.labels }),
    ...(service.placement.servers === undefined ? {} : { servers: service.placement.servers }),
    current: running,
  });
  const puts: Put[] = [];
  for (const [index, list] of byIndex) {
    const node = index < service.replicas ? target[index] : undefined;
    for (const a of list) {
      if (a.nodeId === node) {
        const current = a.value.op === 'set' && a.value.generation === service.generation;
        if (!current) puts.push(set(service, a.nodeId, index));
      } else if (a.value.op === 'set' || (a.value.op === 'drain' && index >= service.replicas))
        puts.push(release(input, a, index >= service.replicas));
    }
  }
  for (let index = 0; index < service.replicas; index++) {
    const node = target[index];
    if (node !== undefined && !(byIndex.get(index) ?? []).some((a) => a.nodeId === node))
      puts.push(set(service, node, index));
  }
  return puts;
}

/** Puts grouped into txns of at most SCALE_TXN_OPS_MAX operations. */
export function scaleTxns(puts: readonly Put[]): TxnRequest[] {
  const txns: TxnRequest[] = [];
  for (let i = 0; i < puts.length; i += SCALE_TXN_OPS_MAX)
    txns.push({
      compare: [],
      success: puts
        .slice(i, i + SCALE_TXN_OPS_MAX)
        .map((p) => ({ kind: 'put' as const, request: p })),
      failure: [],
    });
  return txns;
}

/** The cluster-wide view of one service (`node.workers.state(service)`). */
export interface ServiceState {
  service: string;
  /** Desired replicas (0 when the service is unknown). */
  replicas: number;
  generation: number;
  /** Indices with a node assigned. */
  placed: number;
  /** Placed replicas whose node reported them running (at this generation or any). */
  running: number;
  healthy: number;
  /** Placed replicas whose node has not reported them yet: pending, not failed. */
  pending: number;
  nodes: { nodeId: string; indices: number[]; containers: ContainerStatus[] }[];
}

export function serviceState(
  name: string,
  service: ServiceRecord | undefined,
  current: readonly StoredAssignment[],
  statuses: ReadonlyMap<string, StatusRecord>,
): ServiceState {
  const state: ServiceState = {
    service: name,
    replicas: service?.replicas ?? 0,
    generation: service?.generation ?? 0,
    placed: 0,
    running: 0,
    healthy: 0,
    pending: 0,
    nodes: [],
  };
  const perNode = new Map<string, number[]>();
  for (const a of current) {
    if (a.value.op !== 'set' || a.index >= state.replicas) continue;
    state.placed++;
    perNode.set(a.nodeId, [...(perNode.get(a.nodeId) ?? []), a.index]);
    const container = statuses
      .get(a.nodeId)
      ?.containers.find((c) => c.service === name && c.index === a.index);
    if (container === undefined) state.pending++;
    else if (container.state === 'running') {
      state.running++;
      if (container.healthy) state.healthy++;
    }
  }
  for (const [nodeId, indices] of [...perNode].sort(([a], [b]) => (a < b ? -1 : 1)))
    state.nodes.push({
      nodeId,
      indices: indices.sort((x, y) => x - y),
      containers: (statuses.get(nodeId)?.containers ?? []).filter((c) => c.service === name),
    });
  return state;
}
