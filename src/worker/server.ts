/**
 * A worker-server's worker tier (docs/design/worker-tier.md): the gRPC listener workers talk
 * to, on top of this server's replicated store (a `KvService`) and its Raft leadership. Every
 * server serves registration, certificates, assignment streams and long-polls from its own
 * applied state; heartbeats reach the leader's liveness tracker (forwarded by followers); the
 * leader alone writes status changes and reconciles assignments.
 *
 * Nothing the tier must remember lives only here: token use counts, worker records and status,
 * services and assignments are in the store, so a failover loses nothing but the leader's
 * in-memory deadlines, which the new leader rebuilds with the failover TTL.
 */
import * as grpc from '@grpc/grpc-js';
import { splitAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import type { Clock } from '../base/time.js';
import type { KvService } from '../node/kv-service.js';
import { MESSAGE_BYTES_MAX, workerApi } from './api.js';
import { loadOrCreateCa, type WorkerCa } from './ca.js';
import { heartbeatTtlBaseMsFor, type WorkerServerConfig } from './core/config.js';
import { keys } from './core/layout.js';
import { records, specBytes, SPEC_BYTES_MAX, type ServiceRecord } from './core/records.js';
import { serviceState, type ServiceState } from './core/scale.js';
import { revokeTokenTxn, withStatus, recordCasTxn } from './core/txns.js';
import { Heartbeats, HeartbeatForwarder } from './heartbeats.js';
import { AssignmentHub, HUB_DEFAULTS, type HubLimits } from './hub.js';
import { handlers, type HandlerContext } from './handlers.js';
import { Scheduler } from './scheduler.js';
import {
  issueToken,
  type CreateTokenOptions,
  type IssuedToken,
  type TokenSigner,
} from './tokens.js';
import { StoreView } from './view.js';
import { isName } from './core/layout.js';
import { TrustProvider, serverChannelCredentials } from './tls.js';

/**
 * How often every assignment stream gets a progress notification (its position) at least, ms.
 * With many workers the period is the heartbeat TTL base instead (`progressIntervalMsFor`), so
 * the progress messages of all streams stay within the heartbeat rate budget (at 10,000
 * workers, 30 s would be 333 messages/s, ten times the heartbeats).
 */
export const PROGRESS_INTERVAL_MS = 30_000;

/** The progress period for `workers` tracked workers: the longer of PROGRESS_INTERVAL_MS and the TTL base, ms. */
export function progressIntervalMsFor(workers: number, config: WorkerServerConfig): number {
  return Math.max(PROGRESS_INTERVAL_MS, heartbeatTtlBaseMsFor(workers, config));
}

export interface LeaderView {
  id: string;
  term: number;
}

/** What a worker-server needs from its node. */
export interface WorkerServerHost {
  readonly kv: KvService;
  readonly selfId: string;
  readonly name: string;
  readonly clusterId: string;
  /** The node identity: signs tokens. */
  readonly signer: TokenSigner;
  leader(): LeaderView | undefined;
  /** Calls `listener` on every leader change; returns the unsubscribe function. */
  onLeader(listener: (leader: LeaderView | undefined) => void): () => void;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly storage: Storage;
  /** Wall-clock ms (token expiry, certificate validity); the liveness tracker never reads it. */
  wallNowMs(): number;
}

export interface WorkerServerOptions {
  /** host:port of the gRPC listener (port 0: any free port). */
  listen: string;
  /** The address workers and other servers use, when it differs from `listen`. */
  advertise?: string;
  caDir: string;
  config: WorkerServerConfig;
  hub?: Partial<HubLimits>;
  /** Check the liveness core's invariants after every step (tests). */
  checkInvariants?: boolean;
}

export interface WorkerInfo {
  id: string;
  name: string;
  status: string;
  reason: string;
  labels: Record<string, string>;
  certNotAfterMs: number;
  /** Leader only: the TTL last granted and ms until the worker is declared down. */
  ttlMs?: number;
  expiresInMs?: number;
  assignments: number;
}

export interface ScaleOptions {
  roles?: string[];
  spec?: unknown;
  placement?: ServiceRecord['placement'];
}

export class WorkerServer {
  readonly view: StoreView;
  private hub!: AssignmentHub;
  private heartbeats!: Heartbeats;
  private scheduler!: Scheduler;
  private forwarder!: HeartbeatForwarder;
  private ca!: WorkerCa;
  private readonly server = new grpc.Server({
    'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
    'grpc.max_send_message_length': MESSAGE_BYTES_MAX,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  private readonly trust = new TrustProvider();
  private readonly peers = new Map<string, grpc.Client>();
  private serverIdentity!: { certPem: string; keyPem: string };
  private unsubscribeLeader: (() => void) | undefined;
  private closed = false;
  private publishTimer: ReturnType<typeof setTimeout> | undefined;
  private progressTimer: ReturnType<typeof setTimeout> | undefined;
  address = '';
  readonly counters = {
    registrations: 0,
    /** Registrations being worked on now (handlers.ts admits at most REGISTRATIONS_IN_FLIGHT_MAX). */
    registering: 0,
    /** Registrations waiting for a place (handlers.ts, at most REGISTRATIONS_QUEUED_MAX). */
    registrationsQueued: 0,
    /** Queued registrations dropped unsigned because their caller gave up. */
    registrationsAbandoned: 0,
    /** Groups of signed registrations proposed together (handlers.ts, group commit). */
    registrationGroups: 0,
    refusedRegistrations: {} as Record<string, number>,
    heartbeats: 0,
    forwardedHeartbeats: 0,
    statusReports: 0,
    statusWrites: 0,
    renewals: 0,
  };
  /** Last status report per worker (resource usage stays here; states go to the store). */
  readonly reports = new Map<string, { atMs: number; containers: unknown[] }>();

  constructor(
    readonly host: WorkerServerHost,
    readonly options: WorkerServerOptions,
  ) {
    this.view = new StoreView(host.kv);
  }

  async start(): Promise<void> {
    const { host, options } = this;
    this.ca = await loadOrCreateCa(options.caDir, host.selfId, host.wallNowMs());
    await this.view.start();
    this.hub = new AssignmentHub(this.view, host.kv, { ...HUB_DEFAULTS, ...options.hub });
    this.scheduler = new Scheduler({
      kv: host.kv,
      view: this.view,
      selfId: host.selfId,
      leading: () => this.heartbeats.leading,
      wallNowMs: () => host.wallNowMs(),
      marked: (id, applied) => this.heartbeats.marked(id, applied),
    });
    this.heartbeats = new Heartbeats({
      config: options.config,
      clock: host.clock,
      rng: host.rng.fork('worker-liveness'),
      storage: host.storage,
      view: this.view,
      onMark: (effect) => this.scheduler.mark(effect),
      checkInvariants: options.checkInvariants ?? false,
    });
    this.forwarder = new HeartbeatForwarder((leaderId, ids) => this.forwardTo(leaderId, ids));
    this.onLeader(host.leader());
    this.unsubscribeLeader = host.onLeader((leader) => this.onLeader(leader));
    this.view.listen({ changed: () => this.trust.setBundle(this.bundle()) });
    await this.listen();
    this.publish();
    this.progressLater();
  }

  private progressLater(): void {
    if (this.closed) return;
    this.progressTimer = setTimeout(
      () => {
        this.hub.progress();
        this.progressLater();
      },
      progressIntervalMsFor(this.view.workers.size, this.options.config),
    );
    this.progressTimer.unref();
  }

  private onLeader(leader: LeaderView | undefined): void {
    if (leader?.id === this.host.selfId) {
      if (!this.heartbeats.leading) this.heartbeats.lead(leader.term);
      this.scheduler.poke();
    } else if (this.heartbeats.leading) this.heartbeats.unlead();
  }

  /** Every CA certificate of the cluster, this server's own included even before it is published. */
  bundle(): string[] {
    const pems = this.view.bundle();
    return pems.includes(this.ca.certPem) ? pems : [...pems, this.ca.certPem];
  }

  private async listen(): Promise<void> {
    const hostPort = splitAddress(this.options.listen);
    if (hostPort === undefined)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `workerListen (${this.options.listen}) must be host:port`,
      );
    this.serverIdentity = await this.ca.serverIdentity([hostPort.host], this.host.wallNowMs());
    this.trust.setIdentity(this.serverIdentity.certPem, this.serverIdentity.keyPem);
    this.trust.setBundle(this.bundle());
    const ctx: HandlerContext = {
      server: this,
      view: this.view,
      hub: this.hub,
      heartbeats: this.heartbeats,
      forwarder: this.forwarder,
      ca: this.ca,
      host: this.host,
      config: this.options.config,
    };
    this.server.addService(workerApi().service, handlers(ctx));
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.options.listen, this.trust.serverCredentials(), (err, bound) =>
        err === null
          ? resolve(bound)
          : reject(
              new ShoalError(
                'ERR_TRANSPORT_BIND',
                `workerListen ${this.options.listen}: ${err.message}`,
                { cause: err },
              ),
            ),
      ),
    );
    const shown = hostPort.host.includes(':') ? `[${hostPort.host}]` : hostPort.host;
    this.address = this.options.advertise ?? `${shown}:${port}`;
  }

  /** Publishes this server's CA certificate and listener address in the store (retried until done). */
  private publish(): void {
    const { kv, selfId, name } = this.host;
    const server = records.server.encode({
      id: selfId,
      name,
      workerListen: this.address,
      caPin: this.ca.pin,
    });
    const attempt = async (): Promise<void> => {
      await kv.put({ key: keys.ca(selfId), value: new TextEncoder().encode(this.ca.certPem) });
      await kv.put({ key: keys.server(selfId), value: server });
    };
    const retry = (): void => {
      if (this.closed) return;
      attempt().catch(() => (this.publishTimer = setTimeout(retry, 500)));
    };
    const current = this.view.servers.get(selfId);
    if (current?.workerListen !== this.address || this.view.caPems.get(selfId) !== this.ca.certPem)
      retry();
  }

  /** ForwardHeartbeats to the leader's listener, over mTLS with this server's identity. */
  private forwardTo(
    leaderId: string,
    ids: readonly string[],
  ): Promise<{ workerId: string; ttlMs: number; refused: string }[]> {
    const client = this.peerClient(leaderId);
    if (client === undefined) return Promise.reject(new Error('leader address unknown'));
    return new Promise((resolve, reject) => {
      (client as unknown as Record<string, (...args: unknown[]) => void>)['forwardHeartbeats']?.(
        { workerIds: ids },
        { deadline: Date.now() + 5_000 },
        (
          err: grpc.ServiceError | null,
          res: { results: { workerId: string; ttlMs: number; refused: string }[] },
        ) => (err === null ? resolve(res.results) : reject(err)),
      );
    });
  }

  private peerClient(serverId: string): grpc.Client | undefined {
    const record = this.view.servers.get(serverId);
    if (record === undefined) return undefined;
    const key = `${serverId}@${record.workerListen}`;
    let client = this.peers.get(key);
    if (client === undefined) {
      const Api = workerApi();
      client = new Api(
        record.workerListen,
        serverChannelCredentials(this.bundle(), this.serverIdentity),
        {
          'grpc.max_receive_message_length': MESSAGE_BYTES_MAX,
          'grpc.ssl_target_name_override': 'shoal-worker-server',
        },
      );
      this.peers.set(key, client);
    }
    return client;
  }

  // ---- the library surface: node.workers ----

  /** Whether this server leads the tier (keeps the workers' deadlines). */
  get leading(): boolean {
    return this.heartbeats.leading;
  }

  /** Issues a bootstrap token signed by this server, pinning every known server CA. */
  createToken(options: CreateTokenOptions = {}): IssuedToken {
    const pins = [
      ...new Set([this.ca.pin, ...[...this.view.servers.values()].map((s) => s.caPin)]),
    ];
    return issueToken(options, {
      clusterId: this.host.clusterId,
      nowMs: this.host.wallNowMs(),
      caPins: pins.slice(0, 16),
      signer: this.host.signer,
      ttlMsMax: this.options.config.tokenTtlMsMax,
    });
  }

  async revokeToken(tokenId: string): Promise<void> {
    if (!/^[0-9a-f]{32}$/.test(tokenId))
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `token id ${JSON.stringify(tokenId)} is not 32 hex characters`,
      );
    await this.host.kv.txn(revokeTokenTxn(tokenId, this.host.wallNowMs()));
  }

  list(): WorkerInfo[] {
    const now = this.host.clock.now();
    const perNode = new Map<string, number>();
    for (const row of this.view.assignments.values())
      if (row.value.op === 'set') perNode.set(row.nodeId, (perNode.get(row.nodeId) ?? 0) + 1);
    const tracked = this.heartbeats.driver.state.workers;
    return [...this.view.workers.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((w) => {
        const t = tracked.get(w.id);
        const live = this.heartbeats.leading && t?.deadlineMs !== undefined;
        return {
          id: w.id,
          name: w.name,
          status: w.status,
          reason: w.reason,
          labels: w.labels,
          certNotAfterMs: w.certNotAfterMs,
          ...(live
            ? { ttlMs: t.ttlMs, expiresInMs: Math.max(0, (t.deadlineMs as number) - now) }
            : {}),
          assignments: perNode.get(w.id) ?? 0,
        };
      });
  }

  /** Drains (no new replicas; existing ones leave with grace) or revokes a worker. */
  async setStatus(
    id: string,
    status: 'drained' | 'revoked' | 'registered',
    reason: string,
  ): Promise<void> {
    const record = this.view.workers.get(id);
    if (record === undefined) throw new ShoalError('ERR_INVALID_ARGUMENT', `no worker ${id}`);
    const { modRevision, ...plain } = record;
    const result = await this.host.kv.txn(
      recordCasTxn(withStatus(plain, status, reason, this.host.wallNowMs()), modRevision),
    );
    if (!result.succeeded)
      throw new ShoalError('ERR_CAS_FAILED', `worker ${id} changed meanwhile; try again`);
  }

  /** Sets a service's desired replicas (and spec); the leader places and sends them. */
  async scale(
    service: string,
    replicas: number,
    options: ScaleOptions = {},
  ): Promise<ServiceRecord> {
    if (!isName(service))
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `service name ${JSON.stringify(service)}: 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit`,
      );
    if (!Number.isSafeInteger(replicas) || replicas < 0 || replicas > 10_000)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `replicas (${replicas}) must be an integer from 0 to 10000`,
      );
    for (const role of options.roles ?? [])
      if (!isName(role))
        throw new ShoalError(
          'ERR_INVALID_ARGUMENT',
          `role ${JSON.stringify(role)} is not a valid name`,
        );
    const previous = this.view.services.get(service);
    const spec = options.spec !== undefined ? options.spec : (previous?.spec ?? null);
    const bytes = specBytes(spec);
    if (bytes === undefined || bytes > SPEC_BYTES_MAX)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `spec must be JSON of at most ${SPEC_BYTES_MAX} bytes (got ${bytes ?? 'not JSON'})`,
      );
    const roles = options.roles ?? previous?.roles ?? [];
    const specChanged =
      previous === undefined ||
      JSON.stringify(previous.spec) !== JSON.stringify(spec) ||
      JSON.stringify(previous.roles) !== JSON.stringify(roles);
    const record: ServiceRecord = {
      service,
      replicas,
      roles,
      spec,
      placement: options.placement ?? previous?.placement ?? {},
      generation: (previous?.generation ?? 0) + (specChanged ? 1 : 0),
    };
    const key = keys.service(service);
    const result = await this.host.kv.txn({
      compare: [{ key, target: 'modRevision', op: '=', value: previous?.modRevision ?? 0 }],
      success: [{ kind: 'put', request: { key, value: records.service.encode(record) } }],
      failure: [],
    });
    if (!result.succeeded)
      throw new ShoalError('ERR_CAS_FAILED', `service ${service} changed meanwhile; try again`);
    return record;
  }

  state(service: string): ServiceState {
    const current = [...this.view.assignments.values()].filter((r) => r.service === service);
    return serviceState(service, this.view.services.get(service), current, this.view.statuses);
  }

  stats(): Record<string, number> {
    const live = this.heartbeats.driver.state;
    const byStatus: Record<string, number> = { registered: 0, down: 0, drained: 0, revoked: 0 };
    for (const w of this.view.workers.values()) byStatus[w.status] = (byStatus[w.status] ?? 0) + 1;
    return {
      leading: live.leading ? 1 : 0,
      ...Object.fromEntries(Object.entries(byStatus).map(([k, v]) => [`workers_${k}`, v])),
      heartbeats: this.counters.heartbeats,
      forwardedHeartbeats: this.forwarder.forwarded,
      registrations: this.counters.registrations,
      registrations_queued: this.counters.registrationsQueued,
      registrations_abandoned: this.counters.registrationsAbandoned,
      registration_groups: this.counters.registrationGroups,
      ...Object.fromEntries(
        Object.entries(this.counters.refusedRegistrations).map(([k, v]) => [`refused_${k}`, v]),
      ),
      subscribers: this.hub.subscribers,
      downMarks: live.counters.downMarksAsked,
      upMarks: live.counters.upMarksAsked,
      stalls: live.counters.stalls,
      badValues: this.view.badValues,
    };
  }

  /**
   * Stops at once, as a crashed server would look to its workers: every connection and stream
   * is cut (gRPC's forceShutdown) without waiting for calls to finish. Tests and benches.
   */
  halt(): void {
    void this.close();
    this.server.forceShutdown();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
    if (this.progressTimer !== undefined) clearTimeout(this.progressTimer);
    this.unsubscribeLeader?.();
    this.scheduler?.close();
    this.forwarder?.close();
    this.heartbeats?.close();
    this.view.close();
    for (const client of this.peers.values()) client.close();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }
}
