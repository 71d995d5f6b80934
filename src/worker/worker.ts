/**
 * A worker (`worker` mode, docs/design/worker-tier.md, "The worker"): the client core
 * (core/client) on the one generic driver, over gRPC with mTLS. This file is the shell: it keeps
 * the worker's key, certificate and trust bundle in `identityDir` (the key written 0600,
 * atomically), performs the core's calls, and hands delivered assignments to the application.
 *
 * Registration never shows the token to a server it cannot trust: the worker first fetches the
 * public trust bundle without verification, keeps only the CAs whose SHA-256 SPKI pins its
 * signed token carries, and registers over TLS verified against those alone.
 */
import type * as grpc from '@grpc/grpc-js';
import { connectivityState } from '@grpc/grpc-js';
import { join } from 'node:path';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import type { Clock } from '../base/time.js';
import type { ProtocolDriver, OutputOf } from '../node/driver.js';
import { clientDriver } from './drivers.js';
import {
  MESSAGE_BYTES_MAX,
  callFailureOf,
  messageFromWire,
  workerApi,
  type AssignmentMessage,
} from './api.js';
import {
  certFacts,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  csrKeysFromPem,
  spkiPin,
  type CsrKeys,
} from './ca.js';
import { nodeIdFromPublicKey } from '../identity/keys.js';
import type { AssignmentBatch, AssignmentSnapshot, CurrentAssignment } from './core/assignments.js';
import type {
  CallFailure,
  CallRequest,
  ClientMutations,
  ClientTypes,
} from './core/client/types.js';
import type { WorkerClientConfig } from './core/config.js';
import type { ContainerStatus } from './core/records.js';
import { decodeToken } from './core/token.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, readIfExists, writeFileAtomic } from './files.js';
import { joinPems, serverChannelCredentials, unverifiedCredentials } from './tls.js';

export const KEY_FILE = 'worker-key.pem';
export const CERT_FILE = 'worker-cert.pem';
export const BUNDLE_FILE = 'ca-bundle.pem';

export interface WorkerOptions {
  servers: readonly string[];
  /** The bootstrap token's text (from tokenFile); needed only until the first registration. */
  token: string | undefined;
  identityDir: string;
  name: string;
  labels: Record<string, string>;
  config: WorkerClientConfig;
  mode: 'stream' | 'poll';
  clock: Clock;
  rng: Rng;
  storage: Storage;
  wallNowMs(): number;
  mutations?: ClientMutations;
  onTrace?(line: string): void;
  /** Sync identity files to disk (default). Off only for benchmarks hosting many workers in one process. */
  identityFsync?: boolean;
  /**
   * Channels that carry no client certificate (the unverified bundle fetch and the pinned
   * registration), shared by the workers of one process that pass the same map: one TLS
   * handshake per server and kind instead of two per worker. A worker never closes them; the
   * owner of the map does. The mTLS channel, which carries the worker's own certificate, is
   * never shared.
   */
  sharedChannels?: Map<string, grpc.Client>;
  /**
   * Keep a warm standby mTLS channel (handshake done) to the next server of the list, the one
   * the client core moves to when its server fails, so a move costs a stream and no handshake
   * (docs/design/worker-tier.md, "Failover"). One more TLS connection per worker. Default true.
   */
  standbyChannel?: boolean;
}

/** What the application sees: a full snapshot (first, and after a resync), then batches. */
export type AssignmentUpdate =
  ({ kind: 'snapshot' } & AssignmentSnapshot) | ({ kind: 'batch' } & AssignmentBatch);

/** A container's status and resource usage, as the application reports it. */
export interface ContainerReport extends ContainerStatus {
  cpuCores?: number;
  memoryBytes?: number;
}

interface Identity {
  keyPem: string;
  /** The key read once, as node:crypto handles (for the CSRs). */
  keys: CsrKeys;
  certPem: string | undefined;
  bundle: string[];
  workerId: string;
}

type Stream = grpc.ClientReadableStream<AssignmentMessage>;
type Api = Record<string, (...args: unknown[]) => unknown> & grpc.Client;

/** Cancels a call whose answer nobody waits for any more (its late error is swallowed). */
function silence(handle: Stream | grpc.ClientUnaryCall): void {
  handle.removeAllListeners();
  (handle as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  handle.cancel();
}

const splitPems = (text: string): string[] =>
  text
    .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)
    ?.map((p) => (p.endsWith('\n') ? p : `${p}\n`)) ?? [];

