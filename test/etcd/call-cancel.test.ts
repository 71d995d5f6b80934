/**
 * A unary call's cancellation (src/etcd/endpoint.ts CallCancel): the CancelSignal the store
 * waits on, behaving as an AbortSignal does for what the store uses of one: `aborted`, a
 * listener run once on the cancel, a removed listener not run, a listener added after the cancel
 * never run (the store checks `aborted` first).
 */
import { describe, expect, it } from 'vitest';
import { CallCancel } from '../../src/etcd/endpoint.js';

describe('CallCancel', () => {
  it('a signal asked for before the cancel aborts with it', () => {
    const cancel = new CallCancel();
    const signal = cancel.signal;
    expect(signal.aborted).toBe(false);
    cancel.cancel();
    expect(signal.aborted).toBe(true);
  });

  it('a signal asked for after the cancel is already aborted', () => {
    const cancel = new CallCancel();
    cancel.cancel();
    expect(cancel.signal.aborted).toBe(true);
  });

  it('is one signal however often asked for', () => {
    const cancel = new CallCancel();
    expect(cancel.signal).toBe(cancel.signal);
  });

  it('runs each listener once on the cancel, not the removed ones', () => {
    const cancel = new CallCancel();
    const ran: string[] = [];
    const a = (): void => void ran.push('a');
    const b = (): void => void ran.push('b');
    cancel.signal.addEventListener('abort', a, { once: true });
    cancel.signal.addEventListener('abort', b, { once: true });
    cancel.signal.removeEventListener('abort', a);
    cancel.cancel();
    cancel.cancel();
    expect(ran).toEqual(['b']);
  });

  it('never runs a listener added after the cancel, as an AbortSignal does', () => {
    const cancel = new CallCancel();
    const controller = new AbortController();
    cancel.cancel();
    controller.abort();
    const ran: string[] = [];
    cancel.signal.addEventListener('abort', () => ran.push('cancel'));
    controller.signal.addEventListener('abort', () => ran.push('controller'));
    expect(ran).toEqual([]);
  });
});
