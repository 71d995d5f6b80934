/**
 * The etcd v3-compatible gRPC endpoint (issue 14): etcd's services over a KvService, so that
 * `etcdctl --endpoints H:P` and etcd's client libraries work against a Shoal `raft` member
 * (`shoal agent --grpc H:P`). Served: KV (Range, Put, DeleteRange, Txn, Compact), Watch, Lease
 * (Grant, Revoke, KeepAlive, TimeToLive, Leases), Cluster (MemberList), Maintenance (Status,
 * Alarm list). Every other method of etcd's API answers UNIMPLEMENTED at once, with a message
 * naming it (docs/etcd.md, "What is not served"): a client gets a clear error, never a hang.
 *
 * Served by a lean gRPC server on node:http2 (h2-server.ts) or, with `stack: 'grpc-js'`, by
 * @grpc/grpc-js, with the same handlers and etcd's own .proto definitions (src/etcd/proto/,
 * field numbers unchanged). With TLS (tls.ts) the endpoint serves TLS only and requires client
 * certificates.
 */
import {
  Server,
  status as Status,
  type ServerDuplexStream,
  type ServiceDefinition,
  type ServiceError,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { formatAddress, splitAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { KvService } from '../node/kv-service.js';
import { clusterHandlers, maintenanceHandlers } from './cluster-handlers.js';
import { etcdGrpcConfig, type EtcdGrpcConfig } from './config.js';
import { Endpoint, SILENT_LOG, type EtcdGrpcStats, type EtcdLog } from './endpoint.js';
import { listenH2, type H2Handler, type H2Method, type H2Route } from './h2-server.js';
import { kvHandlers } from './kv-handlers.js';
import { leaseHandlers } from './lease-handlers.js';
import { SERVICE_NAMES, serviceMethods, type ServiceName } from './proto.js';
import { shoalStatus } from './status.js';
import { serverCredentials, type GrpcTls } from './tls.js';
import { WatchStream } from './watch-stream.js';

/** etcd's server keepalive (--grpc-keepalive-interval, --grpc-keepalive-timeout defaults). */
const KEEPALIVE_TIME_MS = 2 * 60 * 60 * 1000;
const KEEPALIVE_TIMEOUT_MS = 20_000;

export interface EtcdGrpcServerOptions {
  /** Listen address, `host:port` (`[::1]:port` for IPv6; port 0 lets the OS choose). */
  address: string;
  /** TLS with required client certificates; absent: plaintext. */
  tls?: GrpcTls;
  config?: Partial<EtcdGrpcConfig>;
  log?: EtcdLog;
  /**
   * The gRPC server: `http2` (default), the lean server on node:http2 (h2-server.ts), or
   * `grpc-js`, @grpc/grpc-js's. Same handlers, same answers; `http2` spends less per call.
   */
  stack?: 'http2' | 'grpc-js';
}

export interface EtcdGrpcServer {
  /** The bound `host:port`. */
  readonly address: string;
  /** The endpoint as etcd clients write it: `http://host:port`, or `https://` with TLS. */
  readonly url: string;
  stats(): EtcdGrpcStats;
  /** Stops accepting calls, lets running ones finish for closeGraceMs, then cuts them. */
  close(): Promise<void>;
}

/** Which methods each service serves; every other method answers UNIMPLEMENTED. */
function servedHandlers(ep: Endpoint): Record<ServiceName, UntypedServiceImplementation> {
  return {
    KV: kvHandlers(ep),
    Watch: {
      Watch: (call: ServerDuplexStream<object, object>) => new WatchStream(ep, call),
    },
    Lease: leaseHandlers(ep),
    Cluster: clusterHandlers(ep),
    Maintenance: maintenanceHandlers(ep),
    Auth: {},
  };
}

function notServedReason(service: ServiceName, method: string): string {
  const what = `etcdserverpb.${service}/${method} is not served by Shoal's etcd endpoint`;
  return service === 'Auth'
    ? `${what}: authenticate with a TLS client certificate (--grpc-tls-ca) instead of users and roles`
    : `${what} (docs/etcd.md lists what is)`;
}

/** An UNIMPLEMENTED answer for any kind of call (unary, client, server or bidi stream). */
function notServed(ep: Endpoint, service: ServiceName, method: string): UntypedHandleCall {
  const name = `${service}/${method}`;
  const error = (): ServiceError =>
    ep.refuseWith(name, shoalStatus(Status.UNIMPLEMENTED, notServedReason(service, method)));
  return (call: { emit(event: 'error', error: ServiceError): unknown }, callback?: unknown) => {
    ep.countCall(name);
    if (typeof callback === 'function') (callback as (e: ServiceError) => void)(error());
    else call.emit('error', error());
  };
}

/** Every method of etcd's services with its handler (served, or UNIMPLEMENTED). */
function services(ep: Endpoint) {
  const served = servedHandlers(ep);
  return SERVICE_NAMES.map((service) => {
    const methods = serviceMethods(service);
    const handlers: UntypedServiceImplementation = {};
    for (const method of Object.keys(methods))
      handlers[method] = served[service][method] ?? notServed(ep, service, method);
    return { methods, handlers };
  });
}

function registerServices(server: Server, ep: Endpoint): void {
  for (const { methods, handlers } of services(ep))
    server.addService(methods as ServiceDefinition, handlers);
}

/** The lean server's routes: `/etcdserverpb.Service/Method` -> method and handler. */
function routes(ep: Endpoint): Map<string, H2Route> {
  const table = new Map<string, H2Route>();
  for (const { methods, handlers } of services(ep))
    for (const [name, method] of Object.entries(methods)) {
      const handler = handlers[name];
      if (handler !== undefined)
        table.set(method.path, {
          method: method as unknown as H2Method,
          handler: handler as unknown as H2Handler,
        });
    }
  return table;
}

function bind(server: Server, host: string, port: number, tls: GrpcTls | undefined) {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(formatAddress(host, port), serverCredentials(tls), (err, bound) =>
      err === null ? resolve(bound) : reject(err),
    ),
  );
}

/** Starts the endpoint over `kv`; throws ERR_GRPC_LISTEN when it cannot listen. */
export async function startEtcdGrpcServer(
  kv: KvService,
  options: EtcdGrpcServerOptions,
): Promise<EtcdGrpcServer> {
  const config = etcdGrpcConfig(options.config);
  const hostPort = splitAddress(options.address);
  if (hostPort === undefined)
    throw new ShoalError(
      'ERR_GRPC_LISTEN',
      `etcd gRPC address ${JSON.stringify(options.address)} is not host:port (e.g. 127.0.0.1:2379)`,
    );
  const ep = new Endpoint(kv, config, options.log ?? SILENT_LOG);
  if (options.stack !== 'grpc-js') return startH2(ep, config, hostPort, options);
  const server = new Server({
    'grpc.max_receive_message_length': config.receiveMessageBytesMax,
    'grpc.max_send_message_length': -1,
    'grpc.max_concurrent_streams': config.streamsPerConnectionMax,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  });
  registerServices(server, ep);
  let port: number;
  try {
    port = await bind(server, hostPort.host, hostPort.port, options.tls);
  } catch (err) {
    server.forceShutdown();
    throw new ShoalError(
      'ERR_GRPC_LISTEN',
      `the etcd gRPC endpoint cannot listen on ${options.address}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const address = formatAddress(hostPort.host, port);
  let closing: Promise<void> | undefined;
  return {
    address,
    url: `${options.tls === undefined ? 'http' : 'https'}://${address}`,
    stats: () => ep.stats,
    close: () => (closing ??= shutdown(server, config.closeGraceMs)),
  };
}

async function startH2(
  ep: Endpoint,
  config: EtcdGrpcConfig,
  hostPort: { host: string; port: number },
  options: EtcdGrpcServerOptions,
): Promise<EtcdGrpcServer> {
  let server;
  try {
    server = await listenH2(hostPort.host, hostPort.port, routes(ep), {
      receiveMessageBytesMax: config.receiveMessageBytesMax,
      streamsPerConnectionMax: config.streamsPerConnectionMax,
      keepaliveMs: KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
  } catch (err) {
    throw new ShoalError(
      'ERR_GRPC_LISTEN',
      `the etcd gRPC endpoint cannot listen on ${options.address}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const address = formatAddress(hostPort.host, server.port);
  return {
    address,
    url: `${options.tls === undefined ? 'http' : 'https'}://${address}`,
    stats: () => ep.stats,
    close: () => server.close(config.closeGraceMs),
  };
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
