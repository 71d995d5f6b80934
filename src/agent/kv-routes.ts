/**
 * The agent's replicated-store routes (INTERFACE.md, "Agent HTTP API"; docs/http-api.md,
 * "Replicated store"), served by a `raft` member over its KvService: /v1/kv/<key>, /v1/txn,
 * /v1/watch/<key> (Server-Sent Events), /v1/leases, /v1/raft. Any member answers: a follower
 * forwards writes, keep-alives and membership changes to the leader and confirms linearizable
 * reads with it. With no leader the answer is 503 ERR_NO_LEADER with Retry-After. In other modes
 * these routes answer 404 saying so.
 *
 * A PUT's body is the value's bytes whatever its content type (up to KV_BODY_BYTES_MAX); the
 * other bodies are JSON. Writes (PUT, DELETE, POST) need the bearer token when one is set.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { kvServiceOf, type KvService } from '../node/kv-service.js';
import { NodeKv, toLeaseId, type KeySpec } from '../node/node-kv.js';
import type { NodeRaft } from '../node/node-raft.js';
import type { AgentNode } from './agent-node.js';
import { HttpError } from './http-errors.js';
import { keyFromPath, kvJson, txnResultJson, txnSchema, txnSpecOf } from './kv-json.js';
import { parseBody, type RouteOptions } from './routes.js';
import { serveWatch, type WatchStreams } from './kv-watch-route.js';

/** Largest PUT body (a value), bytes: the store's requestBytesMax (1.5 MiB) and room to spare. */
export const KV_BODY_BYTES_MAX = 2 * 1024 * 1024;
/** Largest /v1/txn body, bytes: a txn of large values, as JSON (base64 grows bytes by a third). */
export const TXN_BODY_BYTES_MAX = 4 * 1024 * 1024;

type Query = Record<string, string | undefined>;

function service(node: AgentNode): KvService {
  const kv = kvServiceOf(node);
  if (kv === undefined)
    throw new HttpError(
      404,
      'ERR_NOT_FOUND',
      `the replicated store is served in mode raft only; this agent runs mode ${node.mode.kind}`,
    );
  return kv;
}

function raftOf(node: AgentNode): NodeRaft {
  service(node);
  return (node as AgentNode & { raft: NodeRaft }).raft;
}

function flag(query: Query, name: string): boolean {
  const value = query[name];
  if (value === undefined || value === '' || value === 'true' || value === '1')
    return value !== undefined;
  if (value === 'false' || value === '0') return false;
  throw new HttpError(
    400,
    'ERR_HTTP_BAD_REQUEST',
    `?${name}=${JSON.stringify(value)}: a flag is present, empty, true or false`,
  );
}

function intParam(query: Query, name: string, min = 0): number | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `?${name}=${JSON.stringify(value)}: must be an integer >= ${min}`,
    );
  return n;
}

function consistencyOf(query: Query): 'linearizable' | 'serializable' {
  const value = query['consistency'] ?? 'linearizable';
  if (value !== 'linearizable' && value !== 'serializable')
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `?consistency=${JSON.stringify(value)}: linearizable or serializable`,
    );
  return value;
}

/** The key (or with `?prefix` the prefix) a /v1/kv or /v1/watch path names. */
function pathKey(
  request: FastifyRequest,
  base: string,
  query: Query,
): { key: Uint8Array; prefix: boolean } {
  const key = keyFromPath(request.url, base);
  const prefix = flag(query, 'prefix');
  if (!prefix && key.length === 0)
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `the key is empty: name it after ${base} (or list every key with ${base}?prefix)`,
    );
  return { key, prefix };
}

function specOf(named: { key: Uint8Array; prefix: boolean }): KeySpec {
  return named.prefix ? { prefix: named.key } : named.key;
}

function registerKv(
  app: FastifyInstance,
  options: RouteOptions,
  authorize: (r: FastifyRequest) => void,
): void {
  const kv = (): NodeKv => new NodeKv(service(options.node));
  app.get('/v1/kv/*', async (request, reply) => {
    const query = request.query as Query;
    const named = pathKey(request, '/v1/kv/', query);
    const read = {
      consistency: consistencyOf(query),
      ...(intParam(query, 'revision') === undefined
        ? {}
        : { revision: intParam(query, 'revision') as number }),
    };
    if (named.prefix) {
      const limit = intParam(query, 'limit');
      const result = await kv().range(specOf(named), {
        ...read,
        ...(limit === undefined ? {} : { limit }),
      });
      return {
        kvs: result.kvs.map((k) => kvJson(k)),
        revision: result.revision,
        more: result.more,
        count: result.count,
      };
    }
    const found = await kv().get(named.key, read);
    if (found === undefined)
      throw new HttpError(
        404,
        'ERR_NOT_FOUND',
        `key ${JSON.stringify(new TextDecoder().decode(named.key))} not found`,
      );
    if (!flag(query, 'raw')) return kvJson(found);
    void reply
      .type('application/octet-stream')
      .header('x-shoal-mod-revision', String(found.modRevision))
      .header('x-shoal-create-revision', String(found.createRevision))
      .header('x-shoal-version', String(found.version));
    return Buffer.from(found.value);
  });
  app.delete('/v1/kv/*', async (request) => {
    authorize(request);
    const query = request.query as Query;
    const result = await kv().delete(specOf(pathKey(request, '/v1/kv/', query)));
    return { deleted: result.deleted, revision: result.revision };
  });
  app.post('/v1/txn', { bodyLimit: TXN_BODY_BYTES_MAX }, async (request) => {
    authorize(request);
    const body = parseBody(txnSchema, request.body);
    const result = await kv().txn(txnSpecOf(body));
    return {
      succeeded: result.succeeded,
      results: result.results.map(txnResultJson),
      revision: result.revision,
    };
  });
  // The PUT route reads any body as bytes: its own scope, with one catch-all parser.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: KV_BODY_BYTES_MAX },
      (_r, body, done) => done(null, body),
    );
    scope.put('/v1/kv/*', { bodyLimit: KV_BODY_BYTES_MAX }, async (request) => {
      authorize(request);
      const query = request.query as Query;
      const key = keyFromPath(request.url, '/v1/kv/');
      if (key.length === 0)
        throw new HttpError(400, 'ERR_HTTP_BAD_REQUEST', 'the key is empty: PUT /v1/kv/<key>');
      const body = request.body;
      const value = body instanceof Buffer ? new Uint8Array(body) : new Uint8Array(0);
      const lease =
        query['lease'] === undefined ? undefined : toLeaseId(intParam(query, 'lease', 1) as number);
      const prevRevision = intParam(query, 'prevRevision');
      const result = await kv().put(key, value, {
        ...(lease === undefined ? {} : { lease }),
        ...(prevRevision === undefined ? {} : { prevRevision }),
      });
      return { revision: result.revision };
    });
  });
}

