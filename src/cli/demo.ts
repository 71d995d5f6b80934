/**
 * `shoal demo [--nodes 5] [--http H:P] [--data-dir DIR]` (INTERFACE.md, "Command line"): starts
 * a local swim cluster of `shoal agent` child processes (demo-cluster.ts), serves the dashboard
 * with kill/pause/restart controls (demo-server.ts), prints the dashboard URL and a live status
 * line, and on SIGINT/SIGTERM stops every process it started and resolves (exit status 0).
 *
 * Data lives in a new temp dir removed on exit, or in `--data-dir`, kept (identities survive,
 * so the same NodeIds come back next time).
 */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAddress, splitAddress, type HostPort } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { DEMO_NODES_MAX, DEMO_NODES_MIN, DemoCluster, type AgentLauncher } from './demo-cluster.js';
import { DemoProxy } from './demo-proxy.js';
import { buildDemoServer } from './demo-server.js';
import { DemoWriter } from './demo-writer.js';
import type { DemoMode } from './demo-cluster.js';
import { StatusReporter, type StatusOutput } from './demo-status.js';

export const DEMO_HTTP_DEFAULT = '127.0.0.1:7070';

export interface DemoOptions {
  /** Agents (swim, raft), or workers beside the three servers (worker-tier). */
  nodes: number;
  /**
   * `swim` (default), `raft` (a Raft cluster with a small writer) or `worker-tier` (three
   * worker-servers, `nodes` workers with a token made for them, a service scaled over them).
   */
  mode?: DemoMode;
  http: string;
  dataDir?: string;
  launcher?: AgentLauncher;
  /** Where the status line goes (stdout by default). */
  status?: StatusOutput;
}

function parseNodes(text: string): number {
  const nodes = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!(nodes >= DEMO_NODES_MIN && nodes <= DEMO_NODES_MAX)) {
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `--nodes ${JSON.stringify(text)} is not allowed: expected an integer in ${DEMO_NODES_MIN}..${DEMO_NODES_MAX}`,
    );
  }
  return nodes;
}

/** Resolves on the first SIGINT or SIGTERM; `dispose` removes the handlers. */
function stopSignal(): { stopped: Promise<string>; dispose: () => void } {
  let handler: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (handler = resolve));
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return {
    stopped,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

function parseHttp(http: string): HostPort {
  const hostPort = splitAddress(http);
  if (hostPort === undefined)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `--http ${JSON.stringify(http)} is not allowed: expected host:port, e.g. ${DEMO_HTTP_DEFAULT}`,
    );
  return hostPort;
}

/** Listens on `at`; when that port is taken and it is the default, on any free port instead. */
async function listen(app: FastifyInstance, at: HostPort, isDefault: boolean): Promise<string> {
  try {
    await app.listen({ host: at.host, port: at.port });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EADDRINUSE' || !isDefault) {
      throw new ShoalError(
        'ERR_HTTP_LISTEN',
        `the dashboard cannot listen on ${formatAddress(at.host, at.port)}: ${(err as Error).message}`,
      );
    }
    await app.listen({ host: at.host, port: 0 });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : at.port;
  return `http://${formatAddress(at.host, port)}/`;
}

export async function runDemo(options: DemoOptions, write: (text: string) => void): Promise<void> {
  const hostPort = parseHttp(options.http);
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'shoal-demo-'));
  const mode = options.mode ?? 'swim';
  const cluster = await DemoCluster.create({
    nodes: options.nodes,
    dir,
    mode,
    ...(options.launcher ? { launcher: options.launcher } : {}),
  });
  const proxy = new DemoProxy(cluster);
  const writer = mode === 'raft' ? new DemoWriter(cluster) : undefined;
  const app = buildDemoServer(cluster, proxy, writer);
  const status = new StatusReporter(proxy, () => cluster.list(), options.status ?? process.stdout);
  const signal = stopSignal();
  const lastResort = (): void => cluster.killAllNow();
  process.on('exit', lastResort);
  let keepDir = options.dataDir !== undefined;
  try {
    const what =
      mode === 'worker-tier'
        ? `3 worker-servers and ${options.nodes} workers`
        : `${options.nodes} agents`;
    write(
      `Shoal demo: starting ${what} (${mode}, profile local, cluster id demo), data in ${dir}\n`,
    );
    // A signal during start stops the demo at once; the start's own outcome is then ignored.
    const starting = cluster.start().then(
      () => ({ ok: true as const }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    const outcome = await Promise.race([starting, signal.stopped.then(() => undefined)]);
    if (outcome === undefined) return;
    if (!outcome.ok) throw outcome.err;
    const url = await listen(app, hostPort, options.http === DEMO_HTTP_DEFAULT);
    for (const n of cluster.list())
      write(`  ${n.name}  pid ${n.pid ?? '-'}  cluster ${n.bind}  http ${n.http}\n`);
    if (writer !== undefined) {
      writer.start();
      write('writer: demo/counter = 1, 2, 3, … every 250 ms through a running agent\n');
    }
    if (mode === 'worker-tier')
      write(
        `workers: token in ${join(dir, 'worker.token')}; service web scaled to ${options.nodes} replicas; kill a worker and its replica moves, kill the leader and no worker goes down\n`,
      );
    write(`dashboard: ${url}\nCtrl-C stops every agent.\n`);
    status.start();
    await signal.stopped;
  } catch (err) {
    // Keep the agents' logs: the error message points at them.
    keepDir = true;
    throw err;
  } finally {
    writer?.stop();
    status.stop();
    write('stopping the demo agents…\n');
    await app.close();
    await cluster.stop();
    signal.dispose();
    process.off('exit', lastResort);
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
    write('stopped.\n');
  }
}

export function registerDemoCommand(program: Command, write: (text: string) => void): void {
  program
    .command('demo')
    .description('start a local cluster of agents on 127.0.0.1 and the dashboard; Ctrl-C stops all')
    .option(
      '--nodes <n>',
      `how many agents, or workers in worker-tier (${DEMO_NODES_MIN}..${DEMO_NODES_MAX}; default 5, raft 3, worker-tier 20)`,
    )
    .option(
      '--mode <kind>',
      'swim (membership and a leader), raft (a replicated store and a writer) or worker-tier (3 worker-servers and their workers)',
      'swim',
    )
    .option('--http <host:port>', 'where the dashboard listens', DEMO_HTTP_DEFAULT)
    .option('--data-dir <dir>', "keep the agents' data here (default: a temp dir removed on exit)")
    .action(async (opts: { nodes?: string; mode: string; http: string; dataDir?: string }) => {
      if (opts.mode !== 'swim' && opts.mode !== 'raft' && opts.mode !== 'worker-tier')
        throw new ShoalError(
          'ERR_INVALID_ARGUMENT',
          `--mode ${JSON.stringify(opts.mode)} is not allowed: expected swim, raft or worker-tier`,
        );
      const defaultNodes = { swim: '5', raft: '3', 'worker-tier': '20' }[opts.mode];
      const nodes = parseNodes(opts.nodes ?? defaultNodes);
      await runDemo(
        {
          nodes,
          mode: opts.mode,
          http: opts.http,
          ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
        },
        write,
      );
    });
}
