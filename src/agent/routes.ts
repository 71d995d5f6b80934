/**
 * The `/v1` routes of the agent's HTTP API (INTERFACE.md, "Agent HTTP API"; docs/http-api.md).
 * Request bodies are checked with zod (strict: unknown fields are refused) and the node's
 * answers are shaped here; errors are thrown and rendered by the server's error handler.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { peerAddressSchema } from '../node/options.js';
import type { AgentNode } from './agent-node.js';
import { showValue } from './config.js';
import { HttpError } from './http-errors.js';
import type { SseHub } from './sse.js';
import { registerWorkerRoutes } from '../worker/http.js';
import { agentStats } from './stats.js';

/** At most this many addresses in one `POST /v1/join`. */
export const JOIN_ADDRESSES_MAX = 64;

const joinBody = z
  .object({
    addresses: z.array(peerAddressSchema).min(1).max(JOIN_ADDRESSES_MAX),
  })
  .strict();
const emptyBody = z.object({}).strict().optional();

/** Parses a body with `schema`; a mismatch is a 400 naming the field, the value and the rule. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body === null ? undefined : body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys')
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  let value: unknown = body;
  for (const key of issue?.path ?? [])
    value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  const field = issue?.path.map(String).join('.') || 'body';
  throw new HttpError(
    400,
    'ERR_HTTP_BAD_REQUEST',
    `${field} (${showValue(value)}): ${issue?.message ?? 'invalid'}`,
  );
}

export interface RouteOptions {
  node: AgentNode;
  sse: SseHub;
  checkToken: (header: string | undefined) => void;
  /** Called after `POST /v1/leave` has answered: the agent then shuts down. */
  onLeft: () => void;
}

function authorize(options: RouteOptions, request: FastifyRequest): void {
  options.checkToken(request.headers.authorization);
}

function registerReadRoutes(app: FastifyInstance, { node, sse }: RouteOptions): void {
  // Not joined (swim-joins.ts) is a 503: readiness checks must not send work to a node that
  // could not reach its cluster; the body says why.
  app.get('/v1/health', async (_request, reply) => {
    const status = node.joinStatus();
    if (!status.joined) {
      void reply.code(503).header('retry-after', '5');
      return { status: 'not_joined', reason: status.reason, detail: status.detail };
    }
    // A raft member with no leader can serve nothing replicated: not ready (etcd's /health too).
    if (node.mode.kind === 'raft' && node.leader() === undefined) {
      void reply.code(503).header('retry-after', '1');
      return {
        status: 'no_leader',
        detail:
          'no Raft leader is known right now (an election is under way, or this member is cut off)',
      };
    }
    return { status: 'ok' };
  });
  app.get('/v1/self', async () => {
    const self = node.members().find((m) => m.id === node.id);
    if (self === undefined)
      throw new HttpError(
        503,
        'ERR_TRANSPORT_CLOSED',
        'this node is no longer a member (it left or closed)',
      );
    return { ...self, mode: node.mode.kind };
  });
  app.get('/v1/members', async () => ({ members: node.members(), epoch: node.epoch }));
  app.get('/v1/leader', async () => {
    const leader = node.leader();
    return { mode: node.mode.kind, leader: leader?.id ?? null, term: leader?.term ?? 0 };
  });
  app.get('/v1/stats', async () => agentStats(node, sse.counters()));
  app.get('/v1/events', (request, reply) => {
    if (!sse.attach(reply.raw))
      throw new HttpError(
        503,
        'ERR_QUEUE_FULL',
        'too many event-stream clients on this agent; try again later',
      );
    reply.hijack();
    request.raw.socket.setTimeout(0);
  });
}

function registerWriteRoutes(app: FastifyInstance, options: RouteOptions): void {
  app.post('/v1/join', async (request) => {
    authorize(options, request);
    const { addresses } = parseBody(joinBody, request.body);
    return { joined: await options.node.join(addresses) };
  });
  app.post('/v1/leave', async (request, reply) => {
    authorize(options, request);
    parseBody(emptyBody, request.body);
    await options.node.leave();
    reply.raw.once('finish', options.onLeft);
    return { left: true };
  });
}

export function registerRoutes(app: FastifyInstance, options: RouteOptions): void {
  registerReadRoutes(app, options);
  registerWriteRoutes(app, options);
  registerWorkerRoutes(app, {
    workers: () => options.node.workers,
    mode: () => options.node.mode.kind,
    authorize: (request) => authorize(options, request),
    parseBody,
  });
}
