/**
 * The linearizability checker: Wing & Gong's search (J. Parallel Distrib. Comput. 1993) with
 * Lowe's memoization (Testing for linearizability, CCPE 2017, §4), in the manner of Porcupine.
 *
 * Each part of the history (Model.partition, P-compositionality) is checked on its own. Its call
 * and return events, sorted by time (a call before a return at the same time: intervals are
 * closed), form a doubly linked list. The search walks it from the head: at a call it tries to
 * place that operation next (the model must accept its output from one of the current states);
 * placed, the operation's two events are lifted out of the list and the walk restarts. Reaching a
 * return means the operation returning there was not placed although everything placed so far
 * precedes it in the order, and a later placement cannot fix that: the search backtracks by
 * undoing the last placement and trying the next call after it. The part is linearizable when
 * the list empties, and not when the search backtracks past its first placement.
 *
 * Memoization: a (set of placed operations, state set) pair seen before is not explored again
 * (Lowe §4); the set is a Bitset with a Zobrist hash, compared exactly on a hash match.
 *
 * An operation that never returned has its return at +infinity, so it may be placed anywhere
 * after its call, including after everything else (never applied, as far as anyone could tell).
 *
 * The search is NP-complete in general (Gibbons & Korach 1997), so it runs under a budget:
 * search steps, memo bytes and optionally a deadline read through an injected clock. When a
 * budget runs out the verdict is `unknown`, never a guess.
 */
import { assert } from '../../base/assert.js';
import { ShoalError } from '../../base/errors.js';
import { Bitset } from './bitset.js';
import { wholeHistory, type Model, type Operation, type Part } from './model.js';

export type Verdict = 'ok' | 'illegal' | 'unknown';

/** Bounds on one check, over all parts together. */
export interface CheckBudget {
  /** Search steps (one attempt to place an operation, or one backtrack). @defaultValue 20_000_000 */
  stepsMax: number;
  /** Bytes the memo table may hold (placed-set copies and state keys). @defaultValue 256 MiB */
  cacheBytesMax: number;
  /** A wall-clock bound, read through `nowMs` every CLOCK_CHECK_STEPS steps; none by default. */
  deadline?: { nowMs: () => number; atMs: number };
}

export const DEFAULT_CHECK_BUDGET: CheckBudget = {
  stepsMax: 20_000_000,
  cacheBytesMax: 256 * 1024 * 1024,
};

/** How often (in steps) the deadline's clock is read. */
export const CLOCK_CHECK_STEPS = 4096;
/** Bytes counted per memo entry on top of its bitset and key (Map slot, array, object headers). */
const CACHE_ENTRY_OVERHEAD_BYTES = 64;

export interface PartResult {
  readonly label: string;
  /** Operations searched (the part's operations less the unanswered reads dropped). */
  readonly operations: number;
  readonly verdict: Verdict;
  readonly steps: number;
  /**
   * History indexes in linearization order: the whole part when `ok`; otherwise the longest
   * linearizable sequence the search found (each operation placed inside its interval).
   */
  readonly linearization: readonly number[];
  /** History indexes the search had to consider (the part less the dropped reads). */
  readonly searched: readonly number[];
  /** Which bound ran out, for `unknown`. */
  readonly reason?: string;
}

export interface CheckResult {
  readonly verdict: Verdict;
  readonly parts: readonly PartResult[];
  /** Broken cross-part conditions (Model.crossCheck); any makes the verdict `illegal`. */
  readonly crossViolations: readonly string[];
  readonly steps: number;
  /** Unanswered read-only operations left out of the search (they constrain nothing). */
  readonly droppedReads: number;
}

interface StateSet<S> {
  readonly states: readonly S[];
  readonly key: string;
}

interface Spend {
  steps: number;
  cacheBytes: number;
  exhausted: string | undefined;
}

function invalid(message: string): ShoalError {
  return new ShoalError('ERR_HISTORY_INVALID', message);
}

/** Rejects a history the checker cannot interpret (bad times, an output without a return). */
export function validateOperations<I, O>(operations: readonly Operation<I, O>[]): void {
  operations.forEach((op, i) => {
    if (!Number.isFinite(op.callMs))
      throw invalid(`operation ${i}: callMs must be a finite number`);
    if (op.returnMs === undefined) {
      if (op.output !== undefined)
        throw invalid(
          `operation ${i}: has an output but no returnMs (a timed-out call has neither)`,
        );
      return;
    }
    if (!Number.isFinite(op.returnMs))
      throw invalid(`operation ${i}: returnMs must be a finite number or absent`);
    if (op.returnMs < op.callMs)
      throw invalid(`operation ${i}: returnMs (${op.returnMs}) is before callMs (${op.callMs})`);
    if (op.output === undefined)
      throw invalid(`operation ${i}: has a returnMs but no output (leave both out for a timeout)`);
  });
}

