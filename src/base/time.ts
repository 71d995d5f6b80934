/**
 * Time as data. Protocol cores never read a clock: every input carries `now: Millis`, and
 * deadlines live in state. Drivers read a `Clock`: the system one here (monotonic, so a wall
 * clock jump never fires or delays a protocol timer) or the simulator's virtual one.
 */
import type { Brand } from './brand.js';
import { assertSafeInt } from './assert.js';

/** Milliseconds, as a safe integer: a duration or a point on a monotonic clock. */
export type Millis = Brand<number, 'Millis'>;

/** Brands a safe non-negative integer number of milliseconds. */
export function ms(value: number): Millis {
  return assertSafeInt(value, 'Millis') as Millis;
}

/** Adds two durations or a point and a duration. */
export function addMs(a: Millis, b: Millis | number): Millis {
  return ms(a + b);
}

/** A cancellable timer handle returned by `Clock.setTimer`. */
export interface TimerHandle {
  cancel(): void;
}

/** The one time source a driver may use; `SystemClock` in production, `SimClock` in the simulator. */
export interface Clock {
  /** The current point on a monotonic clock, in whole milliseconds. */
  now(): Millis;
  /** Calls `callback` once, `delayMs` from now. Returns a handle that cancels it. */
  setTimer(delayMs: Millis, callback: () => void): TimerHandle;
}
