/**
 * A unary call's cancellation (src/etcd/endpoint.ts CallCancel): its AbortSignal is made only
 * when asked for, and aborted whether the cancel came before or after it was asked for.
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
});
