/**
 * The HTTP server of `shoal demo`: the dashboard's static files (the same ones the agent serves),
 * the agents' read endpoints (`GET /v1/*`, `/v1/events`) relayed from a live agent, and the demo
 * controls:
 *
 *   GET  /demo/nodes                    {"nodes":[{name,pid,http,bind,dataDir,state}]}
 *   POST /demo/nodes/:name/kill         SIGKILL                              {"node":{...}}
 *   POST /demo/nodes/:name/pause?ms=N   SIGSTOP, SIGCONT after N ms (default 5000, 500..30000)
 *   POST /demo/nodes/:name/restart      start a killed node again on the same data dir and ports
 *   GET  /demo/raft                     raft mode: each node's Raft status as it reports it, and the writer
 *
 * Errors answer `{"error":{"code","message"}}`: unknown node 404 ERR_NOT_FOUND, wrong state or
 * bad pause 409/400 ERR_INVALID_ARGUMENT, no agent answering 503 ERR_AGENT_UNREACHABLE.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { hasErrorCode, type ErrorCode } from '../base/errors.js';
import { readDashboardFile } from '../agent/dashboard-files.js';
import { HttpError, toErrorAnswer } from '../agent/http-errors.js';
import { PAUSE_MS_DEFAULT, PAUSE_MS_MAX, PAUSE_MS_MIN, type DemoCluster } from './demo-cluster.js';
import type { DemoProxy } from './demo-proxy.js';
import type { DemoWriter } from './demo-writer.js';

/** Bound on asking one agent for its Raft status, ms. */
const RAFT_STATUS_TIMEOUT_MS = 1_000;

interface RaftView {
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
}

/** Each node's own Raft status (null when it is not running or does not answer in time). */
async function raftStatuses(cluster: DemoCluster): Promise<object[]> {
  return Promise.all(
    cluster.list().map(async (node) => {
      let raft: RaftView | null = null;
      if (node.state === 'running') {
        try {
          const res = await fetch(`http://${node.http}/v1/raft`, {
            signal: AbortSignal.timeout(RAFT_STATUS_TIMEOUT_MS),
          });
          const body = (await res.json()) as Partial<RaftView>;
          if (res.ok)
            raft = {
              role: String(body.role),
              term: Number(body.term),
              leader: typeof body.leader === 'string' ? body.leader : null,
              commitIndex: Number(body.commitIndex),
              appliedIndex: Number(body.appliedIndex),
            };
        } catch {
          raft = null;
        }
      }
      return { name: node.name, state: node.state, raft };
    }),
  );
}

/** Paths relayed to an agent: `/v1/` plus a short lowercase path (no query, no dots). */
const RELAY_PATH_RE = /^\/v1\/[a-z0-9][a-z0-9/_-]{0,63}$/;

function sendError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

/** A control that does not fit the node's state (kill a killed node, restart a running one) is a 409. */
function asConflict(err: unknown): unknown {
  return hasErrorCode(err, 'ERR_INVALID_ARGUMENT')
    ? new HttpError(409, 'ERR_INVALID_ARGUMENT', (err as Error).message)
    : err;
}

function registerStatic(app: FastifyInstance): void {
  const serve = async (name: string, reply: FastifyReply): Promise<FastifyReply> => {
    const file = await readDashboardFile(name);
    return reply.type(file.contentType).header('cache-control', 'no-cache').send(file.body);
  };
  app.get('/', (_req, reply) => serve('index.html', reply));
  app.get<{ Params: { file: string } }>('/dashboard/:file', (req, reply) =>
    serve(req.params.file, reply),
  );
}

function registerRelay(app: FastifyInstance, proxy: DemoProxy): void {
  app.get('/v1/events', async (req, reply) => {
    const closed = new AbortController();
    req.raw.once('close', () => closed.abort());
    reply.hijack();
    if (!(await proxy.relayEvents(reply.raw, closed.signal))) {
      reply.raw.writeHead(503, { 'content-type': 'application/json' });
      reply.raw.end(
        JSON.stringify({
          error: {
            code: 'ERR_AGENT_UNREACHABLE',
            message:
              'no demo agent accepted an event stream (all killed or paused, or too many streams)',
          },
        }),
      );
    }
  });
  app.get('/v1/*', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (!RELAY_PATH_RE.test(path))
      return sendError(
        reply,
        404,
        'ERR_NOT_FOUND',
        `not a relayed path: ${JSON.stringify(path.slice(0, 80))}`,
      );
    const answer = await proxy.get(path);
    if (answer === undefined)
      return sendError(
        reply,
        503,
        'ERR_AGENT_UNREACHABLE',
        'no demo agent answered (all killed or paused)',
      );
    return reply
      .code(answer.status)
      .type(answer.contentType)
      .header('x-shoal-node', answer.node)
      .header('cache-control', 'no-cache')
      .send(answer.body);
  });
}

/** The pause length from `?ms=`; a string is the reason it was refused. */
function parsePauseMs(raw: string | undefined): number | string {
  if (raw === undefined) return PAUSE_MS_DEFAULT;
  const ms = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms >= PAUSE_MS_MIN && ms <= PAUSE_MS_MAX))
    return `ms ${JSON.stringify(raw.slice(0, 20))} is not allowed: expected an integer in ${PAUSE_MS_MIN}..${PAUSE_MS_MAX}`;
  return ms;
}

function registerControls(
  app: FastifyInstance,
  cluster: DemoCluster,
  proxy: DemoProxy,
  writer: DemoWriter | undefined,
): void {
  app.get('/demo/nodes', () => ({ nodes: cluster.list(), mode: cluster.mode }));
  app.get('/demo/raft', async (_req, reply) => {
    if (cluster.mode !== 'raft')
      return sendError(reply, 404, 'ERR_NOT_FOUND', `the demo runs mode ${cluster.mode}, not raft`);
    return { nodes: await raftStatuses(cluster), writer: writer?.stats ?? null };
  });
  app.post<{ Params: { name: string; action: string }; Querystring: { ms?: string } }>(
    '/demo/nodes/:name/:action',
    async (req, reply) => {
      const { name, action } = req.params;
      try {
        switch (action) {
          case 'kill':
            proxy.dropNode(name);
            return { node: cluster.kill(name) };
          case 'pause': {
            const pauseMs = parsePauseMs(req.query.ms);
            if (typeof pauseMs === 'string')
              return sendError(reply, 400, 'ERR_INVALID_ARGUMENT', pauseMs);
            const node = cluster.pause(name, pauseMs);
            proxy.dropNode(name);
            return { node };
          }
          case 'restart':
            return { node: await cluster.restart(name) };
          default:
            return sendError(
              reply,
              404,
              'ERR_NOT_FOUND',
              `no demo action ${JSON.stringify(action.slice(0, 40))}; use kill, pause or restart`,
            );
        }
      } catch (err) {
        throw asConflict(err);
      }
    },
  );
}

/** Builds the demo's server (not listening yet). */
export function buildDemoServer(
  cluster: DemoCluster,
  proxy: DemoProxy,
  writer?: DemoWriter,
): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024, forceCloseConnections: true });
  registerStatic(app);
  registerRelay(app, proxy);
  registerControls(app, cluster, proxy, writer);
  app.setErrorHandler((err, _req, reply) => {
    const answer = toErrorAnswer(err);
    return reply.code(answer.statusCode).type('application/json').send(answer.body);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, 'ERR_NOT_FOUND', `no route ${req.method} ${req.url.slice(0, 80)}`),
  );
  app.addHook('preClose', async () => proxy.closeAll());
  return app;
}
