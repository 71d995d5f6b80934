/**
 * The values the worker tier keeps under its reserved prefix (layout.ts), as JSON, with one
 * decoder each. A value that does not parse is never trusted and never throws: it decodes to
 * undefined and the caller counts it (`badRecords`), so a corrupt or foreign value cannot crash
 * a server or a worker. Encoders are canonical (fixed field order), so equal records have equal
 * bytes and a txn may compare on a value.
 */
import { z } from 'zod';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Longest service spec, bytes of JSON: it travels in every assignment of the service. */
export const SPEC_BYTES_MAX = 64 * 1024;

const id = z.string().regex(/^[0-9a-f]{32}$/);
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
const labels = z.record(z.string().max(63), z.string().max(63));
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const WORKER_STATUSES = ['registered', 'down', 'drained', 'revoked'] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

const workerRecord = z
  .object({
    id,
    name: z.string().max(128),
    labels,
    status: z.enum(WORKER_STATUSES),
    /** Why the status last changed (`registered`, `heartbeat timeout`, `drain by user`, ...). */
    reason: z.string().max(256),
    /** The serial (hex) of the one certificate this worker may use; a renewal replaces it. */
    certSerial: z.string().regex(/^[0-9a-f]{1,40}$/),
    certNotAfterMs: count,
    tokenId: z.string().regex(/^[0-9a-f]{32}$/),
    /** Wall-clock ms of the registration and of the last status change. */
    registeredAtMs: count,
    changedAtMs: count,
  })
  .strict();
export type WorkerRecord = z.infer<typeof workerRecord>;

const tokenUse = z
  .object({ lastWorkerId: id, maxUses: count, expiresAtMs: count, atMs: count })
  .strict();
export type TokenUse = z.infer<typeof tokenUse>;

const serverRecord = z
  .object({ id, name: z.string().max(128), workerListen: z.string().max(255), caPin: z.string() })
  .strict();
export type ServerRecord = z.infer<typeof serverRecord>;

const placement = z
  .object({
    /** Only nodes whose labels include all of these. */
    labels: labels.optional(),
    /** Whether servers may run replicas. @defaultValue true */
    servers: z.boolean().optional(),
  })
  .strict();
export type Placement = z.infer<typeof placement>;

const serviceRecord = z
  .object({
    service: name,
    replicas: z.number().int().min(0).max(10_000),
    roles: z.array(name).max(16),
    spec: z.unknown(),
    placement,
    /** Bumped on every scale: an assignment carries the generation of the spec it runs. */
    generation: count,
  })
  .strict();
export type ServiceRecord = z.infer<typeof serviceRecord>;

const assignmentValue = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('set'),
      service: name,
      role: name,
      index: count,
      spec: z.unknown(),
      generation: count,
    })
    .strict(),
  z
    .object({
      op: z.literal('drain'),
      service: name,
      role: name,
      index: count,
      graceMs: count,
      generation: count,
    })
    .strict(),
  z.object({ op: z.literal('delete'), service: name, index: count, force: z.boolean() }).strict(),
]);
export type AssignmentValue = z.infer<typeof assignmentValue>;

const commandValue = z
  .object({
    command: z.enum(['drain', 'evict', 'restart']),
    service: name.optional(),
    index: count.optional(),
    graceMs: count.optional(),
  })
  .strict();
export type CommandValue = z.infer<typeof commandValue>;

export const CONTAINER_STATES = ['starting', 'running', 'stopping', 'stopped', 'failed'] as const;
const container = z
  .object({ service: name, index: count, state: z.enum(CONTAINER_STATES), healthy: z.boolean() })
  .strict();
export type ContainerStatus = z.infer<typeof container>;

const statusRecord = z
  .object({
    nodeId: id,
    /** The assignment revision the node had applied when it reported. */
    revision: count,
    containers: z.array(container).max(10_000),
    atMs: count,
  })
  .strict();
export type StatusRecord = z.infer<typeof statusRecord>;

function codec<T>(schema: z.ZodType<T>): {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T | undefined;
} {
  return {
    encode: (value) => encoder.encode(JSON.stringify(schema.parse(value))),
    decode: (bytes) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(bytes));
      } catch {
        return undefined;
      }
      const result = schema.safeParse(parsed);
      return result.success ? result.data : undefined;
    },
  };
}

export const records = {
  worker: codec(workerRecord),
  tokenUse: codec(tokenUse),
  server: codec(serverRecord),
  service: codec(serviceRecord),
  assignment: codec(assignmentValue),
  command: codec(commandValue),
  status: codec(statusRecord),
};

/** Bytes of a spec as JSON, for the SPEC_BYTES_MAX check; undefined when it is not JSON. */
export function specBytes(spec: unknown): number | undefined {
  try {
    const text = JSON.stringify(spec);
    return text === undefined ? undefined : encoder.encode(text).length;
  } catch {
    return undefined;
  }
}
