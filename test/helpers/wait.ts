/**
 * Waits for a condition with a bound (STYLE.md section 8): polls `check` every few milliseconds
 * and fails with `what` when `timeoutMs` passes (a function is called then, to describe the state
 * that was reached). Never a fixed sleep.
 */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `waitFor` for a check that must do I/O (an HTTP call): at most one check in flight. */
export async function waitForAsync(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
