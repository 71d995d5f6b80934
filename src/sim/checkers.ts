/**
 * Invariant checkers: the simulator's oracle. After every event the runner hands each checker a
 * read-only view of the world; a checker returns the violations it sees (empty when all holds)
 * and the run stops at the first one, so the trace ends right where the bug happened.
 *
 * Checkers may keep state between calls (a cursor into a delivery log, the last sequence number
 * per stream): the scenario builds fresh ones for every run.
 */

/** One broken invariant, at a point in virtual time. */
export interface Violation {
  /** The checker's name (or `runner`, `assertion`, `liveness`). */
  checker: string;
  timeMs: number;
  message: string;
}

export interface Checker<View> {
  readonly name: string;
  /** The violations in `view` now; must not change the world. */
  check(view: View): readonly string[];
}

/** Runs the checkers in order; the first violation found, or undefined. */
export function firstViolation<View>(
  checkers: readonly Checker<View>[],
  view: View,
  timeMs: number,
): Violation | undefined {
  for (const checker of checkers) {
    const found = checker.check(view);
    const message = found[0];
    if (message !== undefined) return { checker: checker.name, timeMs, message };
  }
  return undefined;
}

/**
 * A checker over an append-only log: `check` sees only the entries added since its last call,
 * so the cost per event stays proportional to what that event did.
 */
export function logChecker<View, Entry>(
  name: string,
  logOf: (view: View) => readonly Entry[],
  checkEntry: (entry: Entry, view: View) => string | undefined,
): Checker<View> {
  let seen = 0;
  return {
    name,
    check(view: View): readonly string[] {
      const log = logOf(view);
      const out: string[] = [];
      for (; seen < log.length; seen++) {
        const message = checkEntry(log[seen] as Entry, view);
        if (message !== undefined) out.push(message);
      }
      return out;
    },
  };
}
