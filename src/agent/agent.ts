/**
 * `shoal agent`: one node in the foreground with its HTTP API. `startAgent` creates the node,
 * logs its events and starts the server (tests and `shoal demo` use it in-process); `runAgent`
 * adds the process-level behaviour: SIGINT/SIGTERM leave the cluster gracefully (others see
 * `left`, not `dead`) and return exit code 0; a second signal exits at once (130 / 143).
 *
 * Every wait is bounded: the graceful leave gets `LEAVE_TIMEOUT_MS`, after which the node is
 * closed anyway (exit 1), and `SHUTDOWN_HARD_MS` after the first signal the process exits even
 * if something still holds the event loop.
 */
import type { DestinationStream, Logger } from 'pino';
import type { ShoalError } from '../base/errors.js';
import { startEtcdEndpoint } from '../etcd/agent-endpoint.js';
import type { EtcdGrpcServer } from '../etcd/server.js';
import { createNode, type NodeInternals, type ShoalNode } from '../node/node.js';
import { join } from 'node:path';
import { IDENTITY_FILE_NAME } from '../identity/identity.js';
import { checkAgentAdmission, resolveAgentAddresses, type AgentConfig } from './config.js';
import { warnIfLoose } from './key-files.js';
import { createAgentLogger, logNodeEvents } from './logger.js';
import { startAgentServer, type AgentServer } from './server.js';

/** How long a graceful leave may take before the node is closed without it. */
export const LEAVE_TIMEOUT_MS = 5_000;
/** After the first signal (or a completed shutdown), exit anyway after this long. */
export const SHUTDOWN_HARD_MS = 7_000;

export interface AgentDeps {
  /** Log destination (tests); stderr by default. */
  logDestination?: DestinationStream;
  nodeInternals?: NodeInternals;
}

export interface RunningAgent {
  node: ShoalNode;
  server: AgentServer;
  /** The etcd v3-compatible gRPC endpoint, when `--grpc` is given. */
  etcd: EtcdGrpcServer | undefined;
  log: Logger;
  /** Resolves to the exit code once the agent has stopped (by `stop` or `POST /v1/leave`). */
  stopped: Promise<number>;
  /** Leaves gracefully (bounded), closes the server; idempotent. Resolves to the exit code. */
  stop(why: string): Promise<number>;
}

/** Resolves true when `promise` settles within `ms`, false when it times out; rethrows its error. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function shutdown(
  node: ShoalNode,
  server: AgentServer,
  log: Logger,
  why: string,
  etcd?: EtcdGrpcServer,
): Promise<number> {
  log.info({ why }, 'agent stopping: leaving the cluster');
  let code = node.failure === undefined ? 0 : 1;
  try {
    if (!(await settlesWithin(node.leave(), LEAVE_TIMEOUT_MS))) {
      log.warn(
        { timeoutMs: LEAVE_TIMEOUT_MS },
        'graceful leave timed out; closing without it (others will see this node dead)',
      );
      code = 1;
    }
  } catch (err) {
    log.error({ err }, 'graceful leave failed; closing without it');
    code = 1;
  }
  await etcd?.close();
  await node.close();
  await server.close();
  log.info({ exitCode: code }, 'agent stopped');
  return code;
}

export async function startAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<RunningAgent> {
  const resolved = await resolveAgentAddresses(config);
  await checkAgentAdmission(resolved);
  const node = await createNode(resolved.node, {}, deps.nodeInternals);
  const log = createAgentLogger(config.logLevel, node, deps.logDestination);
  warnIfLoose(join(config.node.dataDir, IDENTITY_FILE_NAME), 'identity file', log);
  if (config.keyringFile !== undefined) warnIfLoose(config.keyringFile, 'keyring file', log);
  const stopLogging = logNodeEvents(node, log);
  let stopping: Promise<number> | undefined;
  let markStopped: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (markStopped = resolve));
  let server: AgentServer;
  let etcd: EtcdGrpcServer | undefined;
  const stop = (why: string): Promise<number> => {
    stopping ??= shutdown(node, server, log, why, etcd).then((code) => {
      stopLogging();
      markStopped(code);
      return code;
    });
    return stopping;
  };
  try {
    server = await startAgentServer(node, {
      http: config.http,
      httpToken: config.httpToken,
      logger: log,
      onLeft: () => void stop('POST /v1/leave'),
    });
  } catch (err) {
    stopLogging();
    await node.close();
    throw err;
  }
  try {
    if (config.grpc !== undefined) etcd = await startEtcdEndpoint(node, config.grpc, log);
  } catch (err) {
    stopLogging();
    await node.close();
    await server.close();
    throw err;
  }
  // raft mode: other members and etcd clients (MemberList) learn where this member serves.
  node.advertiseClientUrls({
    http: [`http://${server.address}`],
    grpc: etcd === undefined ? [] : [etcd.url],
  });
  log.info(
    {
      address: node.address,
      http: `http://${server.address}`,
      ...(etcd === undefined ? {} : { grpc: etcd.url }),
      mode: node.mode.kind,
      clusterId: config.node.clusterId,
    },
    'agent started',
  );
  // A protocol that cannot go on (its durable write failed) stops the node: the agent stops too.
  const onFailure = (error: ShoalError): void => {
    log.fatal({ err: error, code: error.code }, `node stopped: ${error.message}`);
    void stop(`node stopped (${error.code})`);
  };
  if (node.failure !== undefined) onFailure(node.failure);
  else node.on('error', (e) => onFailure(e.error));
  return { node, server, etcd, log, stopped, stop };
}

export interface RunAgentIo {
  /** Where SIGINT/SIGTERM arrive; `process` by default. */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  exit?: (code: number) => void;
}

/** Runs the agent until a signal or `POST /v1/leave`; resolves to the process exit code. */
export async function runAgent(
  config: AgentConfig,
  deps: AgentDeps & RunAgentIo = {},
): Promise<number> {
  const agent = await startAgent(config, deps);
  const signals = deps.signals ?? process;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  let result: number | undefined;
  let hardExitArmed = false;
  // Unref'd: it never keeps the process alive, it only ends one that something else still holds.
  const armHardExit = (): void => {
    if (hardExitArmed) return;
    hardExitArmed = true;
    setTimeout(() => exit(result ?? 1), SHUTDOWN_HARD_MS).unref();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (hardExitArmed) {
      agent.log.warn({ signal }, 'second signal: exiting at once');
      exit(signal === 'SIGINT' ? 130 : 143);
      return;
    }
    agent.log.info(
      { signal },
      'signal received; leaving gracefully (send it again to exit at once)',
    );
    armHardExit();
    void agent.stop(`received ${signal}`);
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  try {
    result = await agent.stopped;
    armHardExit();
    return result;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }
}
