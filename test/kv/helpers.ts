/**
 * Helpers for the key-value tests: text keys, a store that numbers its log entries, and
 * unwrapping of results.
 */
import { expect } from 'vitest';
import { logIndex } from '../../src/base/units.js';
import { kvConfig, type KvConfig } from '../../src/kv/config.js';
import { checkKvInvariants } from '../../src/kv/invariants.js';
import { apply, createKvStore, type KvState } from '../../src/kv/store.js';
import {
  leaseId,
  revision,
  type ApplyOutput,
  type KvOp,
  type KvResult,
  type LeaseId,
  type Revision,
  type Session,
} from '../../src/kv/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export const b = (text: string): Uint8Array => encoder.encode(text);
/** The text of UTF-8 bytes. */
export const t = (bytes: Uint8Array): string => decoder.decode(bytes);
export const rev = (n: number): Revision => revision(n);
export const lid = (n: number): LeaseId => leaseId(n);

/** A store with a log index counter; `run` applies and checks the invariants after each command. */
export class TestStore {
  readonly state: KvState;
  index = 0;

  constructor(config: Partial<KvConfig> = {}) {
    this.state = createKvStore(kvConfig(config));
  }

  run(op: KvOp, session?: Session): ApplyOutput {
    const out = apply(
      this.state,
      session === undefined ? { op } : { op, session },
      logIndex(++this.index),
    );
    expect(checkKvInvariants(this.state)).toEqual([]);
    return out;
  }

  /** Runs and returns the result. */
  do(op: KvOp, session?: Session): KvResult {
    return this.run(op, session).result;
  }

  put(key: string, value: string, options: { lease?: LeaseId; prevKv?: boolean } = {}): KvResult {
    return this.do({ kind: 'put', request: { key: b(key), value: b(value), ...options } });
  }

  del(key: string, rangeEnd?: string): KvResult {
    return this.do({
      kind: 'delete-range',
      request: rangeEnd === undefined ? { key: b(key) } : { key: b(key), rangeEnd: b(rangeEnd) },
    });
  }

  grant(id: number, ttlMs = 10_000): KvResult {
    return this.do({ kind: 'lease-grant', id: lid(id), ttlMs });
  }
}

/** Narrows a result to the kind expected, failing the test otherwise. */
export function as<K extends KvResult['kind']>(
  result: KvResult,
  kind: K,
): Extract<KvResult, { kind: K }> {
  if (result.kind !== kind)
    throw new Error(`expected a ${kind} result, got ${JSON.stringify(result)}`);
  return result as Extract<KvResult, { kind: K }>;
}

/** The error code of a result (undefined when it succeeded). */
export function codeOf(
  result: KvResult | { kind: string; code?: string } | undefined,
): string | undefined {
  return result !== undefined && result.kind === 'error'
    ? (result as { code: string }).code
    : undefined;
}