export function initialStates<S, I, O>(model: Model<S, I, O>): StateSet<S> {
  return dedupe(model, model.init());
}

function dedupe<S, I, O>(model: Model<S, I, O>, candidates: readonly S[]): StateSet<S> {
  if (candidates.length === 1) {
    const only = candidates[0] as S;
    return { states: [only], key: model.key(only) };
  }
  const byKey = new Map<string, S>();
  for (const state of candidates) {
    const key = model.key(state);
    if (!byKey.has(key)) byKey.set(key, state);
  }
  const keys = [...byKey.keys()].sort();
  return { states: keys.map((k) => byKey.get(k) as S), key: keys.join('\u0001') };
}

/** The states after `op` from any of `set`; undefined when none accepts its output. */
export function stepStates<S, I, O>(
  model: Model<S, I, O>,
  set: StateSet<S>,
  op: Operation<I, O>,
): StateSet<S> | undefined {
  const states = set.states;
  const next =
    states.length === 1
      ? model.step(states[0] as S, op.input, op.output)
      : states.flatMap((state) => model.step(state, op.input, op.output));
  if (next.length > 0) return dedupe(model, next);
  assert(
    op.output !== undefined,
    `model ${model.name}: step with an unknown output must allow a state (${model.describeOperation(op.input, undefined)})`,
  );
  return undefined;
}

/** Checks `operations` against `model` within `budget`. Throws ERR_HISTORY_INVALID for a malformed history. */
export function checkHistory<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  budget: CheckBudget = DEFAULT_CHECK_BUDGET,
): CheckResult {
  validateOperations(operations);
  const parts = [...(model.partition?.(operations) ?? wholeHistory(operations.length))];
  // Small parts first: a budget spent on one huge part should not leave the small ones unknown.
  parts.sort((a, b) => a.indexes.length - b.indexes.length);
  const spend: Spend = { steps: 0, cacheBytes: 0, exhausted: undefined };
  const results: PartResult[] = [];
  let droppedReads = 0;
  for (const part of parts) {
    const searched = part.indexes.filter((i) => {
      const op = operations[i] as Operation<I, O>;
      return op.returnMs !== undefined || model.readOnly?.(op.input) !== true;
    });
    droppedReads += part.indexes.length - searched.length;
    results.push(checkPart(model, operations, part, searched, budget, spend));
  }
  const crossViolations = model.crossCheck?.(operations) ?? [];
  const verdicts = new Set(results.map((r) => r.verdict));
  const verdict: Verdict =
    crossViolations.length > 0 || verdicts.has('illegal')
      ? 'illegal'
      : verdicts.has('unknown')
        ? 'unknown'
        : 'ok';
  results.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return { verdict, parts: results, crossViolations, steps: spend.steps, droppedReads };
}

/** The call/return event list of one part: entry 0 is the head; op k has entries callOf[k], returnOf[k]. */
interface EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly opOf: Int32Array;
  readonly isCall: Uint8Array;
  readonly callOf: Int32Array;
  readonly returnOf: Int32Array;
}

const NIL = -1;

function buildEvents<I, O>(ops: readonly Operation<I, O>[]): EventList {
  const n = ops.length;
  const events = ops.flatMap((op, k) => [
    { timeMs: op.callMs, call: 1, k },
    { timeMs: op.returnMs ?? Number.POSITIVE_INFINITY, call: 0, k },
  ]);
  // Closed intervals: at equal times calls come first, so touching operations are concurrent.
  events.sort((a, b) => a.timeMs - b.timeMs || b.call - a.call || a.k - b.k);
  const list: EventList = {
    next: new Int32Array(2 * n + 1),
    prev: new Int32Array(2 * n + 1),
    opOf: new Int32Array(2 * n + 1),
    isCall: new Uint8Array(2 * n + 1),
    callOf: new Int32Array(n),
    returnOf: new Int32Array(n),
  };
  list.prev[0] = NIL;
  events.forEach((event, i) => {
    const e = i + 1;
    list.opOf[e] = event.k;
    list.isCall[e] = event.call;
    if (event.call === 1) list.callOf[event.k] = e;
    else list.returnOf[event.k] = e;
    list.prev[e] = e - 1;
    list.next[e - 1] = e;
  });
  list.next[2 * n] = NIL;
  return list;
}

function unlink(list: EventList, e: number): void {
  const before = list.prev[e] as number;
  const after = list.next[e] as number;
  list.next[before] = after;
  if (after !== NIL) list.prev[after] = before;
}

