/**
 * The sequential specification of Shoal's key-value store, with etcd v3's semantics
 * (INTERFACE.md, "Replicated store"), for the linearizability checker.
 *
 * Operations: get, put, delete, and compare-and-swap (a txn on one key whose compare is the
 * value or the modRevision, etcd's `mod_revision = 0` meaning "absent", and whose success branch
 * is a put or a delete). Every operation touches one key, so the history is checked key by key
 * (P-compositionality): the per-key state is the value and the revision of the key's last change.
 *
 * Revisions, when the history records them: etcd's revision is one counter for the whole store,
 * raised by every change. Per key that means a change's revision is above the key's previous
 * change, a get's modRevision is the revision of the put it reads, and a failed compare of an
 * absent key sees modRevision 0. A change whose revision nobody saw (a put that timed out) leaves
 * the revision known only from below ("at least n"); the first observation pins it. The order of
 * revisions across keys is not a per-key fact: crossCheck checks what it can of it (no revision
 * given to two changes; a change that returned before another was called has the smaller one).
 *
 * A delete of an absent key changes nothing and does not raise the revision (etcd 3.4).
 */
import { assertNever } from '../../base/assert.js';
import type { Model, Operation, Part } from './model.js';

/** Compare of a CAS: the key's value (null: absent), or its modRevision (0: absent). */
export type KvCompare =
  | { readonly target: 'value'; readonly value: string | null }
  | { readonly target: 'modRevision'; readonly modRevision: number };

export type KvInput =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  | {
      readonly kind: 'cas';
      readonly key: string;
      readonly compare: KvCompare;
      /** What the txn does when the compare holds: put `value`, or delete (value null). */
      readonly value: string | null;
    };

/**
 * What the client heard. get: `value` (null: absent) and optionally `modRevision`; put:
 * optionally `revision`; delete: optionally `deleted` (0 or 1) and `revision`; cas: `succeeded`
 * and optionally `revision` (of the change, when it succeeded).
 */
export interface KvOutput {
  readonly value?: string | null;
  readonly modRevision?: number;
  readonly revision?: number;
  readonly deleted?: number;
  readonly succeeded?: boolean;
}

/** A revision, known exactly or only from below. */
interface Rev {
  readonly n: number;
  readonly exact: boolean;
}

/** One key: its value (null: absent) and the revision of its last change (put or delete). */
export interface KvKeyState {
  readonly value: string | null;
  readonly rev: Rev;
}

export interface KvModelOptions {
  /**
   * Check revisions (modRevision of gets, revision of changes). Off for a history that records
   * none: unknown revisions would only multiply the states the search must tell apart.
   */
  readonly revisions: boolean;
}

const ABSENT: KvKeyState = { value: null, rev: { n: 0, exact: true } };

/** The revision after a change whose revision is `seen` (undefined: not seen); undefined when impossible. */
function nextRev(prev: Rev, seen: number | undefined): Rev | undefined {
  if (seen === undefined) return { n: prev.n + 1, exact: false };
  // Above the last change: exact prev.n, or "at least prev.n" which leaves prev.n itself.
  return seen > prev.n ? { n: seen, exact: true } : undefined;
}

/** The key's modRevision as a compare sees it: 0 when absent. */
function modRevision(state: KvKeyState): Rev {
  return state.value === null ? { n: 0, exact: true } : state.rev;
}

/** Whether the compare holds: true, false, or undefined when the revision is not known well enough. */
function compareHolds(state: KvKeyState, compare: KvCompare): boolean | undefined {
  if (compare.target === 'value') return state.value === compare.value;
  const current = modRevision(state);
  if (current.exact) return current.n === compare.modRevision;
  return compare.modRevision < current.n ? false : undefined;
}

function applyChange(
  state: KvKeyState,
  value: string | null,
  seen: number | undefined,
  revisions: boolean,
): KvKeyState | undefined {
  // Deleting an absent key is no change: no new revision.
  if (value === null && state.value === null) return state;
  if (!revisions) return { value, rev: ABSENT.rev };
  const rev = nextRev(state.rev, seen);
  return rev === undefined ? undefined : { value, rev };
}

