/**
 * Deciding what a first check left `unknown` (docs/design/linearizability.md, "Resolving
 * unknown verdicts"): issue 14's manual narrowed re-check, automated. The first check spends one
 * step budget on every key; a key it could not decide is then taken on its own, in several
 * forms, round after round, with a step budget that grows by RESOLVE_GROWTH per round up to
 * `stepsMax`:
 *
 * - `narrowed`: every open write (a put or CAS that never returned) moved later
 *   (narrowOpenWrites): to the call of the first operation that saw its value, or past the end of
 *   the history when none did. An open write's interval is [call, ∞); moving its call later only
 *   removes linearizations, so a narrowed key that is linearizable proves the recorded key
 *   linearizable. `illegal` proves nothing (the write may have taken effect unseen, and moved the
 *   revisions), so that form is dropped.
 * - `narrowed-observed`: only the open writes somebody saw are moved; the others stay open.
 *   For the case where an unseen write did take effect (its revision shows).
 * - `truncated` at a time T (truncateAt): the operations called by T, those that returned after
 *   it made open. Any linearization of the key restricted to them is one of the truncation, so
 *   a truncation that is `illegal` proves the key illegal; `ok` proves nothing and drops it. Cut
 *   at a quarter, a half and three quarters of the key's returns, and where a narrowed form broke.
 * - `alone`: the key's operations as recorded. Its verdict, `ok` or `illegal`, is the key's.
 *
 * Revision checks across keys (Model.crossCheck) were run on the whole history by the first
 * check and read only answered operations, which narrowing does not touch. The result is `ok`
 * when every key is decided `ok`, `illegal` when one is `illegal`, and `unknown` with the keys
 * it could not decide otherwise: never a guess.
 */
import {
  checkHistory,
  DEFAULT_CHECK_BUDGET,
  type CheckBudget,
  type CheckResult,
  type PartResult,
  type Verdict,
} from './check.js';
import { explain } from './explain.js';
import { recordsRevisions } from './history-file.js';
import { kvModel, partitionByKey, type KvInput, type KvOutput } from './kv-model.js';
import type { Model, Operation, Part } from './model.js';

type KvOperation = Operation<KvInput, KvOutput>;

/** Where the first truncations of a key cut it: fractions of its answered operations, by return. */
const TRUNCATE_FRACTIONS = [0.25, 0.5, 0.75];

/** Factor by which each round of attempts raises its step budget. */
export const RESOLVE_GROWTH = 4;

export interface ResolveOptions {
  /**
   * The largest step budget of one attempt on one key; rounds start at the first check's
   * `stepsMax`. @defaultValue 4 × DEFAULT_CHECK_BUDGET.stepsMax (80,000,000)
   */
  readonly stepsMax: number;
}

export const DEFAULT_RESOLVE_OPTIONS: ResolveOptions = {
  stepsMax: RESOLVE_GROWTH * DEFAULT_CHECK_BUDGET.stepsMax,
};

export type ResolveForm = 'alone' | 'narrowed' | 'narrowed-observed' | 'truncated';

export interface ResolveAttempt {
  readonly form: ResolveForm;
  /** For `truncated`: the cut, ms. */
  readonly atMs?: number;
  readonly stepsMax: number;
  readonly verdict: Verdict;
  readonly steps: number;
  readonly reason?: string;
}

export interface KeyResolution {
  readonly key: string;
  /** `unknown` when no attempt decided it. */
  readonly verdict: Verdict;
  /** The form whose verdict decided the key, if one did. */
  readonly decidedBy?: ResolveForm;
  readonly attempts: readonly ResolveAttempt[];
}

export interface Resolved {
  /** The final result: the first check's, with every decided key's part replaced. */
  readonly result: CheckResult;
  readonly text: string;
  /** The first check's verdict. */
  readonly firstVerdict: Verdict;
  /** One entry per key the first check left unknown. */
  readonly keys: readonly KeyResolution[];
}

