/**
 * The agent's HTTP server (fastify): the `/v1` API, `/metrics`, and the dashboard at `/`.
 * `buildAgentApp` makes the app without listening (tests use `inject`); `startAgentServer`
 * listens and is what the agent and `shoal demo` use. Every error is JSON
 * `{"error":{"code","message"}}`; a malformed request is a 400, never a crash; bodies are
 * bounded by `httpBodyBytesMax` and parsed by json-body.ts (no prototype keys, bounded nesting).
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { formatAddress, splitAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { AgentNode } from './agent-node.js';
import { bearerChecker } from './auth.js';
import { DEFAULT_HTTP_ADDRESS } from './config.js';
import { DASHBOARD_DIR, readDashboardFile } from './dashboard-files.js';
import { retryAfterSeconds, toErrorAnswer } from './http-errors.js';
import { registerKvRoutes } from './kv-routes.js';
import { watchStreams } from './kv-watch-route.js';
import { parseJsonBody } from './json-body.js';
import { createAgentMetrics } from './metrics.js';
import { registerRoutes } from './routes.js';
import { registerDataRoutes } from './data-routes.js';
import { SseHub, type SseOptions } from './sse.js';

/** @defaultValue 64 KiB: the largest valid body (64 addresses) is under 4 KiB. */
export const HTTP_BODY_BYTES_MAX = 64 * 1024;

export interface AgentServerOptions extends SseOptions {
  /** Listen address, host:port (port 0 picks a free one). @defaultValue 127.0.0.1:7947 */
  http?: string;
  /** When set, POST endpoints require `Authorization: Bearer <httpToken>`. */
  httpToken?: string | undefined;
  /** Called once `POST /v1/leave` has answered (the agent exits then). */
  onLeft?: () => void;
  /** Where request failures (5xx) are logged. */
  logger?: Logger;
  dashboardDir?: string;
  httpBodyBytesMax?: number;
}

export interface AgentServer {
  /** The address the server listens on, host:port with the real port. */
  address: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

function registerPages(app: FastifyInstance, dir: string): void {
  const sendFile = async (name: string, reply: FastifyReply): Promise<Buffer> => {
    const file = await readDashboardFile(name, dir);
    void reply.type(file.contentType);
    return file.body;
  };
  app.get('/', async (_request, reply) => sendFile('index.html', reply));
  app.get<{ Params: { file: string } }>('/dashboard/:file', async (request, reply) =>
    sendFile(request.params.file, reply),
  );
}

/** Builds the app without listening; `close()` releases the event streams and the loop monitor. */
export function buildAgentApp(node: AgentNode, options: AgentServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.httpBodyBytesMax ?? HTTP_BODY_BYTES_MAX,
    forceCloseConnections: true,
  });
  // Our parser: poisoning and deep nesting are 400s that say so (json-body.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const sse = new SseHub(node, options);
  const metrics = createAgentMetrics(node, () => sse.counters());
  app.setErrorHandler((err, request, reply) => {
    const { statusCode, body } = toErrorAnswer(err);
    const retryAfter = retryAfterSeconds(body.error.code);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    if (statusCode >= 500)
      options.logger?.error(
        { err, method: request.method, url: request.url },
        'HTTP request failed',
      );
    void reply.code(statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: {
        code: 'ERR_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}; the API is under /v1/ (see docs/http-api.md)`,
      },
    });
  });
  const routeOptions = {
    node,
    sse,
    checkToken: bearerChecker(options.httpToken),
    onLeft: options.onLeft ?? (() => undefined),
  };
  registerRoutes(app, routeOptions);
  registerKvRoutes(app, routeOptions, watchStreams());
  registerDataRoutes(app, node, routeOptions.checkToken);
  app.get('/metrics', async (_request, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  registerPages(app, options.dashboardDir ?? DASHBOARD_DIR);
  app.addHook('onClose', async () => {
    sse.close();
    metrics.close();
  });
  return app;
}

/** Starts the HTTP server; ERR_HTTP_LISTEN (naming the address and the OS reason) when it cannot listen. */
export async function startAgentServer(
  node: AgentNode,
  options: AgentServerOptions = {},
): Promise<AgentServer> {
  const wanted = options.http ?? DEFAULT_HTTP_ADDRESS;
  const hostPort = splitAddress(wanted);
  if (hostPort === undefined)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid config: http ${JSON.stringify(wanted)}: must be host:port`,
    );
  const app = buildAgentApp(node, options);
  try {
    await app.listen({ host: hostPort.host, port: hostPort.port });
  } catch (err) {
    await app.close();
    const reason = String((err as { code?: unknown }).code ?? (err as Error).message);
    throw new ShoalError(
      'ERR_HTTP_LISTEN',
      `cannot listen on ${wanted} for the HTTP API (${reason}): another agent may be using it; choose another with --http`,
      { cause: err },
    );
  }
  const info = app.server.address() as AddressInfo;
  return { address: formatAddress(info.address, info.port), app, close: () => app.close() };
}
