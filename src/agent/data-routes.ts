/**
 * The data plane's routes of the agent's HTTP API (INTERFACE.md, "Agent HTTP API"; issue 16;
 * docs/http-api.md): the service registry, the process table and placement of this agent's
 * node. Reads answer from the node's replica (no request leaves the node); `PUT` and `DELETE`
 * advertise and withdraw this node's own service instances and process rows, behind the bearer
 * token like every write; `GET /v1/processes/least-loaded` answers `leastLoadedNode`.
 * Arguments are checked by the node's API (ERR_INVALID_ARGUMENT, 400, naming the field); a
 * node whose mode runs no data plane answers 501 ERR_MODE_UNSUPPORTED.
 *
 * Chains: `GET /v1/chains` (the heads held and the forks found), `GET /v1/chains/<id>?after=&limit=`
 * (entries of one chain, `self` for this node's), `GET /v1/chains/<id>/compare?peer=` (the
 * chain of `<id>` here against `peer`'s copy, by common ancestor; `peer` defaults to the owner
 * itself, and is required for `self`), and `POST /v1/chain` (the body's bytes, any content type,
 * appended to this node's chain; bearer token). Payloads answer as UTF-8 text, or base64 with
 * `"encoding":"base64"` when they are not UTF-8.
 *
 * Shared trees: `GET /v1/trees` (every tree held: root, size, shape), `GET /v1/trees/<name>`,
 * `PUT /v1/trees/<name>/<key>` (the body's bytes, any content type, become the key's value;
 * bearer token), `DELETE /v1/trees/<name>/<key>` (bearer token) and
 * `GET /v1/trees/<name>/proof/<key>` (the proof of the key's entry or absence, JSON, which a
 * client checks against a root alone: `shoal tree proof --verify`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isNodeId, type NodeId } from '../identity/node-id.js';
import type { ProcessRow } from '../crdt/registry/queries.js';
import { placementConfig, type PlacementStrategy } from '../placement/config.js';
import { keyPosition, memberPoints, RING_POSITION_BITS } from '../placement/ring.js';
import type { ChainEntryInfo } from '../node/data-chain.js';
import { bytesJson, treeProofJson, type TreeEntryInfo } from '../node/data-tree.js';
import type { AgentNode } from './agent-node.js';
import { HttpError } from './http-errors.js';
import { parseBody } from './routes.js';

/** The body of `PUT /v1/services/<name>`: this node's instance. */
const advertiseBody = z
  .object({
    address: z.string(),
    tags: z.array(z.string()).optional(),
    weight: z.number().optional(),
  })
  .strict();

/** The body of `PUT /v1/processes/<pid>`: this node's process row. */
const processBody = z
  .object({
    type: z.string(),
    capabilities: z.array(z.string()).optional(),
    status: z.string().optional(),
    load: z.number().optional(),
  })
  .strict();

type Query = Record<string, string | string[] | undefined>;

/** `?type=&capability=` of the process routes, each at most once. */
function processFilter(query: Query): { type?: string; capability?: string } {
  const type = single(query, 'type');
  const capability = single(query, 'capability');
  return {
    ...(type === undefined ? {} : { type }),
    ...(capability === undefined ? {} : { capability }),
  };
}

/** A query parameter given at most once; a repeated one is a 400 naming it. */
function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value))
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `query parameter ${name} given more than once`,
    );
  return value;
}

/** `replicas=N`: a decimal integer (the node checks its range), 1 when absent. */
function replicasOf(query: Query): number | undefined {
  const text = single(query, 'replicas');
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,6}$/.test(text))
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `replicas (${JSON.stringify(text)}): must be a positive integer`,
    );
  return Number(text);
}

/** `prefer=ID`: a member's NodeId (32 hex digits), or `self` for this agent's node. */
function preferOf(node: AgentNode, query: Query): NodeId | undefined {
  const text = single(query, 'prefer');
  if (text === undefined || text === '') return undefined;
  if (text === 'self') return node.id;
  if (!isNodeId(text))
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `prefer (${JSON.stringify(text)}): must be a member's NodeId (32 hex digits) or "self"`,
    );
  return text;
}