/** SPKI pins of CA certificates seen, by PEM (the same few CAs for every worker of a process). */
const pins = new Map<string, string>();
/** Most pins remembered; beyond it the map starts over. */
const PINS_CACHED_MAX = 64;

/** The CA's SHA-256 SPKI pin, '' for a PEM that does not parse (it matches no token pin). */
function pinOf(pem: string): string {
  let pin = pins.get(pem);
  if (pin !== undefined) return pin;
  try {
    pin = spkiPin(pem);
  } catch {
    pin = '';
  }
  if (pins.size >= PINS_CACHED_MAX) pins.clear();
  pins.set(pem, pin);
  return pin;
}

export class Worker {
  private driver!: ProtocolDriver<ClientTypes>;
  private identity!: Identity;
  private readonly clients = new Map<string, Api>();
  /** The mTLS credentials of the current certificate (reset when it changes). */
  private mtls: grpc.ChannelCredentials | undefined;
  /** The server the worker's calls go to, and the heartbeats started there. */
  private at: string | undefined;
  private heartbeatsHere = 0;
  /** The server whose mTLS channel is kept warm as the next to move to (standbyChannel). */
  private standby: string | undefined;
  /** Standby channels made; moves to another server, and those onto a channel already READY. */
  readonly standbyCounters = { warmed: 0, moves: 0, movesWarm: 0 };
  private readonly streams = new Map<number, Stream | grpc.ClientUnaryCall>();
  private readonly updates: AssignmentUpdate[] = [];
  private readonly waiters = new Set<() => void>();
  private containers: ContainerReport[] = [];
  private closed = false;
  /** What the worker must run now, by service/index (from the deliveries). */
  readonly current = new Map<string, CurrentAssignment>();
  lastRevision = 0;
  stopReason: string | undefined;
  readonly counters = { bad: 0, delivered: 0, dropped: 0 };

  constructor(readonly options: WorkerOptions) {}

  get id(): string {
    return this.identity.workerId;
  }

  get clientState(): ClientTypes['state'] {
    return this.driver.state;
  }

  async start(): Promise<void> {
    this.identity = await this.loadIdentity();
    const { clock, config, servers, mode } = this.options;
    const registered = this.identity.certPem !== undefined;
    this.driver = clientDriver(
      {
        config,
        servers,
        mode,
        registered,
        ...(registered ? { renewAtMs: this.renewAtMs(this.identity.certPem as string) } : {}),
        ...(this.options.mutations === undefined ? {} : { mutations: this.options.mutations }),
      },
      {
        clock,
        storage: this.options.storage,
        rng: this.options.rng.fork('worker-client'),
        ...(this.options.onTrace === undefined ? {} : { onTrace: this.options.onTrace }),
      },
      (effect) => this.output(effect),
    );
    this.driver.start();
  }

  private async loadIdentity(): Promise<Identity> {
    const dir = this.options.identityDir;
    let keyPem = readIfExists(join(dir, KEY_FILE));
    if (keyPem === undefined) {
      keyPem = await exportPrivateKeyPem((await generateKeyPair()).privateKey);
      writeFileAtomic(
        join(dir, KEY_FILE),
        keyPem,
        PRIVATE_FILE_MODE,
        this.options.identityFsync ?? true,
      );
    }
    let workerId: string;
    let keys: CsrKeys;
    try {
      keys = csrKeysFromPem(keyPem);
      workerId = nodeIdFromPublicKey(keys.rawPublicKey);
    } catch (err) {
      throw new ShoalError(
        'ERR_WORKER_CA',
        `${join(dir, KEY_FILE)} is not an Ed25519 private key: restore it or remove the identity dir to register anew`,
        { cause: err },
      );
    }
    const certPem = readIfExists(join(dir, CERT_FILE));
    const bundle = splitPems(readIfExists(join(dir, BUNDLE_FILE)) ?? '');
    if (certPem !== undefined && certFacts(certPem).cn !== `worker-${workerId}`)
      throw new ShoalError(
        'ERR_WORKER_CA',
        `${join(dir, CERT_FILE)} is not this worker's certificate (its key is worker ${workerId})`,
      );
    return {
      keyPem,
      keys,
      certPem: certPem !== undefined && bundle.length > 0 ? certPem : undefined,
      bundle,
      workerId,
    };
  }