function stepGet(state: KvKeyState, out: KvOutput, revisions: boolean): KvKeyState[] {
  if (out.value !== state.value) return [];
  if (!revisions || out.modRevision === undefined) return [state];
  const current = modRevision(state);
  if (current.exact) return out.modRevision === current.n ? [state] : [];
  // The first look at a revision nobody saw pins it.
  return out.modRevision >= current.n
    ? [{ value: state.value, rev: { n: out.modRevision, exact: true } }]
    : [];
}

function stepDelete(
  state: KvKeyState,
  out: KvOutput | undefined,
  revisions: boolean,
): KvKeyState[] {
  if (out?.deleted !== undefined && out.deleted !== (state.value === null ? 0 : 1)) return [];
  const seen = state.value === null ? undefined : out?.revision;
  const after = applyChange(state, null, seen, revisions);
  return after === undefined ? [] : [after];
}

function stepCas(
  state: KvKeyState,
  input: Extract<KvInput, { kind: 'cas' }>,
  out: KvOutput | undefined,
  revisions: boolean,
): KvKeyState[] {
  // Without revision tracking a modRevision compare cannot be decided: either answer may be right.
  const holds =
    !revisions && input.compare.target === 'modRevision'
      ? undefined
      : compareHolds(state, input.compare);
  const apply = (): KvKeyState[] => {
    // A success pins an unknown modRevision to the compared one before the change replaces it.
    const from =
      revisions && holds === undefined && input.compare.target === 'modRevision'
        ? { value: state.value, rev: { n: input.compare.modRevision, exact: true } }
        : state;
    const after = applyChange(from, input.value, out?.revision, revisions);
    return after === undefined ? [] : [after];
  };
  if (out === undefined) {
    if (holds === true) return apply();
    if (holds === false) return [state];
    return [...apply(), state];
  }
  if (out.succeeded === true) return holds === false ? [] : apply();
  return holds === true ? [] : [state];
}

/** The key-value model; `revisions` decides whether revision outputs are checked. */
export function kvModel(options: KvModelOptions): Model<KvKeyState, KvInput, KvOutput> {
  const { revisions } = options;
  return {
    name: revisions ? 'kv (with revisions)' : 'kv',
    init: () => [ABSENT],
    step(state, input, output) {
      switch (input.kind) {
        case 'get':
          return output === undefined ? [state] : stepGet(state, output, revisions);
        case 'put': {
          const after = applyChange(state, input.value, output?.revision, revisions);
          return after === undefined ? [] : [after];
        }
        case 'delete':
          return stepDelete(state, output, revisions);
        case 'cas':
          return stepCas(state, input, output, revisions);
        default:
          return assertNever(input, 'kv input');
      }
    },
    key: (state) =>
      `${state.rev.n}${state.rev.exact ? '=' : '~'}${state.value === null ? '-' : `+${state.value}`}`,
    partition: partitionByKey,
    readOnly: (input) => input.kind === 'get',
    crossCheck: (operations) => (revisions ? crossCheckRevisions(operations) : []),
    describeOperation: describeKvOperation,
    describeState: describeKvState,
  };
}

/** One part per key, labelled by the key. */
export function partitionByKey(operations: readonly Operation<KvInput, KvOutput>[]): Part[] {
  const byKey = new Map<string, number[]>();
  operations.forEach((op, i) => {
    const list = byKey.get(op.input.key);
    if (list === undefined) byKey.set(op.input.key, [i]);
    else list.push(i);
  });
  return [...byKey.entries()].map(([label, indexes]) => ({ label, indexes }));
}

