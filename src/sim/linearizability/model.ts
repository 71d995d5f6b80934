/**
 * What the linearizability checker checks a history against: a history of operations, each an
 * interval of real time with an input and (when the client heard back) an output, and a Model,
 * the sequential specification of the object (Herlihy & Wing 1990, §2: a history is linearizable
 * when its operations can be ordered, each at one point inside its own interval, so that the
 * model accepts every output in that order).
 *
 * The model may be nondeterministic (`step` returns every state the object may be in next), which
 * is how an unknown output is expressed: a put that timed out may or may not have been applied,
 * and a revision nobody saw is any number above the last one. The checker explores the set of
 * states, as Porcupine's NondeterministicModel does with a power-set construction.
 */

/** One call of the object, as a client saw it. */
export interface Operation<I, O> {
  /** Who called: for the explanation only (the checker orders operations by time alone). */
  readonly clientId: number;
  readonly input: I;
  /** When the client issued the call, on one clock shared by every client of the history. */
  readonly callMs: number;
  /**
   * When the answer arrived. Absent for an operation that timed out or whose client crashed:
   * it may have taken effect at any point after its call, or never (Porcupine and Knossos give
   * such an operation a return at infinity and an unknown output).
   */
  readonly returnMs?: number;
  /** The answer; absent exactly when `returnMs` is. */
  readonly output?: O;
}

/** Operations that can be checked on their own: a history is linearizable iff every part is. */
export interface Part {
  /** Names the part in results and explanations (the key, for a key-value store). */
  readonly label: string;
  /** Indexes into the history. */
  readonly indexes: readonly number[];
}

/**
 * The sequential specification. Every function must be pure: the checker keeps states it was
 * given and hands them back later.
 */
export interface Model<S, I, O> {
  readonly name: string;
  /** The states the object may start in (one for a deterministic object). */
  init(): readonly S[];
  /**
   * The states the object may be in after answering `output` to `input` from `state`: empty
   * when it could not have answered that. `output` is undefined for an operation that never
   * returned; then the result must not be empty (an unanswered call accepts any answer).
   */
  step(state: S, input: I, output: O | undefined): readonly S[];
  /**
   * Canonical text of a state, the checker's equality and hash in one: two states have equal
   * keys exactly when they are equal.
   */
  key(state: S): string;
  /**
   * P-compositionality (Herlihy & Wing §3.3, locality): parts of the history that touch
   * independent objects, such as the keys of a store. Absent: the history is one part.
   */
  partition?(operations: readonly Operation<I, O>[]): Part[];
  /**
   * True when an operation with this input never changes the state (a read). A read that never
   * returned constrains nothing, so the checker drops it instead of searching over it.
   */
  readOnly?(input: I): boolean;
  /**
   * Necessary conditions across parts that partitioning cannot see (a global revision counter
   * shared by all keys). Each broken one is a sentence; empty when all hold.
   */
  crossCheck?(operations: readonly Operation<I, O>[]): string[];
  describeOperation(input: I, output: O | undefined): string;
  describeState(state: S): string;
}

/** The whole history as one part (a model without `partition`). */
export function wholeHistory(count: number): Part[] {
  return [{ label: 'all', indexes: Array.from({ length: count }, (_, i) => i) }];
}
