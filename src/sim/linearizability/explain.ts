/**
 * Text for a check's result, written for the person who must find the bug: per part that is not
 * linearizable, the longest linearizable sequence the search found (each operation with the
 * state after it), then the operations that could come next and why none fits: the one that
 * returned first had to take effect by then, and the model refuses its output from every state
 * the sequence can end in (or every order that accepts it dead-ends later).
 */
import { initialStates, stepStates, type CheckResult, type PartResult } from './check.js';
import type { Model, Operation } from './model.js';

/** Lines of the longest sequence shown per part (its tail, where the trouble is). */
export const EXPLAIN_PREFIX_LINES_MAX = 12;
/** Candidate operations listed per part. */
export const EXPLAIN_CANDIDATES_MAX = 8;

function fmtTime(ms: number | undefined): string {
  if (ms === undefined) return '∞';
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(3);
}

export function describeOp<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  index: number,
): string {
  const op = operations[index] as Operation<I, O>;
  const interval = `[${fmtTime(op.callMs)}, ${fmtTime(op.returnMs)}]`;
  return `#${index} client ${op.clientId} ${interval} ${model.describeOperation(op.input, op.output)}`;
}

function describeStates<S, I, O>(model: Model<S, I, O>, states: readonly S[]): string {
  const text = states.map((s) => model.describeState(s));
  return text.length === 1 ? (text[0] as string) : `one of {${text.join(', ')}}`;
}

function explainPart<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  part: PartResult,
): string[] {
  const lines = [
    `${part.label}: NOT linearizable (${part.operations} operations searched, ${part.steps} steps).`,
  ];
  let state = initialStates(model);
  const sequence: string[] = [];
  for (const [position, index] of part.linearization.entries()) {
    const next = stepStates(model, state, operations[index] as Operation<I, O>);
    if (next === undefined) break; // cannot happen for a sequence the search accepted
    state = next;
    sequence.push(
      `  ${position + 1}. ${describeOp(model, operations, index)}   ⇒ ${describeStates(model, state.states)}`,
    );
  }
  lines.push(
    `  Longest linearizable sequence found: ${part.linearization.length} of ${part.operations}` +
      (sequence.length > EXPLAIN_PREFIX_LINES_MAX
        ? ` (last ${EXPLAIN_PREFIX_LINES_MAX} shown)`
        : ''),
    ...sequence.slice(-EXPLAIN_PREFIX_LINES_MAX),
  );
  if (part.linearization.length === 0)
    lines.push(`  Initial state: ${describeStates(model, state.states)}`);
  const placed = new Set(part.linearization);
  const rest = part.searched.filter((i) => !placed.has(i));
  const deadline = Math.min(
    ...rest.map((i) => (operations[i] as Operation<I, O>).returnMs ?? Number.POSITIVE_INFINITY),
  );
  const blocker = rest.find(
    (i) => ((operations[i] as Operation<I, O>).returnMs ?? Number.POSITIVE_INFINITY) === deadline,
  );
  if (blocker === undefined) return lines;
  lines.push(
    `  Then nothing fits. ${describeOp(model, operations, blocker)} had to take effect by its return at ${fmtTime(deadline)}; the operations that could come next (called by then):`,
  );
  const candidates = rest.filter((i) => (operations[i] as Operation<I, O>).callMs <= deadline);
  for (const i of candidates.slice(0, EXPLAIN_CANDIDATES_MAX)) {
    const after = stepStates(model, state, operations[i] as Operation<I, O>);
    const verdict =
      after === undefined
        ? `refused from ${describeStates(model, state.states)}`
        : `fits here, but every order after it dead-ends`;
    lines.push(`    ${describeOp(model, operations, i)}: ${verdict}`);
  }
  if (candidates.length > EXPLAIN_CANDIDATES_MAX)
    lines.push(`    … and ${candidates.length - EXPLAIN_CANDIDATES_MAX} more`);
  return lines;
}

/** The whole report: a verdict line, then every illegal or unknown part and cross-part problem. */
export function explain<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  result: CheckResult,
): string {
  const count = (verdict: string): number =>
    result.parts.filter((p) => p.verdict === verdict).length;
  const lines = [
    `${result.verdict.toUpperCase()}: ${operations.length} operations in ${result.parts.length} parts (model ${model.name}); ` +
      `${count('ok')} linearizable, ${count('illegal')} not, ${count('unknown')} unknown; ${result.steps} search steps; ` +
      `${result.droppedReads} unanswered reads dropped.`,
  ];
  for (const part of result.parts) {
    if (part.verdict === 'illegal') lines.push(...explainPart(model, operations, part));
    if (part.verdict === 'unknown')
      lines.push(
        `${part.label}: UNKNOWN (${part.reason ?? 'budget spent'}; ${part.operations} operations, longest sequence found ${part.linearization.length}).`,
      );
  }
  for (const problem of result.crossViolations) lines.push(`across parts: ${problem}`);
  return lines.join('\n');
}