/** The value a change writes (put, or a CAS whose success branch is a put); undefined otherwise. */
function writtenValue(input: KvInput): string | undefined {
  if (input.kind === 'put') return input.value;
  if (input.kind === 'cas' && input.value !== null) return input.value;
  return undefined;
}

/** The value an answered operation proves the key held when it ran; undefined when none. */
function seenValue(op: KvOperation): string | undefined {
  const { input, output } = op;
  if (output === undefined) return undefined;
  if (input.kind === 'get') return output.value ?? undefined;
  if (input.kind === 'cas' && input.compare.target === 'value' && output.succeeded === true)
    return input.compare.value ?? undefined;
  return undefined;
}

function latestTimeMs(operations: readonly KvOperation[]): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const op of operations) latest = Math.max(latest, op.callMs, op.returnMs ?? op.callMs);
  return latest;
}

/**
 * A copy of `operations` where the open writes among `indexes` whose value no other write of
 * those operations also writes start later: at the call of the first operation that saw the
 * value (when later than their own), or, with `mode` `all`, 1 ms past the end of the history
 * when nobody saw it. Sound for an `ok` only (see the module comment).
 */
export function narrowOpenWrites(
  operations: readonly KvOperation[],
  indexes: readonly number[],
  mode: 'all' | 'observed',
): { operations: KvOperation[]; moved: number } {
  const writers = new Map<string, number>();
  const firstSeenMs = new Map<string, number>();
  for (const i of indexes) {
    const op = operations[i] as KvOperation;
    const written = writtenValue(op.input);
    if (written !== undefined) writers.set(written, (writers.get(written) ?? 0) + 1);
    const seen = seenValue(op);
    if (seen !== undefined)
      firstSeenMs.set(seen, Math.min(firstSeenMs.get(seen) ?? op.callMs, op.callMs));
  }
  const afterEndMs = latestTimeMs(operations) + 1;
  const copy = [...operations];
  let moved = 0;
  for (const i of indexes) {
    const op = operations[i] as KvOperation;
    const written = writtenValue(op.input);
    if (op.returnMs !== undefined || written === undefined || writers.get(written) !== 1) continue;
    const seenMs = firstSeenMs.get(written);
    const callMs = seenMs !== undefined ? seenMs : mode === 'all' ? afterEndMs : op.callMs;
    if (callMs <= op.callMs) continue;
    copy[i] = { ...op, callMs };
    moved++;
  }
  return { operations: copy, moved };
}

/**
 * The operations among `indexes` called at or before `atMs`, those that returned after it made
 * open (no return, no output), as a copy of `operations` and the indexes kept. Sound for an
 * `illegal` only: any linearization of the whole history, restricted to these operations, is
 * one of the truncation (every operation that returned by `atMs` took effect before anything
 * called after it, and an open operation accepts any outcome), so a truncation that is not
 * linearizable proves the history is not.
 */
export function truncateAt(
  operations: readonly KvOperation[],
  indexes: readonly number[],
  atMs: number,
): { operations: KvOperation[]; indexes: number[] } {
  const copy = [...operations];
  const kept: number[] = [];
  for (const i of indexes) {
    const op = operations[i] as KvOperation;
    if (op.callMs > atMs) continue;
    kept.push(i);
    if (op.returnMs !== undefined && op.returnMs > atMs)
      copy[i] = { clientId: op.clientId, input: op.input, callMs: op.callMs };
  }
  return { operations: copy, indexes: kept };
}

/** `model` restricted to one part, without cross-part checks (the first check ran them). */
function onePart<S>(model: Model<S, KvInput, KvOutput>, part: Part): Model<S, KvInput, KvOutput> {
  const { crossCheck: _crossCheck, ...rest } = model;
  return { ...rest, partition: () => [part] };
}

function deadlinePassed(budget: CheckBudget): boolean {
  return budget.deadline !== undefined && budget.deadline.nowMs() >= budget.deadline.atMs;
}

