/**
 * The in-process Shoal target of the etcd tests: one KvDouble with `members` virtual members,
 * each served by its own etcd gRPC endpoint on 127.0.0.1 (OS-chosen ports), so etcdctl sees a
 * cluster of that size. `wrap` lets a test put a deliberately broken KvService in front of a
 * member (the compatibility suite's mutants).
 */
import type { KvService } from '../../src/node/kv-service.js';
import type { EtcdGrpcConfig } from '../../src/etcd/config.js';
import { startEtcdGrpcServer, type EtcdGrpcServer } from '../../src/etcd/server.js';
import type { GrpcTls } from '../../src/etcd/tls.js';
import { KvDouble, type KvDoubleOptions } from './kv-double.js';

export interface DoubleClusterOptions extends KvDoubleOptions {
  config?: Partial<EtcdGrpcConfig>;
  tls?: GrpcTls;
  wrap?: (service: KvService) => KvService;
}

export interface DoubleCluster {
  readonly double: KvDouble;
  readonly servers: EtcdGrpcServer[];
  /** `host:port` of every member's endpoint. */
  readonly endpoints: string[];
  stop(): Promise<void>;
}

export async function startDoubleCluster(
  options: DoubleClusterOptions = {},
): Promise<DoubleCluster> {
  const double = new KvDouble(options);
  const servers: EtcdGrpcServer[] = [];
  try {
    for (let i = 0; i < double.members.length; i++) {
      const service = double.service(i);
      servers.push(
        await startEtcdGrpcServer(options.wrap?.(service) ?? service, {
          address: '127.0.0.1:0',
          ...(options.config === undefined ? {} : { config: options.config }),
          ...(options.tls === undefined ? {} : { tls: options.tls }),
        }),
      );
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    double.close();
    throw err;
  }
  servers.forEach((server, i) => double.setGrpcUrls(i, [server.url]));
  return {
    double,
    servers,
    endpoints: servers.map((s) => s.address),
    async stop() {
      double.close();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