const leaseBody = z
  .object({
    ttlMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();
const emptyBody = z.object({}).strict().optional();

function leaseParam(request: FastifyRequest): number {
  const text = (request.params as { id: string }).id;
  const id = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1)
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `lease id ${JSON.stringify(text)} must be an integer from 1 to 2^53 - 1`,
    );
  return id;
}

function registerLeases(
  app: FastifyInstance,
  options: RouteOptions,
  authorize: (r: FastifyRequest) => void,
): void {
  const kv = (): NodeKv => new NodeKv(service(options.node));
  app.post('/v1/leases', async (request) => {
    authorize(request);
    const body = parseBody(leaseBody, request.body);
    return kv().leases.grant(body.ttlMs, body.id === undefined ? {} : { id: body.id });
  });
  app.get('/v1/leases', async () => ({ leases: await kv().leases.list() }));
  app.get('/v1/leases/:id', async (request) => kv().leases.timeToLive(leaseParam(request)));
  app.post('/v1/leases/:id/keepalive', async (request) => {
    authorize(request);
    parseBody(emptyBody, request.body);
    const renewed = await kv().leases.keepAlive(leaseParam(request));
    return { id: renewed.id, ttlMs: renewed.ttlMs };
  });
  app.delete('/v1/leases/:id', async (request) => {
    authorize(request);
    const result = await kv().leases.revoke(leaseParam(request));
    return { revoked: true, revision: result.revision };
  });
}

const memberBody = z
  .object({
    address: z.string().min(1).max(255),
    learner: z.boolean().optional(),
    id: z.string().optional(),
  })
  .strict();
const transferBody = z.object({ to: z.string().min(1).max(64) }).strict();

function registerRaft(
  app: FastifyInstance,
  options: RouteOptions,
  authorize: (r: FastifyRequest) => void,
): void {
  const { node } = options;
  app.get('/v1/raft', async () => {
    const status = raftOf(node).status();
    const names = new Map(node.members().map((m) => [m.id, m.name]));
    return {
      ...status,
      leader: status.leader ?? null,
      members: status.members.map((m) => ({
        ...m,
        id: m.id ?? null,
        name: m.id === undefined ? null : (names.get(m.id) ?? null),
      })),
    };
  });
  app.post('/v1/raft/members', async (request) => {
    authorize(request);
    const body = parseBody(memberBody, request.body);
    return raftOf(node).addMember(body.address, {
      ...(body.learner === undefined ? {} : { learner: body.learner }),
      ...(body.id === undefined ? {} : { id: body.id }),
    });
  });
  app.post('/v1/raft/members/:id/promote', async (request) => {
    authorize(request);
    parseBody(emptyBody, request.body);
    return raftOf(node).promote((request.params as { id: string }).id);
  });
  app.delete('/v1/raft/members/:id', async (request) => {
    authorize(request);
    return raftOf(node).removeMember((request.params as { id: string }).id);
  });
  app.post('/v1/raft/transfer', async (request) => {
    authorize(request);
    const body = parseBody(transferBody, request.body);
    await raftOf(node).transferLeadership(body.to);
    return { leader: body.to };
  });
}

export function registerKvRoutes(
  app: FastifyInstance,
  options: RouteOptions,
  watches: WatchStreams,
): void {
  const authorize = (request: FastifyRequest): void =>
    options.checkToken(request.headers.authorization);
  registerKv(app, options, authorize);
  registerLeases(app, options, authorize);
  registerRaft(app, options, authorize);
  app.get('/v1/watch/*', (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as Query;
    const spec = specOf(pathKey(request, '/v1/watch/', query));
    const from = intParam(query, 'fromRevision');
    return serveWatch(watches, service(options.node), request, reply, spec, {
      ...(from === undefined ? {} : { fromRevision: from }),
      prevKv: flag(query, 'prevKv'),
    });
  });
}
