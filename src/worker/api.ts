/**
 * The worker API (proto/worker.proto) as TypeScript: the loaded service definition, the message
 * shapes, the mapping between assignment events and their wire form, and the one table of error
 * answers (a gRPC status code plus a stable reason word at the start of the details), shared by
 * the server and the worker so both sides read failures the same way.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type {
  AssignmentBatch,
  AssignmentEvent,
  AssignmentSnapshot,
  CurrentAssignment,
} from './core/assignments.js';
import type { CallFailure } from './core/client/types.js';

const PROTO_PATH = fileURLToPath(new URL('./proto/worker.proto', import.meta.url));

/** Largest message either side accepts, bytes: a snapshot of many assignments with 64 KiB specs. */
export const MESSAGE_BYTES_MAX = 16 * 1024 * 1024;

let loaded: grpc.ServiceClientConstructor | undefined;

/** The WorkerApi service (its definition is `.service`; it constructs clients). */
export function workerApi(): grpc.ServiceClientConstructor {
  if (loaded !== undefined) return loaded;
  const definition = protoLoader.loadSync(PROTO_PATH, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    shoal: { worker: { v1: { WorkerApi: grpc.ServiceClientConstructor } } };
  };
  loaded = pkg.shoal.worker.v1.WorkerApi;
  return loaded;
}

export interface WireAssignment {
  type: string;
  service: string;
  role: string;
  index: number;
  specJson: string;
  generation: number;
  graceMs: number;
  force: boolean;
  commandId: string;
  command: string;
}

export interface WireBatch {
  revision: number;
  events: WireAssignment[];
}

export interface WireSnapshot {
  revision: number;
  assignments: WireAssignment[];
}

export interface AssignmentMessage {
  snapshot?: WireSnapshot | null;
  batches: WireBatch[];
  afterRevision?: number;
}

export interface WireContainer {
  service: string;
  index: number;
  state: string;
  healthy: boolean;
  cpuCores: number;
  memoryBytes: number;
}

const EMPTY: WireAssignment = {
  type: '',
  service: '',
  role: '',
  index: 0,
  specJson: '',
  generation: 0,
  graceMs: 0,
  force: false,
  commandId: '',
  command: '',
};

export function toWire(e: AssignmentEvent): WireAssignment {
  switch (e.type) {
    case 'set':
      return {
        ...EMPTY,
        type: e.type,
        service: e.service,
        role: e.role,
        index: e.index,
        specJson: JSON.stringify(e.spec ?? null),
        generation: e.generation,
      };
    case 'drain':
      return {
        ...EMPTY,
        type: e.type,
        service: e.service,
        role: e.role,
        index: e.index,
        graceMs: e.graceMs,
        generation: e.generation,
      };
    case 'delete':
      return { ...EMPTY, type: e.type, service: e.service, index: e.index, force: e.force };
    case 'command':
      return {
        ...EMPTY,
        type: e.type,
        service: e.service ?? '',
        index: e.index ?? 0,
        graceMs: e.graceMs ?? 0,
        commandId: e.commandId,
        command: e.command,
      };
  }
}

/** An event from its wire form, or undefined when it is not one (a newer server's type, bad JSON). */
export function fromWire(w: WireAssignment): AssignmentEvent | undefined {
  switch (w.type) {
    case 'set': {
      let spec: unknown;
      try {
        spec = JSON.parse(w.specJson);
      } catch {
        return undefined;
      }
      return {
        type: 'set',
        service: w.service,
        role: w.role,
        index: w.index,
        spec,
        generation: w.generation,
      };
    }
    case 'drain':
      return {
        type: 'drain',
        service: w.service,
        role: w.role,
        index: w.index,
        graceMs: w.graceMs,
        generation: w.generation,
      };
    case 'delete':
      return { type: 'delete', service: w.service, index: w.index, force: w.force };
    case 'command':
      if (w.command !== 'drain' && w.command !== 'evict' && w.command !== 'restart')
        return undefined;
      return {
        type: 'command',
        commandId: w.commandId,
        command: w.command,
        ...(w.service === '' ? {} : { service: w.service, index: w.index }),
        ...(w.graceMs === 0 ? {} : { graceMs: w.graceMs }),
      };
    default:
      return undefined;
  }
}

export function batchToWire(b: AssignmentBatch): WireBatch {
  return { revision: b.revision, events: b.events.map(toWire) };
}

export function snapshotToWire(s: AssignmentSnapshot): WireSnapshot {
  return { revision: s.revision, assignments: s.assignments.map(toWire) };
}

/** Batches and snapshot from a message; events that do not decode are dropped and counted. */
export function messageFromWire(
  m: AssignmentMessage,
  counters: { bad: number },
): { snapshot?: AssignmentSnapshot; batches: AssignmentBatch[]; afterRevision?: number } {
  const decode = (list: WireAssignment[]): AssignmentEvent[] =>
    list.flatMap((w) => {
      const e = fromWire(w);
      if (e === undefined) counters.bad++;
      return e === undefined ? [] : [e];
    });
  const batches = m.batches.map((b) => ({ revision: b.revision, events: decode(b.events) }));
  const after = m.snapshot === undefined || m.snapshot === null ? (m.afterRevision ?? 0) : 0;
  const withAfter = after > 0 ? { afterRevision: after } : {};
  if (m.snapshot === undefined || m.snapshot === null) return { batches, ...withAfter };
  const assignments = decode(m.snapshot.assignments).filter(
    (e): e is CurrentAssignment => e.type === 'set' || e.type === 'drain',
  );
  return { snapshot: { revision: m.snapshot.revision, assignments }, batches };
}

/** The reasons a server answers with, each with its status code. */
export const FAILURES = {
  'no-leader': grpc.status.FAILED_PRECONDITION,
  'unknown-worker': grpc.status.NOT_FOUND,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  compacted: grpc.status.OUT_OF_RANGE,
  refused: grpc.status.PERMISSION_DENIED,
  limit: grpc.status.RESOURCE_EXHAUSTED,
  'bad-request': grpc.status.INVALID_ARGUMENT,
  /** Too many registrations in flight here: the worker backs off and tries the next server. */
  busy: grpc.status.UNAVAILABLE,
} as const;
export type FailureReason = keyof typeof FAILURES;

/** A server error: the status for `reason`, and details starting with the reason word. */
export function failure(reason: FailureReason, detail: string): Partial<grpc.StatusObject> {
  return { code: FAILURES[reason], details: `${reason}: ${detail}` };
}

/** How the worker client reads a failed call. */
export function callFailureOf(err: { code?: number; details?: string }): CallFailure {
  const details = err.details ?? '';
  const word = details.slice(0, details.indexOf(':'));
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return { kind: 'timeout' };
    case grpc.status.FAILED_PRECONDITION:
      return { kind: 'no-leader' };
    case grpc.status.NOT_FOUND:
      return { kind: 'unknown-worker' };
    case grpc.status.UNAUTHENTICATED:
      return { kind: 'unauthenticated' };
    case grpc.status.OUT_OF_RANGE:
      return { kind: 'compacted' };
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.INVALID_ARGUMENT:
      return {
        kind: 'refused',
        reason: word === 'refused' ? details.slice(word.length + 2) : details,
      };
    default:
      return { kind: 'unavailable' };
  }
}