/** The revision a completed operation reports for its change, if it changed something and said so. */
function changeRevision(op: Operation<KvInput, KvOutput>): number | undefined {
  const out = op.output;
  if (out?.revision === undefined) return undefined;
  switch (op.input.kind) {
    case 'put':
      return out.revision;
    case 'delete':
      return out.deleted === 1 ? out.revision : undefined;
    case 'cas':
      // A txn that deletes an absent key changes nothing and reports the store's current
      // revision, which belongs to another change: only a put branch surely made a change.
      return out.succeeded === true && op.input.value !== null ? out.revision : undefined;
    default:
      return undefined;
  }
}

/**
 * Revision facts across keys: two changes never share a revision, and a change that returned
 * before another change was called has the lower revision (the store's counter only grows).
 */
export function crossCheckRevisions(operations: readonly Operation<KvInput, KvOutput>[]): string[] {
  const changes = operations
    .map((op, i) => ({ i, op, rev: changeRevision(op) }))
    .filter(
      (c): c is { i: number; op: Operation<KvInput, KvOutput>; rev: number } => c.rev !== undefined,
    );
  const problems: string[] = [];
  const byRev = new Map<number, number>();
  for (const c of changes) {
    const other = byRev.get(c.rev);
    if (other !== undefined)
      problems.push(`operations ${other} and ${c.i} both report revision ${c.rev} for a change`);
    else byRev.set(c.rev, c.i);
  }
  // Each change must have a higher revision than every change that returned before its call:
  // sweep calls in time order, keeping the highest revision among the changes done so far.
  const byCall = [...changes].sort((a, b) => a.op.callMs - b.op.callMs);
  let maxDone: (typeof changes)[number] | undefined;
  let j = 0;
  const byReturn = [...changes].sort(
    (a, b) => (a.op.returnMs as number) - (b.op.returnMs as number),
  );
  for (const c of byCall) {
    while (
      j < byReturn.length &&
      ((byReturn[j] as (typeof changes)[number]).op.returnMs as number) < c.op.callMs
    ) {
      const done = byReturn[j] as (typeof changes)[number];
      if (maxDone === undefined || done.rev > maxDone.rev) maxDone = done;
      j++;
    }
    if (maxDone !== undefined && maxDone.rev >= c.rev)
      problems.push(
        `operation ${c.i} (${describeKvOperation(c.op.input, c.op.output)}) was called after operation ${maxDone.i} (${describeKvOperation(maxDone.op.input, maxDone.op.output)}) returned, yet its revision is not higher`,
      );
  }
  return problems;
}

function quote(value: string | null): string {
  return value === null ? 'absent' : JSON.stringify(value);
}

function describeCompare(compare: KvCompare): string {
  return compare.target === 'value'
    ? `value = ${quote(compare.value)}`
    : `modRevision = ${compare.modRevision}`;
}

export function describeKvOperation(input: KvInput, output: KvOutput | undefined): string {
  const rev = output?.revision === undefined ? '' : ` @${output.revision}`;
  switch (input.kind) {
    case 'get': {
      if (output === undefined) return `get(${input.key}) → ?`;
      const mod = output.modRevision === undefined ? '' : ` @${output.modRevision}`;
      return `get(${input.key}) → ${quote(output.value ?? null)}${mod}`;
    }
    case 'put':
      return `put(${input.key}, ${quote(input.value)}) → ${output === undefined ? '?' : `ok${rev}`}`;
    case 'delete': {
      if (output === undefined) return `delete(${input.key}) → ?`;
      const count = output.deleted === undefined ? 'ok' : `deleted ${output.deleted}`;
      return `delete(${input.key}) → ${count}${rev}`;
    }
    case 'cas': {
      const then = input.value === null ? 'delete' : `put ${quote(input.value)}`;
      const result =
        output === undefined ? '?' : output.succeeded === true ? `succeeded${rev}` : 'failed';
      return `cas(${input.key}: if ${describeCompare(input.compare)} then ${then}) → ${result}`;
    }
    default:
      return assertNever(input, 'kv input');
  }
}

export function describeKvState(state: KvKeyState): string {
  const rev = `${state.rev.exact ? '' : '≥'}${state.rev.n}`;
  return state.value === null ? `absent (last change @${rev})` : `${quote(state.value)} @${rev}`;
}