/**
 * Where the key and its owners sit on the ring, as fractions of a turn clockwise from 0 (the
 * dashboard draws them): the key's position, and for `ring` each owner's first point at or after
 * it (the point that made it an owner). Other strategies have no ring: the key's position only.
 */
function ringPlaces(
  key: string,
  strategy: PlacementStrategy,
  owners: readonly NodeId[],
): { position: number; points?: number[] } {
  const turn = 2 ** RING_POSITION_BITS;
  const at = keyPosition(key);
  if (strategy !== 'ring') return { position: at / turn };
  const vnodes = placementConfig().vnodesPerMember;
  const points = owners.map((id) => {
    let best = Infinity;
    for (const p of memberPoints(id, vnodes)) best = Math.min(best, (p - at + turn) % turn);
    return ((at + best) % turn) / turn;
  });
  return { position: at / turn, points };
}

/** True when `p` passes the `type` / `capability` filter. */
function matches(p: ProcessRow, filter: { type?: string; capability?: string }): boolean {
  return (
    (filter.type === undefined || p.type === filter.type) &&
    (filter.capability === undefined || p.capabilities.includes(filter.capability))
  );
}

/** `?after=N` / `?limit=N`: a decimal integer, or undefined when absent. */
function intOf(query: Query, name: string, min: number): number | undefined {
  const text = single(query, name);
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text) || Number(text) < min)
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `${name} (${JSON.stringify(text)}): must be an integer of at least ${min}`,
    );
  return Number(text);
}

/** A chain owner in a path: a NodeId (32 hex digits) or `self`. */
function ownerOf(node: AgentNode, text: string, what: string): NodeId {
  if (text === 'self') return node.id;
  if (!isNodeId(text))
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `${what} (${JSON.stringify(text)}): must be a NodeId (32 hex digits) or "self"`,
    );
  return text;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** One chain entry as JSON: the payload as text, or base64 with `"encoding":"base64"`. */
export function chainEntryJson(e: ChainEntryInfo): object {
  let text: string | undefined;
  try {
    text = fatalUtf8.decode(e.payload);
  } catch {
    text = undefined;
  }
  return {
    seq: e.seq,
    hash: e.hash,
    prevHash: e.prevHash,
    ...(text === undefined
      ? { payload: Buffer.from(e.payload).toString('base64'), encoding: 'base64' }
      : { payload: text }),
    signature: e.signature,
  };
}

/** The largest `POST /v1/chain` body: the chain's payloadBytesMax (64 KiB); larger is a 413. */
export const CHAIN_BODY_BYTES_MAX = 65_536;

function authorize(checkToken: (header: string | undefined) => void, request: FastifyRequest) {
  checkToken(request.headers.authorization);
}

type NameRequest = FastifyRequest<{ Params: { name: string }; Querystring: Query }>;
type PidRequest = FastifyRequest<{ Params: { pid: string }; Querystring: Query }>;

