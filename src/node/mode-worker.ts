/**
 * `worker` mode (docs/design/worker-tier.md, "The worker"): the node is a worker of a worker
 * tier. It never enters consensus and has no cluster transport; it registers with a token from
 * `tokenFile`, keeps its key and certificate in `identityDir`, heartbeats and follows its
 * assignments over gRPC with mTLS (src/worker/worker.ts). Startup (key generation, reading the
 * identity) runs in the background: a failure stops the node with its error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShoalError, hasErrorCode } from '../base/errors.js';
import { workerClientConfig } from '../worker/core/config.js';
import { Worker } from '../worker/worker.js';
import type { ClusterMode } from './options.js';
import type { ModeRuntime, WiringContext } from './runtime.js';

export type WorkerMode = Extract<ClusterMode, { kind: 'worker' }>;

function readToken(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    // A worker that registered before needs no token: a missing file is not an error then.
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `mode.tokenFile (${path}): cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export function wireWorker(ctx: WiringContext, mode: WorkerMode): ModeRuntime & { worker: Worker } {
  const { options, io } = ctx;
  const worker = new Worker({
    servers: mode.servers,
    token: readToken(mode.tokenFile),
    identityDir: mode.identityDir ?? join(options.dataDir, 'worker-identity'),
    name: options.name,
    labels: options.labels,
    config: workerClientConfig(),
    mode: mode.assignments,
    clock: io.clock,
    rng: io.rng.fork('worker'),
    storage: io.storage,
    wallNowMs: () => Date.now(),
  });
  worker
    .start()
    .catch((err: unknown) =>
      ctx.fail(
        hasErrorCode(err, 'ERR_WORKER_CA')
          ? (err as ShoalError)
          : new ShoalError(
              'ERR_WORKER_CA',
              `the worker could not start: ${(err as Error).message}`,
              { cause: err },
            ),
      ),
    );
  const self = () => ({
    id: ctx.id,
    name: options.name,
    address: mode.servers[0] as string,
    state: 'alive' as const,
    incarnation: 1,
    labels: options.labels,
  });
  return {
    worker,
    members: () => [self()],
    leader: () => undefined,
    epoch: () => 1,
    leave: () => Promise.resolve(),
    close: () => worker.close(),
    halt: () => void worker.close(),
    stats: () => {
      let state;
      try {
        state = worker.clientState;
      } catch {
        state = undefined;
      }
      const protocol: Record<string, number> = {
        workerRegistered: state?.phase === 'registered' ? 1 : 0,
        workerLastRevision: worker.lastRevision,
        workerServerSwitches: state?.counters.serverSwitches ?? 0,
        workerDuplicateBatches: state?.counters.duplicateBatches ?? 0,
        workerGaps: state?.counters.gaps ?? 0,
        workerStandbyMoves: worker.standbyCounters.moves,
        workerStandbyMovesWarm: worker.standbyCounters.movesWarm,
      };
      return { protocol, decodeErrors: {}, drivers: {} };
    },
  };
}
