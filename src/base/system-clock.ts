/**
 * The production clock: monotonic milliseconds from `performance.now()` and real timers.
 * This is the only file in `base/` that touches ambient time (lint allows it here only).
 */
import { performance } from 'node:perf_hooks';
import { ms, type Clock, type Millis, type TimerHandle } from './time.js';

export class SystemClock implements Clock {
  /** Offset so that `now()` starts near zero-ish but stays monotonic for the process lifetime. */
  private readonly originMs = performance.timeOrigin;

  now(): Millis {
    return ms(Math.floor(performance.now()));
  }

  /** Milliseconds since the Unix epoch, for logs and display only; never for protocol timing. */
  wallNowMs(): number {
    return Math.floor(this.originMs + performance.now());
  }

  setTimer(delayMs: Millis, callback: () => void): TimerHandle {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  }
}
