/**
 * The linearizability checker for key-value histories (issue 13's proof tool): the history and
 * model contract (model.ts), the search (check.ts), the kv model with etcd semantics
 * (kv-model.ts), the explanation (explain.ts), the JSON file (history-file.ts), the recorder
 * clients use (recorder.ts) and the simulator checker (sim-checker.ts). See
 * docs/design/linearizability.md.
 */
import { checkHistory, DEFAULT_CHECK_BUDGET, type CheckBudget, type CheckResult } from './check.js';
import { explain } from './explain.js';
import { recordsRevisions } from './history-file.js';
import { kvModel, type KvInput, type KvOutput } from './kv-model.js';
import type { Operation } from './model.js';

export * from './check.js';
export * from './explain.js';
export * from './history-file.js';
export * from './kv-model.js';
export * from './model.js';

export interface KvCheck {
  readonly result: CheckResult;
  /** The report text (explain.ts). */
  readonly text: string;
}

/** Checks a kv history, with revision checks when it records revisions, and explains the result. */
export function checkKvHistory(
  operations: readonly Operation<KvInput, KvOutput>[],
  budget: CheckBudget = DEFAULT_CHECK_BUDGET,
): KvCheck {
  const model = kvModel({ revisions: recordsRevisions(operations) });
  const result = checkHistory(model, operations, budget);
  return { result, text: explain(model, operations, result) };
}
