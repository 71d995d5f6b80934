/**
 * The worker tier's routes of the agent's HTTP API (INTERFACE.md, "Agent HTTP API";
 * docs/http-api.md, "Worker tier"), registered by src/agent/routes.ts on every agent and
 * answering only on a `worker-server` (elsewhere: 404 ERR_NOT_FOUND naming the mode):
 *
 * - `GET /v1/workers`: `{"workers":[…],"ttlBaseMs","leading"}`, every worker record with its
 *   status, labels, certificate expiry, assignment count and, on the leader, its TTL and time
 *   left;
 * - `GET /v1/workers/<id>`: one worker (404 when unknown);
 * - `POST /v1/scale/<service>` `{"replicas":N,"roles"?,"spec"?,"placement"?}`: the service
 *   record written (409 ERR_CAS_FAILED when it changed meanwhile);
 * - `POST /v1/tokens` `{"ttlMs"?,"maxUses"?,"labels"?}`: a new bootstrap token (`shoal token
 *   create`). The token is a credential: the route needs the agent's bearer token like every
 *   POST, and the answer is never logged.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../agent/http-errors.js';
import { heartbeatTtlBaseMsFor } from './core/config.js';
import type { WorkerInfo, WorkerServer } from './server.js';

export interface WorkerRouteOptions {
  /** The node's worker-server, or undefined in every other mode. */
  workers(): WorkerServer | undefined;
  /** The node's mode, named in the 404 of other modes. */
  mode(): string;
  authorize(request: FastifyRequest): void;
  parseBody<T>(schema: z.ZodType<T>, body: unknown): T;
}

const labelsSchema = z.record(z.string(), z.string());

export const scaleBody = z
  .object({
    replicas: z.number().int().min(0).max(10_000),
    roles: z.array(z.string()).max(64).optional(),
    spec: z.unknown().optional(),
    placement: z
      .object({
        labels: labelsSchema.optional(),
        servers: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const tokenBody = z
  .object({
    ttlMs: z.number().int().optional(),
    maxUses: z.number().int().optional(),
    labels: labelsSchema.optional(),
  })
  .strict()
  .optional();

function serverOf(options: WorkerRouteOptions): WorkerServer {
  const server = options.workers();
  if (server === undefined)
    throw new HttpError(
      404,
      'ERR_NOT_FOUND',
      `the worker tier's routes answer on a worker-server; this agent runs mode '${options.mode()}'`,
    );
  return server;
}

export function registerWorkerRoutes(app: FastifyInstance, options: WorkerRouteOptions): void {
  app.get('/v1/workers', async () => {
    const server = serverOf(options);
    const workers: WorkerInfo[] = server.list();
    const live = workers.filter((w) => w.status !== 'revoked').length;
    return {
      workers,
      ttlBaseMs: heartbeatTtlBaseMsFor(live, server.options.config),
      leading: server.leading,
    };
  });
  app.get('/v1/workers/:id', async (request) => {
    const { id } = request.params as { id: string };
    const worker = serverOf(options)
      .list()
      .find((w) => w.id === id);
    if (worker === undefined)
      throw new HttpError(404, 'ERR_NOT_FOUND', `no worker ${JSON.stringify(id)}`);
    return worker;
  });
  app.post('/v1/scale/:service', async (request) => {
    options.authorize(request);
    const server = serverOf(options);
    const { service } = request.params as { service: string };
    const body = options.parseBody(scaleBody, request.body);
    const record = await server.scale(service, body.replicas, {
      ...(body.roles === undefined ? {} : { roles: body.roles }),
      ...(body.spec === undefined ? {} : { spec: body.spec }),
      ...(body.placement === undefined ? {} : { placement: body.placement }),
    });
    return record;
  });
  app.post('/v1/tokens', async (request) => {
    options.authorize(request);
    const server = serverOf(options);
    const body = options.parseBody(tokenBody, request.body) ?? {};
    return server.createToken({
      ...(body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs }),
      ...(body.maxUses === undefined ? {} : { maxUses: body.maxUses }),
      ...(body.labels === undefined ? {} : { labels: body.labels }),
    });
  });
}
