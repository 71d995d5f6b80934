/**
 * The user-facing store must never write the worker tier's keys (core/layout.ts): this wraps a
 * `KvService` so that a put, a delete or a txn that would write under the reserved prefix is
 * refused with ERR_RESERVED_KEY before it is proposed. Reads, watches, compares and leases pass
 * through. The node gives users (`node.kv`, the HTTP routes, the etcd gRPC endpoint) the wrapped
 * service and the worker tier the bare one.
 */
import { ShoalError } from '../base/errors.js';
import type { KvOp } from '../kv/types.js';
import type { KvService } from '../node/kv-service.js';
import { reservedWriteIn } from './core/layout.js';

/** The refusal for `op`, or undefined when it writes no reserved key. */
function refusal(op: KvOp): ShoalError | undefined {
  const key = reservedWriteIn(op);
  return key === undefined
    ? undefined
    : new ShoalError(
        'ERR_RESERVED_KEY',
        `${JSON.stringify(key)} is under the worker tier's reserved prefix "\\0shoal/worker/": use node.workers, not the key-value API`,
      );
}

/**
 * `kv` with put, deleteRange and txn checked first. Every other member is the service's own,
 * called on the service itself (a Proxy, not a prototype copy: a method that updates its
 * object's fields must update the one service, never a shadow of it).
 */
export function guardUserKv<T extends KvService>(kv: T): T {
  const guarded: Partial<KvService> = {
    put: (...args: Parameters<KvService['put']>) => {
      const refused = refusal({ kind: 'put', request: args[0] });
      return refused === undefined ? kv.put(...args) : Promise.reject(refused);
    },
    deleteRange: (...args: Parameters<KvService['deleteRange']>) => {
      const refused = refusal({ kind: 'delete-range', request: args[0] });
      return refused === undefined ? kv.deleteRange(...args) : Promise.reject(refused);
    },
    txn: (...args: Parameters<KvService['txn']>) => {
      const refused = refusal({ kind: 'txn', request: args[0] });
      return refused === undefined ? kv.txn(...args) : Promise.reject(refused);
    },
  };
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === 'put' || prop === 'deleteRange' || prop === 'txn') return guarded[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}
