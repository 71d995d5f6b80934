/**
 * An in-process worker tier for tests and the bench: WorkerServers sharing one KvDouble (one
 * replicated store), with a leader the test moves, and Workers talking to them over real gRPC
 * with mTLS on loopback. Directories are temporary and removed by `close`.
 */
import type * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/base/rng.js';
import { SystemClock } from '../../src/base/system-clock.js';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
} from '../../src/identity/keys.js';
import { FsStorage } from '../../src/node/fs-storage.js';
import {
  workerClientConfig,
  workerServerConfig,
  type WorkerClientSettings,
  type WorkerServerSettings,
} from '../../src/worker/core/config.js';
import type { ClientMutations } from '../../src/worker/core/client/types.js';
import { WorkerServer, type LeaderView, type WorkerServerHost } from '../../src/worker/server.js';
import { Worker } from '../../src/worker/worker.js';
import { KvDouble } from './kv-double.js';

/** Fast timings for tests: TTL base 300 ms, grace 300 ms, a sweep every 50 ms. */
export const FAST_SERVER: WorkerServerSettings = {
  minHeartbeatTtlMs: 300,
  maxHeartbeatTtlMs: 3_000,
  heartbeatGraceMs: 300,
  stallThresholdMs: 300,
  sweepIntervalMs: 50,
  pollWaitMsMax: 2_000,
};
export const FAST_CLIENT: WorkerClientSettings = {
  retryBackoffMinMs: 50,
  retryBackoffMaxMs: 200,
  callTimeoutMs: 2_000,
  pollWaitMs: 1_000,
};

export class Tier {
  readonly kv = new KvDouble();
  readonly clock = new SystemClock();
  readonly dir = mkdtempSync(join(tmpdir(), 'shoal-worker-'));
  readonly servers: WorkerServer[] = [];
  readonly workers: Worker[] = [];
  private leaderView: LeaderView | undefined;
  private readonly listeners = new Set<(l: LeaderView | undefined) => void>();
  private term = 0;
  private readonly rng = new Rng(42);

  get leader(): LeaderView | undefined {
    return this.leaderView;
  }

  /** Makes server `i` the leader in a new term (undefined: no leader). */
  setLeader(i: number | undefined): void {
    this.term++;
    this.leaderView =
      i === undefined
        ? undefined
        : { id: (this.servers[i] as WorkerServer).host.selfId, term: this.term };
    for (const l of this.listeners) l(this.leaderView);
  }

  async addServer(
    settings: WorkerServerSettings = FAST_SERVER,
    clusterId = 'test',
  ): Promise<WorkerServer> {
    const pair = generateRawKeyPair();
    const key = privateKeyFromSeed(pair.privateSeed);
    const selfId = nodeIdFromPublicKey(pair.publicKey);
    const i = this.servers.length;
    const host: WorkerServerHost = {
      kv: this.kv,
      selfId,
      name: `s${i}`,
      clusterId,
      signer: { publicKey: pair.publicKey, sign: (data) => signWith(key, data) },
      leader: () => this.leaderView,
      onLeader: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
      clock: this.clock,
      rng: this.rng.fork(`server/${i}`),
      storage: new FsStorage(join(this.dir, `s${i}`)),
      wallNowMs: () => Date.now(),
    };
    const server = new WorkerServer(host, {
      listen: '127.0.0.1:0',
      caDir: join(this.dir, `s${i}`, 'worker-ca'),
      config: workerServerConfig(settings),
      checkInvariants: true,
    });
    await server.start();
    this.servers.push(server);
    return server;
  }

  async addWorker(
    token: string | undefined,
    options: {
      servers?: string[];
      mode?: 'stream' | 'poll';
      name?: string;
      labels?: Record<string, string>;
      client?: WorkerClientSettings;
      mutations?: ClientMutations;
      identityDir?: string;
      identityFsync?: boolean;
      sharedChannels?: Map<string, grpc.Client>;
    } = {},
  ): Promise<Worker> {
    const i = this.workers.length;
    const worker = new Worker({
      servers: options.servers ?? this.servers.map((s) => s.address),
      token,
      identityDir: options.identityDir ?? join(this.dir, `w${i}`),
      name: options.name ?? `w${i}`,
      labels: options.labels ?? {},
      config: workerClientConfig({ ...FAST_CLIENT, ...options.client }),
      mode: options.mode ?? 'stream',
      clock: this.clock,
      rng: this.rng.fork(`worker/${i}`),
      storage: new FsStorage(join(this.dir, `w${i}`)),
      wallNowMs: () => Date.now(),
      ...(options.mutations === undefined ? {} : { mutations: options.mutations }),
      ...(options.identityFsync === undefined ? {} : { identityFsync: options.identityFsync }),
      ...(options.sharedChannels === undefined ? {} : { sharedChannels: options.sharedChannels }),
    });
    await worker.start();
    this.workers.push(worker);
    return worker;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(this.servers.map((s) => s.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