interface Form {
  readonly form: ResolveForm;
  readonly operations: readonly KvOperation[];
  readonly part: Part;
  /** For `truncated`: the cut, ms. */
  readonly atMs?: number;
}

/** Whether `verdict` from `form` is the key's verdict (see the module comment). */
function decides(form: ResolveForm, verdict: Verdict): boolean {
  if (verdict === 'unknown') return false;
  if (form === 'alone') return true;
  return form === 'truncated' ? verdict === 'illegal' : verdict === 'ok';
}

/** The return time of the first operation an illegal search could not place: where it broke. */
function breakMs(operations: readonly KvOperation[], result: PartResult): number | undefined {
  const placed = new Set(result.linearization);
  let earliest: number | undefined;
  for (const i of result.searched) {
    const returnMs = (operations[i] as KvOperation).returnMs;
    if (placed.has(i) || returnMs === undefined) continue;
    earliest = Math.min(earliest ?? returnMs, returnMs);
  }
  return earliest;
}

/** The truncations tried on a key at first: at the returns a quarter, half and three quarters in. */
function initialCuts(operations: readonly KvOperation[], part: Part): number[] {
  const returns = part.indexes
    .map((i) => (operations[i] as KvOperation).returnMs)
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  const cuts = TRUNCATE_FRACTIONS.map((f) => returns[Math.floor(f * (returns.length - 1))]);
  return [...new Set(cuts.filter((t): t is number => t !== undefined))];
}

function truncatedForm(operations: readonly KvOperation[], part: Part, atMs: number): Form {
  const cut = truncateAt(operations, part.indexes, atMs);
  return {
    form: 'truncated',
    operations: cut.operations,
    part: { label: part.label, indexes: cut.indexes },
    atMs,
  };
}

/** The key's forms in the order each round tries them. */
function initialForms(operations: readonly KvOperation[], part: Part): Form[] {
  const narrowed = narrowOpenWrites(operations, part.indexes, 'all');
  const observed = narrowOpenWrites(operations, part.indexes, 'observed');
  // Narrowed forms first: when they decide, it is usually in a few hundred steps.
  const forms: Form[] = [];
  if (narrowed.moved > 0) forms.push({ form: 'narrowed', operations: narrowed.operations, part });
  if (observed.moved > 0 && observed.moved < narrowed.moved)
    forms.push({ form: 'narrowed-observed', operations: observed.operations, part });
  for (const atMs of initialCuts(operations, part))
    forms.push(truncatedForm(operations, part, atMs));
  forms.push({ form: 'alone', operations, part });
  return forms;
}

/** Attempts on one key, round by round, until a form decides it or the budget or deadline ends. */
function resolveKey<S>(
  model: Model<S, KvInput, KvOutput>,
  operations: readonly KvOperation[],
  part: Part,
  budget: CheckBudget,
  options: ResolveOptions,
): { resolution: KeyResolution; decided: { part: PartResult; form: Form } | undefined } {
  let forms = initialForms(operations, part);
  const attempts: ResolveAttempt[] = [];
  const undecided = (): { resolution: KeyResolution; decided: undefined } => ({
    resolution: { key: part.label, verdict: 'unknown', attempts },
    decided: undefined,
  });
  for (let stepsMax = budget.stepsMax; forms.length > 0;) {
    const spent = new Set<Form>();
    for (let f = 0; f < forms.length; f++) {
      const form = forms[f] as Form;
      if (deadlinePassed(budget)) return undecided();
      const model1 = onePart(model, form.part);
      const result = checkHistory(model1, form.operations, { ...budget, stepsMax });
      const partResult = result.parts[0] as PartResult;
      attempts.push({
        form: form.form,
        ...(form.atMs === undefined ? {} : { atMs: form.atMs }),
        stepsMax,
        verdict: partResult.verdict,
        steps: partResult.steps,
        ...(partResult.reason === undefined ? {} : { reason: partResult.reason }),
      });
      if (decides(form.form, partResult.verdict)) {
        const resolution = {
          key: part.label,
          verdict: partResult.verdict,
          decidedBy: form.form,
          attempts,
        };
        return { resolution, decided: { part: partResult, form } };
      }
      if (partResult.verdict === 'unknown') continue;
      // A verdict that does not decide will not change with more steps.
      spent.add(form);
      const cutMs = form.form === 'truncated' ? undefined : breakMs(form.operations, partResult);
      // A narrowed form broke here: if the recorded key is illegal, a cut there may show it.
      if (cutMs !== undefined && !forms.some((g) => g.atMs === cutMs))
        forms.splice(f + 1, 0, truncatedForm(operations, part, cutMs));
    }
    forms = forms.filter((g) => !spent.has(g));
    if (stepsMax >= options.stepsMax) break;
    stepsMax = Math.min(options.stepsMax, stepsMax * RESOLVE_GROWTH);
  }
  return undecided();
}

