/**
 * The production clock: monotonic milliseconds from `performance.now()` and real timers.
 * This is the only file in `base/` that touches ambient time (lint allows it here only).
 */
import { performance } from 'node:perf_hooks';
import { ms, type Clock, type Millis, type TimerHandle } from './time.js';

/**
 * A timer that fires this late (ms past its due time) runs its callback after one more poll
 * phase (`setImmediate`), not at once. After the event loop was blocked (a long GC pause, a
 * synchronous burst, a stall), libuv runs due timers before it reads the sockets, so a probe's
 * timeout would fire while the ack that arrived during the stall still sits in the socket buffer:
 * every in-flight probe of every node in the process would fail at once. Yielding once lets that
 * input be read first; an on-time timer (the normal case) runs immediately as before.
 */
export const LATE_TIMER_YIELD_MS = 10;

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
    const dueAtMs = performance.now() + delayMs;
    let deferred: NodeJS.Immediate | undefined;
    const timer = setTimeout(() => {
      if (performance.now() - dueAtMs < LATE_TIMER_YIELD_MS) return callback();
      deferred = setImmediate(callback);
      deferred.unref();
    }, delayMs);
    timer.unref();
    return {
      cancel: () => {
        clearTimeout(timer);
        if (deferred !== undefined) clearImmediate(deferred);
      },
    };
  }
}
