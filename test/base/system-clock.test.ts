import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LATE_TIMER_YIELD_MS, SystemClock } from '../../src/base/system-clock.js';
import { ms } from '../../src/base/time.js';

/** Blocks the event loop for `blockMs` (a stand-in for a GC pause or a synchronous burst). */
function blockLoop(blockMs: number): void {
  const until = performance.now() + blockMs;
  while (performance.now() < until) {
    // busy: nothing else may run
  }
}

/** System timers are unref'd: a ref'd interval keeps the loop turning until the test is done (vitest's timeout bounds it). */
function holdLoop(): () => void {
  const handle = setInterval(() => undefined, 1000);
  return () => clearInterval(handle);
}

describe('SystemClock timers', () => {
  let release: (() => void) | undefined;
  afterEach(() => {
    release?.();
    release = undefined;
  });

  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });

  async function boundSocket(): Promise<Socket> {
    const socket = createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return socket;
  }

  it('a timer made late by a blocked loop runs after the input that arrived meanwhile', async () => {
    // The blocks below (20 and 100 ms) make the timer late by more than the yield threshold.
    expect(LATE_TIMER_YIELD_MS).toBeLessThan(20);
    const clock = new SystemClock();
    const receiver = await boundSocket();
    const sender = await boundSocket();
    const order: string[] = [];
    release = holdLoop();
    const done = new Promise<void>((resolve) => {
      receiver.on('message', () => order.push('packet'));
      clock.setTimer(ms(5), () => {
        order.push('timer');
        setImmediate(resolve);
      });
    });
    await new Promise<void>((resolve) =>
      sender.connect((receiver.address() as AddressInfo).port, '127.0.0.1', resolve),
    );
    // The packet arrives while the loop is blocked, and the timer falls due meanwhile: when the
    // loop turns again, both are ready, and libuv's timers phase comes before its poll phase.
    blockLoop(20);
    sender.send('ack');
    blockLoop(100);
    await done;
    expect(order).toEqual(['packet', 'timer']);
  });

  it('an on-time timer runs, and a cancelled one never does', async () => {
    const clock = new SystemClock();
    const fired: string[] = [];
    const cancelled = clock.setTimer(ms(1), () => fired.push('cancelled'));
    cancelled.cancel();
    release = holdLoop();
    await new Promise<void>((resolve) => {
      clock.setTimer(ms(2), () => {
        fired.push('kept');
        resolve();
      });
    });
    expect(fired).toEqual(['kept']);
  });

  it('cancelling a late timer after it yielded stops it', async () => {
    const clock = new SystemClock();
    const fired: string[] = [];
    const handle = clock.setTimer(ms(1), () => fired.push('late'));
    // Same due time, queued after it: runs in the same timers phase, after the late timer yielded
    // its callback to the check phase and before that phase runs it.
    setTimeout(() => handle.cancel(), 1);
    blockLoop(50);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(fired).toEqual([]);
  });
});
