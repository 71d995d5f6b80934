/**
 * The etcd gRPC endpoint over the KvService test double (test/etcd/kv-double.ts), alone in a
 * child process so a bench can read its CPU from procfs without the load generator's. Run as a
 * script (argument: the gRPC stack, `http2` or `grpc-js`) it is the child: it prints one JSON line `{"address": "127.0.0.1:port"}` once serving,
 * and exits when its stdin closes. Imported, `spawnEndpointChild` is the parent's handle; the
 * parent keeps the PID and kills only that process.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startEtcdGrpcServer } from '../src/etcd/server.js';
import { KvDouble } from '../test/etcd/kv-double.js';
import { isMain } from './lib-report.js';

const READY_TIMEOUT_MS = 30_000;

export interface EndpointChild {
  readonly pid: number;
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** `stack`: the endpoint's gRPC server (server.ts), http2 (default) or grpc-js. */
export async function spawnEndpointChild(
  stack: 'http2' | 'grpc-js' = 'http2',
): Promise<EndpointChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), stack],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the endpoint child');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`endpoint child (pid ${pid}) not ready after ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`endpoint child exited (${String(code)})`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { address: string }).address);
    });
  });
  return {
    pid,
    url: `http://${address}`,
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

if (isMain(import.meta.url)) {
  const double = new KvDouble();
  const stack = process.argv[2] === 'grpc-js' ? 'grpc-js' : 'http2';
  const server = await startEtcdGrpcServer(double.service(0), { address: '127.0.0.1:0', stack });
  process.stdout.write(`${JSON.stringify({ address: server.address })}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => {
    double.close();
    void server.close().then(() => process.exit(0));
  });
}