function relink(list: EventList, e: number): void {
  const before = list.prev[e] as number;
  const after = list.next[e] as number;
  list.next[before] = e;
  if (after !== NIL) list.prev[after] = e;
}

function lift(list: EventList, k: number): void {
  unlink(list, list.callOf[k] as number);
  unlink(list, list.returnOf[k] as number);
}

/** Undoes `lift(k)`; placements are undone in reverse order, so the neighbours are as they were. */
function unlift(list: EventList, k: number): void {
  relink(list, list.returnOf[k] as number);
  relink(list, list.callOf[k] as number);
}

function overBudget(budget: CheckBudget, spend: Spend): string | undefined {
  if (spend.steps > budget.stepsMax) return `stepsMax (${budget.stepsMax}) reached`;
  if (spend.cacheBytes > budget.cacheBytesMax)
    return `cacheBytesMax (${budget.cacheBytesMax}) reached`;
  const deadline = budget.deadline;
  if (deadline !== undefined && spend.steps % CLOCK_CHECK_STEPS === 0) {
    if (deadline.nowMs() >= deadline.atMs) return 'deadline reached';
  }
  return undefined;
}

interface Frame<S> {
  readonly k: number;
  readonly before: StateSet<S>;
}

function checkPart<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  part: Part,
  searched: readonly number[],
  budget: CheckBudget,
  spend: Spend,
): PartResult {
  const ops = searched.map((i) => operations[i] as Operation<I, O>);
  const base = { label: part.label, operations: ops.length, searched };
  const toHistory = (ks: readonly number[]): number[] => ks.map((k) => searched[k] as number);
  if (spend.exhausted !== undefined)
    return { ...base, verdict: 'unknown', steps: 0, linearization: [], reason: spend.exhausted };
  const list = buildEvents(ops);
  const placed = new Bitset(ops.length);
  const memo: Memo = new Map();
  const stack: Frame<S>[] = [];
  let longest: number[] = [];
  let state = initialStates(model);
  let e = list.next[0] as number;
  const stepsBefore = spend.steps;
  while (list.next[0] !== NIL) {
    spend.steps++;
    spend.exhausted = overBudget(budget, spend);
    if (spend.exhausted !== undefined) {
      const steps = spend.steps - stepsBefore;
      return {
        ...base,
        verdict: 'unknown',
        steps,
        linearization: toHistory(longest),
        reason: spend.exhausted,
      };
    }
    const k = list.opOf[e] as number;
    if (list.isCall[e] === 1) {
      const after = stepStates(model, state, ops[k] as Operation<I, O>);
      if (after !== undefined && remember(memo, placed, k, after.key, spend)) {
        stack.push({ k, before: state });
        state = after;
        lift(list, k);
        e = list.next[0] as number;
      } else e = list.next[e] as number;
      continue;
    }
    // A return: operation k had to be placed by now and was not.
    if (stack.length > longest.length) longest = stack.map((f) => f.k);
    const top = stack.pop();
    if (top === undefined) {
      const steps = spend.steps - stepsBefore;
      return { ...base, verdict: 'illegal', steps, linearization: toHistory(longest) };
    }
    state = top.before;
    placed.toggle(top.k);
    unlift(list, top.k);
    e = list.next[list.callOf[top.k] as number] as number;
  }
  const linearization = toHistory(stack.map((f) => f.k));
  return { ...base, verdict: 'ok', steps: spend.steps - stepsBefore, linearization };
}

/** State-set key -> placed-set hash -> the placed sets seen with that state set and hash. */
type Memo = Map<string, Map<number, Uint32Array[]>>;

/**
 * Marks `k` placed and records (placed set, state set) in the memo; false (and `k` unmarked)
 * when that pair was explored before.
 */
function remember(memo: Memo, placed: Bitset, k: number, stateKey: string, spend: Spend): boolean {
  placed.toggle(k);
  let byHash = memo.get(stateKey);
  if (byHash === undefined) {
    byHash = new Map();
    memo.set(stateKey, byHash);
    spend.cacheBytes += 2 * stateKey.length + CACHE_ENTRY_OVERHEAD_BYTES;
  }
  const hash = placed.hash();
  const bucket = byHash.get(hash);
  if (bucket?.some((words) => placed.equalsWords(words)) === true) {
    placed.toggle(k);
    return false;
  }
  const words = placed.copyWords();
  if (bucket === undefined) byHash.set(hash, [words]);
  else bucket.push(words);
  spend.cacheBytes += words.byteLength + CACHE_ENTRY_OVERHEAD_BYTES;
  return true;
}