  /** Our clock's time to renew: when renewFraction of the certificate's validity is left. */
  private renewAtMs(certPem: string): number {
    const { notBeforeMs, notAfterMs } = certFacts(certPem);
    const renewWallMs = notAfterMs - (notAfterMs - notBeforeMs) * this.options.config.renewFraction;
    return this.options.clock.now() + Math.max(0, renewWallMs - this.options.wallNowMs());
  }

  private client(server: string, verified: boolean, rootPems?: readonly string[]): Api {
    const key = `${server}|${verified ? 'mtls' : rootPems === undefined ? 'open' : 'pinned'}`;
    const shared = verified ? undefined : this.options.sharedChannels;
    // A shared pinned channel trusts exactly these roots: they are part of its key.
    const sharedKey = `${key}|${(rootPems ?? []).join('')}`;
    let client = (shared?.get(sharedKey) as Api | undefined) ?? this.clients.get(key);
    if (client !== undefined) return client;
    const Api = workerApi();
    // One TLS context per identity, shared by the channel and its standby (building one parses
    // the key, the certificate and the bundle: the largest item of a registration's client CPU).
    const credentials = verified
      ? (this.mtls ??= serverChannelCredentials(this.identity.bundle, {
          certPem: this.identity.certPem as string,
          keyPem: this.identity.keyPem,
        }))
      : rootPems === undefined
        ? unverifiedCredentials()
        : serverChannelCredentials(rootPems, undefined);
    client = new Api(server, credentials, {
      'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      // Servers are checked by CN (tls.ts), not hostname; an IP as TLS server name is also deprecated.
      'grpc.ssl_target_name_override': 'shoal-worker-server',
    }) as unknown as Api;
    if (shared !== undefined) shared.set(sharedKey, client);
    else this.clients.set(key, client);
    return client;
  }

  /**
   * Keeps the mTLS channel to the server after `current` in the list connected, so the move
   * the client core makes when `current` fails needs no handshake. The standby is made at the
   * second heartbeat at a server (one TTL after the first), not at once: right after a
   * registration or a move, when the servers are busiest (a storm, a failover's arrivals), its
   * handshake would compete with theirs, and the TTLs' stagger spreads them. Every later
   * heartbeat asks it to connect again, which also resets gRPC's idle timer (30 min; a
   * heartbeat comes at most every 2 · 600 s). mTLS channels to any other server are closed.
   */
  private keepStandby(current: string, heartbeat: boolean): void {
    if (current !== this.at) {
      if (current === this.standby) {
        this.standbyCounters.moves++;
        const channel = this.clients.get(`${current}|mtls`)?.getChannel();
        if (channel?.getConnectivityState(false) === connectivityState.READY)
          this.standbyCounters.movesWarm++;
      } else if (this.at !== undefined) this.standbyCounters.moves++;
      this.at = current;
      this.heartbeatsHere = 0;
      this.standby = undefined;
      this.dropClients((key) => key.endsWith('|mtls') && key !== `${current}|mtls`);
    }
    if (heartbeat) this.heartbeatsHere++;
    const servers = this.options.servers;
    const i = servers.indexOf(current);
    if (this.options.standbyChannel === false || this.heartbeatsHere < 2 || i < 0) return;
    const next = servers[(i + 1) % servers.length];
    if (next === undefined || next === current) return;
    if (next !== this.standby) {
      this.standby = next;
      this.standbyCounters.warmed++;
    }
    this.client(next, true).getChannel().getConnectivityState(true);
  }

  private dropClients(filter: (key: string) => boolean): void {
    for (const [key, client] of this.clients) {
      if (!filter(key)) continue;
      client.close();
      this.clients.delete(key);
    }
  }

  private input(partial: Record<string, unknown> & { kind: string }): void {
    if (this.closed) return;
    this.driver.input({ ...partial, now: this.options.clock.now() } as never);
  }

  private failed(callId: number, failure: CallFailure): void {
    this.input({ kind: 'failed', callId, failure });
  }

