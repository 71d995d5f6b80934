/**
 * Branded protocol counters (STYLE.md section 3), like `Millis`: a `Term` is never passed where an
 * `Incarnation` is expected. All are safe non-negative integers; the codec asserts it on decode
 * and `persisted.ts` refuses anything else on disk. Zero cost at run time.
 */
import type { Brand } from './brand.js';
import { assertSafeInt } from './assert.js';

/** A leadership term (Raft §5.1; static and swim fencing tokens): only increases on a node. */
export type Term = Brand<number, 'Term'>;
/** A member's incarnation (SWIM §4.2): only its owner raises it, to refute or to update itself. */
export type Incarnation = Brand<number, 'Incarnation'>;
/** A membership epoch: increases exactly when the live set changes. */
export type Epoch = Brand<number, 'Epoch'>;
/** A position in a replicated log (Raft §5.3); 0 means before the first entry. */
export type LogIndex = Brand<number, 'LogIndex'>;

export function term(value: number): Term {
  return assertSafeInt(value, 'Term') as Term;
}

export function incarnation(value: number): Incarnation {
  return assertSafeInt(value, 'Incarnation') as Incarnation;
}

export function epoch(value: number): Epoch {
  return assertSafeInt(value, 'Epoch') as Epoch;
}

export function logIndex(value: number): LogIndex {
  return assertSafeInt(value, 'LogIndex') as LogIndex;
}
