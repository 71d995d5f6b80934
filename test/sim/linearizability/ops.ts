/**
 * Terse builders for hand-made key-value histories: `put(client, key, value, callMs, returnMs,
 * output)` and friends; a `returnMs` of undefined makes the operation unanswered (timed out).
 */
import type { KvCompare, KvInput, KvOutput } from '../../../src/sim/linearizability/kv-model.js';
import type { Operation } from '../../../src/sim/linearizability/model.js';

export type KvOp = Operation<KvInput, KvOutput>;

function op(
  clientId: number,
  input: KvInput,
  callMs: number,
  returnMs: number | undefined,
  output: KvOutput,
): KvOp {
  return returnMs === undefined
    ? { clientId, input, callMs }
    : { clientId, input, callMs, returnMs, output };
}

export const put = (
  c: number,
  key: string,
  value: string,
  callMs: number,
  returnMs: number | undefined,
  revision?: number,
): KvOp =>
  op(c, { kind: 'put', key, value }, callMs, returnMs, revision === undefined ? {} : { revision });

export const get = (
  c: number,
  key: string,
  value: string | null,
  callMs: number,
  returnMs: number | undefined,
  modRevision?: number,
): KvOp =>
  op(
    c,
    { kind: 'get', key },
    callMs,
    returnMs,
    modRevision === undefined ? { value } : { value, modRevision },
  );

export const del = (
  c: number,
  key: string,
  callMs: number,
  returnMs: number | undefined,
  output: KvOutput = {},
): KvOp => op(c, { kind: 'delete', key }, callMs, returnMs, output);

function cas(
  c: number,
  key: string,
  compare: KvCompare,
  value: string | null,
  callMs: number,
  returnMs: number | undefined,
  succeeded: boolean,
  revision: number | undefined,
): KvOp {
  const output = revision === undefined ? { succeeded } : { succeeded, revision };
  return op(c, { kind: 'cas', key, compare, value }, callMs, returnMs, output);
}

/** A CAS on the value (`expected` null: absent) that puts `value` (null: deletes). */
export const casValue = (
  c: number,
  key: string,
  expected: string | null,
  value: string | null,
  callMs: number,
  returnMs: number | undefined,
  succeeded: boolean,
  revision?: number,
): KvOp =>
  cas(c, key, { target: 'value', value: expected }, value, callMs, returnMs, succeeded, revision);

/** A CAS on the modRevision (0: absent) that puts `value` (null: deletes). */
export const casRev = (
  c: number,
  key: string,
  modRevision: number,
  value: string | null,
  callMs: number,
  returnMs: number | undefined,
  succeeded: boolean,
  revision?: number,
): KvOp =>
  cas(c, key, { target: 'modRevision', modRevision }, value, callMs, returnMs, succeeded, revision);
