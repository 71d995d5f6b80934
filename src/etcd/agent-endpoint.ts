/**
 * The agent's side of the etcd endpoint (`shoal agent --grpc H:P [--grpc-tls-cert F
 * --grpc-tls-key F --grpc-tls-ca F]`, INTERFACE.md): the four config fields, their validation
 * (called by src/agent/config.ts, so errors name the field and where it came from), and the
 * start of the endpoint over the node's KvService.
 *
 * Decisions (docs/etcd.md, "Serving it"): the endpoint is off unless `grpc` is given; only a
 * `raft` member serves it (the store lives there); the three TLS files go together, and TLS
 * always requires client certificates: a certificate from the CA is the credential, so there is
 * no TLS mode that lets anyone in.
 */
import { z } from 'zod';
import { splitAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { kvServiceOf } from '../node/kv-service.js';
import type { EtcdLog } from './endpoint.js';
import { startEtcdGrpcServer, type EtcdGrpcServer } from './server.js';
import { loadGrpcTls, type GrpcTls, type GrpcTlsFiles } from './tls.js';

/** Modes whose members serve the etcd endpoint. */
export const GRPC_MODES: readonly string[] = ['raft'];

const file = z.string().min(1, 'must name a file');

/** The agent config fields (added to src/agent/config.ts's schema). */
export const grpcConfigFields = {
  /** The etcd v3-compatible gRPC endpoint's listen address (mode raft); off when absent. */
  grpc: z
    .string()
    .refine((text) => splitAddress(text) !== undefined, 'must be host:port, e.g. 127.0.0.1:2379')
    .optional(),
  /** PEM certificate (chain) the endpoint presents. */
  grpcTlsCert: file.optional(),
  /** PEM private key of grpcTlsCert. */
  grpcTlsKey: file.optional(),
  /** PEM CA that signs the client certificates the endpoint accepts. */
  grpcTlsCa: file.optional(),
  /**
   * The gRPC server under the endpoint: `http2` (Shoal's lean server on node:http2, the
   * default) or `grpc-js` (@grpc/grpc-js's, the fallback). Same answers, same TLS.
   */
  grpcStack: z.enum(['http2', 'grpc-js']).optional(),
};

export interface EtcdEndpointConfig {
  /** `host:port` to listen on. */
  readonly address: string;
  readonly tls: GrpcTls | undefined;
  /** Absent: the default (`http2`). */
  readonly stack?: 'http2' | 'grpc-js';
}

/** Builds a config error for (field, value, what is allowed). */
export type GrpcConfigFault = (field: string, value: unknown, allowed: string) => Error;

const TLS_FIELDS: Record<keyof GrpcTlsFiles, 'grpcTlsCert' | 'grpcTlsKey' | 'grpcTlsCa'> = {
  cert: 'grpcTlsCert',
  key: 'grpcTlsKey',
  ca: 'grpcTlsCa',
};

/** Validates the grpc fields (reading and checking the TLS files); undefined when off. */
export function grpcEndpointOf(
  config: {
    mode: string;
    grpc?: string | undefined;
    grpcStack?: 'http2' | 'grpc-js' | undefined;
  } & Partial<Record<string, unknown>>,
  fault: GrpcConfigFault,
): EtcdEndpointConfig | undefined {
  const files: { -readonly [K in keyof GrpcTlsFiles]?: string } = {};
  for (const [name, field] of Object.entries(TLS_FIELDS) as [keyof GrpcTlsFiles, string][]) {
    const value = config[field];
    if (typeof value === 'string') files[name] = value;
  }
  const given = Object.keys(files) as (keyof GrpcTlsFiles)[];
  if (config.grpc === undefined) {
    const first = given[0];
    if (first !== undefined)
      throw fault(TLS_FIELDS[first], files[first], 'only used with grpc (--grpc H:P)');
    if (config.grpcStack !== undefined)
      throw fault('grpcStack', config.grpcStack, 'only used with grpc (--grpc H:P)');
    return undefined;
  }
  const stack = config.grpcStack === undefined ? {} : { stack: config.grpcStack };
  if (!GRPC_MODES.includes(config.mode))
    throw fault(
      'grpc',
      config.grpc,
      `the etcd endpoint is only served by mode ${GRPC_MODES.join(', ')}, but mode is ${config.mode}`,
    );
  if (given.length === 0) return { address: config.grpc, tls: undefined, ...stack };
  const missing = (Object.keys(TLS_FIELDS) as (keyof GrpcTlsFiles)[]).find((n) => !files[n]);
  if (missing !== undefined)
    throw fault(
      TLS_FIELDS[missing],
      undefined,
      'grpcTlsCert, grpcTlsKey and grpcTlsCa go together (TLS always requires client certificates)',
    );
  const tls = loadGrpcTls(files as GrpcTlsFiles, (name, path, problem) =>
    fault(TLS_FIELDS[name], path, problem),
  );
  return { address: config.grpc, tls, ...stack };
}

/** Starts the endpoint over the node's KvService; the node must keep a replicated store. */
export async function startEtcdEndpoint(
  node: { readonly mode: { readonly kind: string } },
  config: EtcdEndpointConfig,
  log: EtcdLog,
): Promise<EtcdGrpcServer> {
  const kv = kvServiceOf(node);
  if (kv === undefined)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid config: grpc ${JSON.stringify(config.address)}: mode ${node.mode.kind} keeps no replicated store to serve`,
    );
  return startEtcdGrpcServer(kv, {
    address: config.address,
    log,
    ...(config.tls === undefined ? {} : { tls: config.tls }),
    ...(config.stack === undefined ? {} : { stack: config.stack }),
  });
}