  private output(effect: OutputOf<ClientTypes>): void {
    switch (effect.kind) {
      case 'call':
        return this.call(effect.callId, effect.server, effect.request);
      case 'cancel': {
        const handle = this.streams.get(effect.callId);
        this.streams.delete(effect.callId);
        if (handle !== undefined) silence(handle);
        return;
      }
      case 'deliver':
        return this.deliver({ kind: 'batch', ...effect.batch });
      case 'deliver-snapshot':
        return this.deliver({ kind: 'snapshot', ...effect.snapshot });
      case 'report-status':
        return this.sendStatus(effect.server, true);
      case 'stopped':
        this.stopReason = effect.reason;
        this.wakeAll();
        return;
    }
  }

  private deadline(): Date {
    return new Date(Date.now() + this.options.config.callTimeoutMs);
  }

  private call(callId: number, server: string, request: CallRequest): void {
    if (request.kind === 'heartbeat' || request.kind === 'assignments')
      this.keepStandby(server, request.kind === 'heartbeat');
    switch (request.kind) {
      case 'register':
        return void this.register(callId, server);
      case 'renew':
        return void this.renew(callId, server);
      case 'heartbeat': {
        const call = this.client(server, true)['heartbeat']?.(
          {},
          { deadline: this.deadline() },
          (err: grpc.ServiceError | null, res: { ttlMs: number }) => {
            this.streams.delete(callId);
            if (err !== null) this.failed(callId, callFailureOf(err));
            else this.input({ kind: 'heartbeat-ok', callId, ttlMs: res.ttlMs });
          },
        ) as grpc.ClientUnaryCall;
        this.streams.set(callId, call);
        return;
      }
      case 'assignments':
        return request.mode === 'stream'
          ? this.watch(callId, server, request)
          : this.poll(callId, server, request);
    }
  }

  private watch(
    callId: number,
    server: string,
    request: Extract<CallRequest, { kind: 'assignments' }>,
  ): void {
    const stream = this.client(server, true)['watchAssignments']?.({
      fromRevision: request.fromRevision,
      snapshot: request.snapshot,
    }) as Stream;
    this.streams.set(callId, stream);
    stream.on('data', (m: AssignmentMessage) =>
      this.input({
        kind: 'assignments',
        callId,
        ...messageFromWire(m, this.counters),
        end: false,
      }),
    );
    stream.on('error', (err: grpc.ServiceError) => {
      this.streams.delete(callId);
      this.failed(callId, callFailureOf(err));
    });
    stream.on('end', () => {
      if (this.streams.delete(callId)) this.failed(callId, { kind: 'unavailable' });
    });
  }

  private poll(
    callId: number,
    server: string,
    request: Extract<CallRequest, { kind: 'assignments' }>,
  ): void {
    const call = this.client(server, true)['poll']?.(
      {
        lastRevision: request.fromRevision - 1,
        maxWaitMs: this.options.config.pollWaitMs,
        snapshot: request.snapshot,
      },
      {
        deadline: new Date(
          Date.now() + this.options.config.pollWaitMs + this.options.config.callTimeoutMs,
        ),
      },
      (err: grpc.ServiceError | null, m: AssignmentMessage) => {
        this.streams.delete(callId);
        if (err !== null) this.failed(callId, callFailureOf(err));
        else
          this.input({
            kind: 'assignments',
            callId,
            ...messageFromWire(m, this.counters),
            end: true,
          });
      },
    ) as grpc.ClientUnaryCall;
    this.streams.set(callId, call);
  }

  private unary<Res>(client: Api, method: string, request: unknown): Promise<Res> {
    return new Promise((resolve, reject) =>
      client[method]?.(
        request,
        { deadline: this.deadline() },
        (err: grpc.ServiceError | null, res: Res) => (err === null ? resolve(res) : reject(err)),
      ),
    );
  }

