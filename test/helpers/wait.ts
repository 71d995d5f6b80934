/**
 * Waits for a condition with a bound (STYLE.md section 8): polls `check` every few milliseconds
 * and fails with `what` when `timeoutMs` passes (a function is called then, to describe the state
 * that was reached). Never a fixed sleep.
 */
export async function waitFor(
  check: () => boolean,
  timeoutMs: number,
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for: ${typeof what === 'string' ? what : what()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Polls `probe` (which may do I/O and may throw) until it yields a value; fails after
 * `timeoutMs` with `what` and the last error. At most one probe in flight.
 */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for: ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`,
  );
}

/** `waitFor` for a check that must do I/O (an HTTP call). */
export async function waitForAsync(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  await until(async () => ((await check()) ? true : undefined), timeoutMs, what);
}
