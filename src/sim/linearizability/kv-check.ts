/**
 * Checking a kv history in one call: the kv model with revision checks when the history records
 * revisions, the search, and the explanation text.
 */
import { checkHistory, DEFAULT_CHECK_BUDGET, type CheckBudget, type CheckResult } from './check.js';
import { explain } from './explain.js';
import { recordsRevisions } from './history-file.js';
import { kvModel, type KvInput, type KvOutput } from './kv-model.js';
import type { Operation } from './model.js';

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