function combinedVerdict(result: CheckResult, parts: readonly PartResult[]): Verdict {
  if (result.crossViolations.length > 0 || parts.some((p) => p.verdict === 'illegal'))
    return 'illegal';
  return parts.some((p) => p.verdict === 'unknown') ? 'unknown' : 'ok';
}

function describeResolution(keys: readonly KeyResolution[]): string[] {
  const lines = [`Resolving ${keys.length} key(s) the first check left unknown:`];
  for (const k of keys) {
    const tries = k.attempts
      .map(
        (a) =>
          `${a.form}${a.atMs === undefined ? '' : ` at ${a.atMs} ms`} ${a.verdict} (${a.steps} of ${a.stepsMax} steps${a.reason === undefined ? '' : `: ${a.reason}`})`,
      )
      .join('; ');
    const how =
      k.decidedBy === undefined ? 'still UNKNOWN' : `${k.verdict} by the ${k.decidedBy} re-check`;
    lines.push(`  ${k.key}: ${how}; attempts: ${tries || 'none (deadline)'}.`);
  }
  return lines;
}

/**
 * Checks a kv history (checkKvHistory), then tries to decide every key the check left unknown
 * (see the module comment). `budget` bounds the first check and the first round of attempts;
 * its deadline, if any, bounds the whole call.
 */
export function resolveKvHistory(
  operations: readonly KvOperation[],
  budget: CheckBudget = DEFAULT_CHECK_BUDGET,
  options: ResolveOptions = DEFAULT_RESOLVE_OPTIONS,
): Resolved {
  const model = kvModel({ revisions: recordsRevisions(operations) });
  const first = checkHistory(model, operations, budget);
  if (first.verdict !== 'unknown')
    return {
      result: first,
      text: explain(model, operations, first),
      firstVerdict: first.verdict,
      keys: [],
    };
  const byLabel = new Map(partitionByKey(operations).map((p) => [p.label, p]));
  const keys: KeyResolution[] = [];
  let steps = first.steps;
  // The explanation shows each decided key as the form that decided it saw it (a truncation's
  // opened operations without their answers); forms change only their own key's operations.
  const shown = [...operations];
  const parts = first.parts.map((p) => {
    const part = byLabel.get(p.label);
    if (p.verdict !== 'unknown' || part === undefined) return p;
    const { resolution, decided } = resolveKey(model, operations, part, budget, options);
    keys.push(resolution);
    steps += resolution.attempts.reduce((n, a) => n + a.steps, 0);
    if (decided === undefined) return p;
    for (const i of part.indexes) shown[i] = decided.form.operations[i] as KvOperation;
    return decided.part;
  });
  const result: CheckResult = { ...first, parts, steps, verdict: combinedVerdict(first, parts) };
  const text = [explain(model, shown, result), ...describeResolution(keys)].join('\n');
  return { result, text, firstVerdict: first.verdict, keys };
}
