/**
 * `worker-server` mode (docs/design/worker-tier.md): a Raft voter of the replicated store (raft
 * mode's wiring, mode-raft.ts, with `peers` as the initial voters) plus the worker tier's gRPC
 * listener (src/worker/server.ts) on that store's KvService. The tier writes under its reserved
 * prefix through the bare service; users (`node.kv`, the HTTP routes, the etcd endpoint) get the
 * guarded one (src/worker/guard.ts), which refuses writes under the prefix with
 * ERR_RESERVED_KEY before they are proposed. The tier's deadlines follow the Raft leader:
 * leader changes reach it as the raft wiring publishes them.
 *
 * The listener starts in the background (its CA is read or created, its port bound); `ready`
 * settles when it serves, and createNode waits for it, so a node it returns takes tokens.
 */
import { join } from 'node:path';
import { ShoalError } from '../base/errors.js';
import { workerServerConfig } from '../worker/core/config.js';
import { guardUserKv } from '../worker/guard.js';
import { WorkerServer, type LeaderView } from '../worker/server.js';
import { wireRaft, type RaftMode } from './mode-raft.js';
import { workerServerSettingsOf, type ClusterMode } from './options.js';
import type { WiringContext } from './runtime.js';

export type WorkerServerMode = Extract<ClusterMode, { kind: 'worker-server' }>;

export function wireWorkerServer(ctx: WiringContext, mode: WorkerServerMode) {
  const listeners = new Set<(leader: LeaderView | undefined) => void>();
  let leader: LeaderView | undefined;
  const raftCtx: WiringContext = {
    ...ctx,
    publishLeader: (info, term) => {
      ctx.publishLeader(info, term);
      leader = info === undefined ? undefined : { id: info.id, term: info.term };
      for (const listener of listeners) listener(leader);
    },
  };
  const raftMode: RaftMode = { kind: 'raft', peers: mode.peers, join: [] };
  const raft = wireRaft(raftCtx, raftMode);
  const kv = raft.kv;
  if (kv === undefined)
    throw new ShoalError('ERR_INVALID_CONFIG', 'worker-server mode needs the replicated store');
  const { options, io, identity } = ctx;
  const workers = new WorkerServer(
    {
      kv,
      selfId: ctx.id,
      name: options.name,
      clusterId: options.clusterId,
      signer: { publicKey: identity.publicKey, sign: (data) => identity.sign(data) },
      leader: () => leader,
      onLeader: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      clock: io.clock,
      rng: io.rng.fork('worker-server'),
      storage: io.storage,
      wallNowMs: () => Date.now(),
    },
    {
      listen: mode.workerListen,
      caDir: mode.workerCaDir ?? join(options.dataDir, 'worker-ca'),
      config: workerServerConfig(workerServerSettingsOf(mode)),
    },
  );
  const ready = workers.start();
  // A failure is createNode's to report (it awaits `ready`); nothing else waits on it.
  ready.catch(() => undefined);
  return {
    ...raft,
    workers,
    ready,
    /** The store users see: writes under the worker tier's prefix are refused. */
    userKv: guardUserKv(kv),
    close: async () => {
      await workers.close();
      await raft.close();
    },
    halt: () => {
      void workers.close();
      raft.halt();
    },
    stats: () => {
      const inner = raft.stats();
      let own: Record<string, number> = {};
      try {
        own = workers.stats();
      } catch {
        // Not started yet: no counters.
      }
      const tier = Object.fromEntries(Object.entries(own).map(([k, v]) => [`workerTier_${k}`, v]));
      return { ...inner, protocol: { ...inner.protocol, ...tier } };
    },
  };
}