export function registerDataRoutes(
  app: FastifyInstance,
  node: AgentNode,
  checkToken: (header: string | undefined) => void,
): void {
  app.get<{ Querystring: Query }>('/v1/services', async (request) => ({
    instances: node.services.list(single(request.query, 'name')),
  }));
  app.get('/v1/services/:name/resolve', async (request: NameRequest) => {
    const { name } = request.params;
    const prefer = preferOf(node, request.query);
    const instance = node.services.resolve(name, prefer === undefined ? {} : { prefer });
    if (instance === undefined)
      throw new HttpError(
        404,
        'ERR_NOT_FOUND',
        `no live instance of service ${JSON.stringify(name)} (GET /v1/services lists what is advertised)`,
      );
    return instance;
  });
  app.put('/v1/services/:name', async (request: NameRequest) => {
    authorize(checkToken, request);
    const body = parseBody(advertiseBody, request.body);
    const { name } = request.params;
    node.services.advertise({
      name,
      address: body.address,
      ...(body.tags === undefined ? {} : { tags: body.tags }),
      ...(body.weight === undefined ? {} : { weight: body.weight }),
    });
    const own = node.services.list(name).find((i) => i.node === node.id);
    return { advertised: own ?? null };
  });
  app.delete('/v1/services/:name', async (request: NameRequest) => {
    authorize(checkToken, request);
    const { name } = request.params;
    const had = node.services.list(name).some((i) => i.node === node.id);
    node.services.withdraw(name);
    return { withdrawn: had };
  });
  app.get<{ Querystring: Query }>('/v1/processes', async (request) => ({
    processes: node.processes.list(processFilter(request.query)),
  }));
  app.get<{ Querystring: Query }>('/v1/processes/least-loaded', async (request) => {
    const filter = processFilter(request.query);
    const id = node.processes.leastLoadedNode(filter);
    if (id === undefined)
      throw new HttpError(
        404,
        'ERR_NOT_FOUND',
        `no live node runs a matching process with status "running" (${JSON.stringify(filter)})`,
      );
    const processes = node.processes.list().filter((p) => p.node === id);
    const load = processes.reduce((sum, p) => sum + p.load, 0);
    return { node: id, load, processes: processes.filter((p) => matches(p, filter)) };
  });
  app.put('/v1/processes/:pid', async (request: PidRequest) => {
    authorize(checkToken, request);
    const body = parseBody(processBody, request.body);
    const { pid } = request.params;
    node.processes.advertise({
      pid,
      type: body.type,
      ...(body.capabilities === undefined ? {} : { capabilities: body.capabilities }),
      ...(body.status === undefined ? {} : { status: body.status }),
      ...(body.load === undefined ? {} : { load: body.load }),
    });
    const own = node.processes.list().find((p) => p.node === node.id && p.pid === pid);
    return { advertised: own ?? null };
  });
  app.delete('/v1/processes/:pid', async (request: PidRequest) => {
    authorize(checkToken, request);
    const { pid } = request.params;
    const had = node.processes.list().some((p) => p.node === node.id && p.pid === pid);
    node.processes.withdraw(pid);
    return { withdrawn: had };
  });
  registerChainRoutes(app, node, checkToken);
  registerTreeRoutes(app, node, checkToken);
  app.get(
    '/v1/placement/:key',
    async (request: FastifyRequest<{ Params: { key: string }; Querystring: Query }>) => {
      const { key } = request.params;
      const replicas = replicasOf(request.query) ?? 1;
      const strategy = (single(request.query, 'strategy') ?? 'ring') as PlacementStrategy;
      const owners = node.placement.owners(key, { replicas, strategy });
      return { key, replicas, strategy, owners, ...ringPlaces(key, strategy, owners) };
    },
  );
}

type OwnerRequest = FastifyRequest<{ Params: { owner: string }; Querystring: Query }>;