  private async register(callId: number, server: string): Promise<void> {
    const token = this.options.token;
    const decoded = token === undefined ? undefined : decodeToken(token);
    if (decoded === undefined || !decoded.ok)
      return this.failed(callId, {
        kind: 'refused',
        reason:
          decoded === undefined
            ? 'no token: give tokenFile'
            : `${decoded.refusal}: ${decoded.detail}`,
      });
    try {
      const open = await this.unary<{ caPems: string[] }>(
        this.client(server, false),
        'trustBundle',
        {},
      );
      const pins = new Set(decoded.token.claims.caPins);
      const pinned = open.caPems.filter((pem) => pins.has(pinOf(pem)));
      // Nothing this server offers is pinned by the token: it is not (yet) one we may trust.
      if (pinned.length === 0) return this.failed(callId, { kind: 'unavailable' });
      const csrPem = await createCsr(this.identity.keys, this.options.name);
      const res = await this.unary<{ workerId: string; certPem: string; caPems: string[] }>(
        this.client(server, false, pinned),
        'register',
        { token, csrPem, name: this.options.name, labels: this.options.labels },
      );
      if (res.workerId !== this.identity.workerId)
        return this.failed(callId, { kind: 'unavailable' });
      this.saveCertificate(res.certPem, res.caPems);
      this.input({ kind: 'registered', callId, renewAtMs: this.renewAtMs(res.certPem) });
    } catch (err) {
      this.failed(
        callId,
        err instanceof ShoalError
          ? { kind: 'unavailable' }
          : callFailureOf(err as grpc.ServiceError),
      );
    }
  }

  private async renew(callId: number, server: string): Promise<void> {
    try {
      const csrPem = await createCsr(this.identity.keys, this.options.name);
      const res = await this.unary<{ certPem: string; caPems: string[] }>(
        this.client(server, true),
        'renew',
        { csrPem },
      );
      this.saveCertificate(res.certPem, res.caPems);
      this.input({ kind: 'renewed', callId, renewAtMs: this.renewAtMs(res.certPem) });
    } catch (err) {
      this.failed(callId, callFailureOf(err as grpc.ServiceError));
    }
  }

  private saveCertificate(certPem: string, bundle: string[]): void {
    const dir = this.options.identityDir;
    writeFileAtomic(
      join(dir, BUNDLE_FILE),
      joinPems(bundle),
      PUBLIC_FILE_MODE,
      this.options.identityFsync ?? true,
    );
    writeFileAtomic(
      join(dir, CERT_FILE),
      certPem,
      PUBLIC_FILE_MODE,
      this.options.identityFsync ?? true,
    );
    this.identity = { ...this.identity, certPem, bundle };
    this.mtls = undefined;
    // Channels made with the old certificate or bundle are replaced at the next call.
    this.dropClients(() => true);
  }

  private deliver(update: AssignmentUpdate): void {
    this.lastRevision = update.revision;
    this.counters.delivered++;
    if (update.kind === 'snapshot') {
      this.current.clear();
      for (const a of update.assignments) this.current.set(`${a.service}/${a.index}`, a);
    } else
      for (const e of update.events) {
        if (e.type === 'set' || e.type === 'drain') this.current.set(`${e.service}/${e.index}`, e);
        else if (e.type === 'delete') this.current.delete(`${e.service}/${e.index}`);
      }
    if (this.updates.length >= this.options.config.deliveryQueueMax) {
      this.updates.shift();
      this.counters.dropped++;
    }
    this.updates.push(update);
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Every update, in order, until the worker closes or stops (then the iterator ends). */
  async *assignments(
    options: { signal?: AbortSignal } = {},
  ): AsyncIterableIterator<AssignmentUpdate> {
    let next = 0;
    const base = this.counters.dropped;
    for (;;) {
      const index = next - (this.counters.dropped - base);
      if (index >= 0 && index < this.updates.length) {
        next++;
        yield this.updates[index] as AssignmentUpdate;
        continue;
      }
      if (this.closed || this.stopReason !== undefined || options.signal?.aborted === true) return;
      await new Promise<void>((resolve) => {
        this.waiters.add(resolve);
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  /** Reports containers' status and usage to the server the worker talks to (full state each time). */
  reportStatus(containers: readonly ContainerReport[]): void {
    this.containers = [...containers];
    const state = this.driver.state;
    if (state.phase === 'registered')
      this.sendStatus(state.servers[state.serverIndex] as string, false);
  }

  private sendStatus(server: string, full: boolean): void {
    if (this.driver.state.phase !== 'registered') return;
    const request = {
      full,
      revision: this.lastRevision,
      containers: this.containers.map((c) => ({ cpuCores: 0, memoryBytes: 0, ...c })),
    };
    this.client(server, true)['reportStatus']?.(
      request,
      { deadline: this.deadline() },
      () => undefined,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.input({ kind: 'stop' });
    this.closed = true;
    this.driver?.stop();
    for (const handle of this.streams.values()) silence(handle);
    this.streams.clear();
    this.dropClients(() => true);
    this.wakeAll();
  }
}
