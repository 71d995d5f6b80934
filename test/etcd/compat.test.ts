/**
 * etcd compatibility (issue 14): the same checks (compat-checks.ts) run with the real clients,
 * Debian's etcdctl and the etcd3 npm client, against a 3-member Shoal cluster and against a real
 * 3-member etcd 3.4, so passing on both shows Shoal's endpoint behaves as etcd does. A system
 * whose tools are not installed is skipped with a message saying what is missing.
 *
 * The suite is itself checked: each mutant below is a Shoal whose KvService is deliberately
 * broken in one way a client would notice (and the endpoint passes on faithfully); the check
 * named with it must fail against it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShoalError } from '../../src/base/errors.js';
import type { KvService, KvWatch, WatchBatch } from '../../src/node/kv-service.js';
import { CHECKS, COMPAT_CHECKS, type CompatCheck } from './compat-checks.js';
import { killEtcdctls } from './etcdctl.js';
import { etcdSystems, startShoalDouble, type RunningSystem } from './systems.js';

let runs = 0;
const prefix = (): string => `compat-${process.pid}-${++runs}/`;

afterAll(() => killEtcdctls());

for (const system of etcdSystems()) {
  describe.skipIf(system.unavailable !== undefined)(
    `etcd compatibility: ${system.name}${system.unavailable === undefined ? '' : ` (skipped: ${system.unavailable})`}`,
    () => {
      let running: RunningSystem | undefined;
      beforeAll(async () => {
        running = await system.start();
      });
      afterAll(async () => {
        await running?.stop();
      });
      for (const check of COMPAT_CHECKS)
        it(check.name, async () => {
          if (running === undefined) throw new Error(`${system.name} did not start`);
          await check.run({ endpoints: running.endpoints, prefix: prefix() });
        });
    },
  );
}

/** A KvService that passes everything to `inner` except what `override` replaces. */
function broken(override: Partial<KvService>): (inner: KvService) => KvService {
  return (inner) =>
    new Proxy(inner, {
      get: (target, name, receiver) =>
        (override as Record<PropertyKey, unknown>)[name] ??
        (Reflect.get(target, name, receiver) as unknown),
    });
}

function mapBatches(watch: KvWatch, map: (batch: WatchBatch) => WatchBatch): KvWatch {
  async function* batches(): AsyncGenerator<WatchBatch> {
    for await (const batch of watch.batches) yield map(batch);
  }
  const poll = watch.poll;
  return {
    ...watch,
    id: watch.id,
    batches: batches(),
    progress: () => watch.progress(),
    cancel: () => watch.cancel(),
    // The poll form too (the watch stream takes batches through it when it is there).
    ...(poll === undefined
      ? {}
      : {
          poll: (wake: () => void) => {
            const next = poll(wake);
            return typeof next === 'string' ? next : map(next);
          },
        }),
  };
}

interface Mutant {
  readonly name: string;
  readonly check: CompatCheck;
  readonly wrap: (inner: KvService) => KvService;
}

const MUTANTS: Mutant[] = [
  {
    name: 'a compacted watch ends with a plain cancel instead of compact_revision',
    check: CHECKS.compactedWatch,
    wrap: (inner) =>
      broken({
        watch: (options) =>
          mapBatches(inner.watch(options), (batch) =>
            batch.kind === 'compacted'
              ? { kind: 'canceled', reason: 'compacted', header: batch.header }
              : batch,
          ),
      })(inner),
  },
  {
    name: 'revoking an unknown lease is refused as a bad argument',
    check: CHECKS.leases,
    wrap: (inner) =>
      broken({
        leaseRevoke: async (id, options) => {
          try {
            return await inner.leaseRevoke(id, options);
          } catch (err) {
            throw new ShoalError('ERR_INVALID_ARGUMENT', `lease ${id}: ${(err as Error).message}`);
          }
        },
      })(inner),
  },
  {
    name: 'put answers with the revision before its own',
    check: CHECKS.putGetDelete,
    wrap: (inner) =>
      broken({
        put: async (request, options) => {
          const result = await inner.put(request, options);
          return {
            ...result,
            header: {
              ...result.header,
              revision: (result.header.revision - 1) as typeof result.header.revision,
            },
          };
        },
      })(inner),
  },
  {
    name: 'txn ignores its compares (every txn succeeds)',
    check: CHECKS.lock,
    wrap: (inner) =>
      broken({ txn: (request, options) => inner.txn({ ...request, compare: [] }, options) })(inner),
  },
  {
    name: 'txn reports the branch it did not run',
    check: CHECKS.txn,
    wrap: (inner) =>
      broken({
        txn: async (request, options) => {
          const result = await inner.txn(request, options);
          return { ...result, succeeded: !result.succeeded };
        },
      })(inner),
  },
  {
    name: 'lease keep-alives are dropped (the lease expires while kept alive)',
    check: CHECKS.leaseExpiry,
    wrap: (inner) =>
      broken({
        leaseKeepAlive: async (id) => {
          const ttl = await inner.leaseTimeToLive(id);
          if (ttl.remainingMs < 0) throw new ShoalError('ERR_LEASE_NOT_FOUND', `lease ${id}`);
          return { id, ttlMs: ttl.grantedTtlMs, header: ttl.header };
        },
      })(inner),
  },
];

describe('the compatibility suite catches broken servers', () => {
  for (const mutant of MUTANTS)
    it(`${mutant.name}: "${mutant.check.name}" fails`, async () => {
      const running = await startShoalDouble({ wrap: mutant.wrap });
      try {
        await expect(
          mutant.check.run({ endpoints: running.endpoints, prefix: prefix() }),
        ).rejects.toThrow();
      } finally {
        await running.stop();
      }
    });
});
