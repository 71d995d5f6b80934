import { describe, expect, it } from 'vitest';
import { ms } from '../../src/base/time.js';
import { SimClock } from '../../src/sim/clock.js';

describe('SimClock', () => {
  it('runs events by time, and same-time events in insertion order', () => {
    const clock = new SimClock();
    const order: string[] = [];
    clock.setTimer(ms(5), () => order.push('b5'));
    clock.setTimer(ms(1), () => order.push('a1'));
    for (let i = 0; i < 20; i++) clock.setTimer(ms(3), () => order.push(`c3-${i}`));
    const outcome = clock.runUntilIdle({ eventsMax: 100 });
    expect(outcome).toEqual({ events: 22, stop: 'idle' });
    expect(order).toEqual(['a1', ...Array.from({ length: 20 }, (_, i) => `c3-${i}`), 'b5']);
    expect(clock.now()).toBe(5);
  });

  it('keeps order across many random insertions (heap property)', () => {
    const clock = new SimClock();
    const fired: [number, number][] = [];
    for (let i = 0; i < 5000; i++) {
      const t = (i * 7919) % 1000;
      clock.at(t, () => fired.push([t, i]));
    }
    clock.runUntilIdle({ eventsMax: 10_000 });
    const sorted = [...fired].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    expect(fired).toEqual(sorted);
  });

  it('cancel stops a timer; cancelling after it ran or twice is harmless', () => {
    const clock = new SimClock();
    const order: string[] = [];
    const a = clock.setTimer(ms(2), () => order.push('a'));
    clock.setTimer(ms(3), () => order.push('b'));
    a.cancel();
    a.cancel();
    expect(clock.pendingEvents()).toBe(1);
    clock.runUntilIdle({ eventsMax: 10 });
    expect(order).toEqual(['b']);
    a.cancel();
    expect(clock.pendingEvents()).toBe(0);
  });

  it('compacts a heap full of cancelled timers', () => {
    const clock = new SimClock();
    const handles = Array.from({ length: 3000 }, (_, i) =>
      clock.setTimer(ms(i + 1), () => undefined),
    );
    for (const h of handles.slice(0, 2900)) h.cancel();
    expect(clock.pendingEvents()).toBe(100);
    expect(clock.runUntilIdle({ eventsMax: 1000 }).events).toBe(100);
  });

  it('runUntil stops at the time, at eventsMax, or when the hook asks', () => {
    const clock = new SimClock();
    let ticks = 0;
    const tick = (): void => {
      ticks++;
      clock.setTimer(ms(10), tick);
    };
    clock.setTimer(ms(10), tick);
    expect(clock.runUntil(95, { eventsMax: 100 })).toEqual({ events: 9, stop: 'time' });
    expect(clock.now()).toBe(95);
    expect(clock.runUntil(10_000, { eventsMax: 5 })).toEqual({ events: 5, stop: 'events_max' });
    expect(clock.runUntil(10_000, { eventsMax: 100, afterEvent: () => ticks >= 20 })).toEqual({
      events: 6,
      stop: 'hook',
    });
  });

  it("parks a paused owner's timers and runs them on resume; killOwner drops them", () => {
    const clock = new SimClock();
    const order: string[] = [];
    const n1 = clock.nodeClock('n1');
    n1.setTimer(ms(10), () => order.push('n1@10'));
    clock.setTimer(ms(20), () => order.push(`harness@${clock.now()}`));
    clock.pauseOwner('n1');
    clock.runUntil(50, { eventsMax: 10 });
    expect(order).toEqual(['harness@20']);
    clock.resumeOwner('n1');
    clock.runUntilIdle({ eventsMax: 10 });
    expect(order).toEqual(['harness@20', 'n1@10']);
    expect(clock.now()).toBe(50);
    n1.setTimer(ms(5), () => order.push('dead'));
    clock.killOwner('n1');
    n1.setTimer(ms(5), () => order.push('reborn'));
    clock.runUntilIdle({ eventsMax: 10 });
    expect(order.slice(2)).toEqual(['reborn']);
  });

  it('a node clock view is offset and drifted, monotonic, and fires at its local deadline', () => {
    const clock = new SimClock();
    const fast = clock.nodeClock('fast', { skewMs: 100, driftPpm: 100_000 }); // +100 ms, 10% fast
    const slow = clock.nodeClock('slow', { skewMs: -50, driftPpm: -100_000 });
    expect(fast.now()).toBe(100);
    expect(slow.now()).toBe(0); // clamped at 0, never negative
    let firedFastAt = -1;
    let firedSlowAt = -1;
    fast.setTimer(ms(110), () => {
      firedFastAt = clock.now();
    });
    slow.setTimer(ms(90), () => {
      firedSlowAt = clock.now();
    });
    clock.runUntilIdle({ eventsMax: 10 });
    expect(firedFastAt).toBe(100); // 100 + floor(100 * 1.1) = 210 = 100 + 110
    expect(fast.localAt(99)).toBeLessThan(210);
    expect(firedSlowAt).toBe(156); // floor(156 * 0.9) - 50 = 90
    expect(slow.localAt(155)).toBeLessThan(90);
    let last = -1;
    for (let g = 0; g < 2000; g += 7) {
      const local = slow.localAt(g);
      expect(local).toBeGreaterThanOrEqual(last);
      last = local;
    }
  });

  it('a 0 ms timer on a node clock clamped at 0 by a large negative skew fires at once', () => {
    const clock = new SimClock();
    const behind = clock.nodeClock('behind', { skewMs: -5000, driftPpm: 0 });
    let firedAt = -1;
    behind.setTimer(ms(0), () => {
      firedAt = clock.now();
    });
    clock.runUntilIdle({ eventsMax: 10 });
    expect(firedAt).toBe(0);
    let laterAt = -1;
    behind.setTimer(ms(10), () => {
      laterAt = clock.now();
    });
    clock.runUntilIdle({ eventsMax: 10 });
    expect(laterAt).toBe(5010); // local time reaches 10 when global time is 5010
  });
  it('a clock step forward fires the timers it passes at once, brings the others sooner, keeps their order, and never goes back', () => {
    const clock = new SimClock();
    const n1 = clock.nodeClock('n1');
    const other = clock.nodeClock('n2');
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    n1.setTimer(ms(100), at('a'));
    n1.setTimer(ms(200), at('b'));
    n1.setTimer(ms(1000), at('c'));
    other.setTimer(ms(200), at('other'));
    const cancelled = n1.setTimer(ms(150), at('cancelled'));
    clock.runUntil(50, { eventsMax: 10 });
    cancelled.cancel();
    n1.step(500);
    expect(n1.now()).toBe(550);
    clock.runUntilIdle({ eventsMax: 10 });
    expect(fired).toEqual(['a@50', 'b@50', 'other@200', 'c@500']);
    expect(() => n1.step(-1)).toThrow();
  });
});