function registerChainRoutes(
  app: FastifyInstance,
  node: AgentNode,
  checkToken: (header: string | undefined) => void,
): void {
  app.get('/v1/chains', async () => ({
    self: node.id,
    chains: node.chain.heads(),
    forks: node.chain.forks(),
  }));
  app.get('/v1/chains/:owner', async (request: OwnerRequest) => {
    const owner = ownerOf(node, request.params.owner, 'chain owner');
    const after = intOf(request.query, 'after', 0) ?? 0;
    const limit = intOf(request.query, 'limit', 1);
    const entries = node.chain.entries(owner, { after, ...(limit === undefined ? {} : { limit }) });
    if (entries === undefined)
      throw new HttpError(
        404,
        'ERR_NOT_FOUND',
        `this node holds no chain of ${owner} (GET /v1/chains lists the chains held)`,
      );
    return { owner, head: node.chain.head(owner), entries: entries.map(chainEntryJson) };
  });
  app.get('/v1/chains/:owner/compare', async (request: OwnerRequest) => {
    const owner = ownerOf(node, request.params.owner, 'chain owner');
    const peerText = single(request.query, 'peer');
    // Without ?peer the copy here is compared with the owner's own chain.
    if (peerText === undefined && owner === node.id)
      throw new HttpError(
        400,
        'ERR_HTTP_BAD_REQUEST',
        "comparing this node's own chain needs ?peer=<NodeId> (the member whose copy to compare with)",
      );
    const peer = peerText === undefined ? owner : ownerOf(node, peerText, 'peer');
    return node.chain.compare(peer, { owner });
  });
  // The append route reads any body as bytes: its own scope, with one catch-all parser.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: CHAIN_BODY_BYTES_MAX },
      (_r, body, done) => done(null, body),
    );
    scope.post('/v1/chain', { bodyLimit: CHAIN_BODY_BYTES_MAX }, async (request) => {
      authorize(checkToken, request);
      const body = request.body;
      const payload = body instanceof Buffer ? new Uint8Array(body) : new Uint8Array(0);
      return { appended: chainEntryJson(node.chain.append(payload)), owner: node.id };
    });
  });
}

/** The largest `PUT /v1/trees/<name>/<key>` body: a tree's valueBytesMax (64 KiB); larger is a 413. */
export const TREE_VALUE_BYTES_MAX = 65_536;

/** One tree entry as JSON: the value as text, or base64 with `"encoding":"base64"`. */
export function treeEntryJson(e: TreeEntryInfo): object {
  return {
    key: e.key,
    ...bytesJson(e.value),
    deleted: e.deleted,
    hlc: e.hlc,
    writer: e.writer,
    leafHash: e.leafHash,
  };
}

type TreeKeyRequest = FastifyRequest<{ Params: { name: string; '*': string } }>;

function heldTree(node: AgentNode, name: string) {
  const tree = node.trees.get(name);
  if (tree === undefined)
    throw new HttpError(
      404,
      'ERR_NOT_FOUND',
      `this node holds no tree ${JSON.stringify(name)} (GET /v1/trees lists the trees held)`,
    );
  return tree;
}

function treeKeyOf(request: TreeKeyRequest): string {
  const key = request.params['*'];
  if (key === '')
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      'the path names no key: /v1/trees/<name>/<key>',
    );
  return key;
}

function registerTreeRoutes(
  app: FastifyInstance,
  node: AgentNode,
  checkToken: (header: string | undefined) => void,
): void {
  app.get('/v1/trees', async () => ({ trees: node.trees.list() }));
  app.get('/v1/trees/:name', async (request: FastifyRequest<{ Params: { name: string } }>) =>
    heldTree(node, request.params.name).info(),
  );
  app.get('/v1/trees/:name/proof/*', async (request: TreeKeyRequest) => {
    const tree = heldTree(node, request.params.name);
    return treeProofJson(tree.proof(treeKeyOf(request)));
  });
  app.delete('/v1/trees/:name/*', async (request: TreeKeyRequest) => {
    authorize(checkToken, request);
    const tree = heldTree(node, request.params.name);
    const key = treeKeyOf(request);
    const deleted = tree.delete(key);
    return { deleted, root: tree.info().root };
  });
  // The write route reads any body as bytes: its own scope, with one catch-all parser.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: TREE_VALUE_BYTES_MAX },
      (_r, body, done) => done(null, body),
    );
    scope.put(
      '/v1/trees/:name/*',
      { bodyLimit: TREE_VALUE_BYTES_MAX },
      async (request: TreeKeyRequest) => {
        authorize(checkToken, request);
        const key = treeKeyOf(request);
        const tree = node.trees.open(request.params.name);
        const body = request.body;
        const value = body instanceof Buffer ? new Uint8Array(body) : new Uint8Array(0);
        const entry = tree.set(key, value);
        return { entry: treeEntryJson(entry), root: tree.info().root };
      },
    );
  });
}
