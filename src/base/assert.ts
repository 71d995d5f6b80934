/**
 * Assertions for programmer errors (STYLE.md section 6, kind 3). They stay on in production:
 * a broken invariant stops the process (or fails a simulation run) instead of corrupting
 * cluster state. Bad input from the network or a user is never asserted on; it is rejected.
 */

/** Thrown when an assertion fails: always a bug in Shoal or in its caller's use of an API. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Fails with `message` unless `condition` holds. Split compound conditions so the message says what broke. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch the type checker proves unreachable (exhaustive switches). */
export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** Asserts that `value` is a safe integer within [min, max]; returns it for chaining. */
export function assertSafeInt(
  value: number,
  what: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  assert(Number.isSafeInteger(value), `${what} must be a safe integer, got ${value}`);
  assert(value >= min, `${what} must be >= ${min}, got ${value}`);
  assert(value <= max, `${what} must be <= ${max}, got ${value}`);
  return value;
}
