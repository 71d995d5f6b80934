/**
 * Local writes: validation and normalization of what a node advertises (the API layer calls
 * `checkLocalOp` and throws ERR_INVALID_ARGUMENT with its sentence before stepping the core; the
 * core checks again and counts a refusal, so a bad write never changes state either way).
 * Normalized: tags and capabilities become sorted sets (their wire form is canonical), a load is
 * kept to millionths.
 */
import { utf8Bytes } from '../../base/utf8.js';
import { LOAD_SCALE, PROCESS_LOAD_MAX, rowBytes, SERVICE_WEIGHT_MAX } from './codec.js';
import type { LocalOp, ProcessValue, RegistryState, Row, ServiceValue } from './types.js';
import { rowId } from './types.js';

const sortedSet = (items: readonly string[]): string[] => [...new Set(items)].sort();

export function normalizeService(value: ServiceValue): ServiceValue {
  return { address: value.address, tags: sortedSet(value.tags), weight: value.weight };
}

export function normalizeProcess(value: ProcessValue): ProcessValue {
  return {
    type: value.type,
    capabilities: sortedSet(value.capabilities),
    status: value.status,
    load: Math.round(value.load * LOAD_SCALE) / LOAD_SCALE,
  };
}

function checkField(state: RegistryState, what: string, text: unknown): string | undefined {
  if (typeof text !== 'string') return `${what} must be a string`;
  const bytes = utf8Bytes(text);
  if (bytes > state.config.fieldBytesMax)
    return `${what} of ${bytes} bytes exceeds fieldBytesMax (${state.config.fieldBytesMax})`;
  return undefined;
}

function checkList(state: RegistryState, what: string, items: unknown): string | undefined {
  if (!Array.isArray(items)) return `${what} must be an array of strings`;
  const unique = new Set(items as unknown[]);
  if (unique.size > state.config.listItemsMax)
    return `${what}: ${unique.size} items exceed listItemsMax (${state.config.listItemsMax})`;
  for (const item of unique) {
    const bad = checkField(state, `an item of ${what}`, item);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function checkValue(state: RegistryState, op: LocalOp): string | undefined {
  switch (op.op) {
    case 'advertise-service': {
      const v = op.value;
      const w = v.weight;
      if (!Number.isSafeInteger(w) || w < 0 || w > SERVICE_WEIGHT_MAX)
        return `service weight (${w}) must be an integer in [0, ${SERVICE_WEIGHT_MAX}]`;
      return (
        checkField(state, 'service name', op.name) ??
        checkField(state, 'service address', v.address) ??
        checkList(state, 'service tags', v.tags)
      );
    }
    case 'advertise-process': {
      const v = op.value;
      if (
        typeof v.load !== 'number' ||
        !Number.isFinite(v.load) ||
        v.load < 0 ||
        v.load > PROCESS_LOAD_MAX
      )
        return `process load (${v.load}) must be a finite number in [0, ${PROCESS_LOAD_MAX}]`;
      return (
        checkField(state, 'process pid', op.pid) ??
        checkField(state, 'process type', v.type) ??
        checkField(state, 'process status', v.status) ??
        checkList(state, 'process capabilities', v.capabilities)
      );
    }
    case 'withdraw':
      return checkField(state, 'key', op.key);
  }
}

/** The row a write would store (normalized), stamped later; undefined for a withdrawal. */
export function rowOf(op: LocalOp, seq: number, stamp: Row['stamp']): Row | undefined {
  switch (op.op) {
    case 'advertise-service':
      return { table: 'service', key: op.name, seq, stamp, value: normalizeService(op.value) };
    case 'advertise-process':
      return { table: 'process', key: op.pid, seq, stamp, value: normalizeProcess(op.value) };
    case 'withdraw':
      return undefined;
  }
}

/** Why a local write is refused (a sentence for ERR_INVALID_ARGUMENT), or undefined when it is fine. */
export function checkLocalOp(state: RegistryState, op: LocalOp): string | undefined {
  const bad = checkValue(state, op);
  if (bad !== undefined) return bad;
  const row = rowOf(op, 1, { wallMs: 0, logical: 0 });
  if (row === undefined) return undefined;
  const bytes = rowBytes(
    {
      ...row,
      seq: Number.MAX_SAFE_INTEGER,
      stamp: { wallMs: Number.MAX_SAFE_INTEGER, logical: 0xffff },
    },
    state.config,
  );
  if (bytes > state.config.rowBytesMax)
    return `${row.table} ${JSON.stringify(row.key)} encodes to ${bytes} bytes, over rowBytesMax (${state.config.rowBytesMax})`;
  const own = state.partitions.get(state.selfId);
  if (
    own !== undefined &&
    !own.rows.has(rowId(row.table, row.key)) &&
    own.rows.size >= state.config.rowsPerNodeMax
  )
    return `this node already advertises rowsPerNodeMax (${state.config.rowsPerNodeMax}) rows`;
  return undefined;
}
