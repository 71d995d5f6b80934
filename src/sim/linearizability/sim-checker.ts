/**
 * The linearizability checker as a simulator Checker (src/sim/checkers.ts): it checks the
 * history recorded so far each time the count of answered operations doubles (64, 128, 256, ...),
 * so the cost stays proportional to the run, and stops the run at the first history that is not
 * linearizable, with the explanation as the violation. A prefix of a linearizable history is
 * linearizable (open calls count as timed out), so checking early never raises a false alarm.
 * `unknown` is not a violation. Scenarios check the final history once more at the end of a run
 * (checkKvHistory), since the last doubling may not be reached.
 */
import type { Checker } from '../checkers.js';
import { DEFAULT_CHECK_BUDGET, type CheckBudget } from './check.js';
import { checkKvHistory } from './kv-check.js';
import type { HistoryRecorder } from './recorder.js';

/** Answered operations before the first check. */
export const SIM_CHECK_FIRST_OPERATIONS = 64;
/** Steps per check inside a simulation run (each check is a fresh budget). */
export const SIM_CHECK_STEPS_MAX = 2_000_000;

export function linearizabilityChecker<View>(
  recorderOf: (view: View) => HistoryRecorder,
  budget: CheckBudget = { ...DEFAULT_CHECK_BUDGET, stepsMax: SIM_CHECK_STEPS_MAX },
): Checker<View> {
  let nextAt = SIM_CHECK_FIRST_OPERATIONS;
  return {
    name: 'linearizable',
    check(view: View): readonly string[] {
      const recorder = recorderOf(view);
      if (recorder.answered() < nextAt) return [];
      nextAt *= 2;
      const { result, text } = checkKvHistory(recorder.operations(), budget);
      return result.verdict === 'illegal' ? [text] : [];
    },
  };
}
