/**
 * The data plane's HTTP routes (issue 16; docs/http-api.md) through fastify's `inject`, over a
 * real swim node and a real static one: advertise and withdraw this node's instances (bearer
 * token), list, resolve (preferred node, `self`, 404 when none), processes filtered by type and
 * capability, process rows advertised and withdrawn (bearer token) and the least-loaded node,
 * placement owners, bad arguments as 400s that name the field and change nothing,
 * ERR_MODE_UNSUPPORTED as 501 in a mode without the data plane, and the registry's metrics.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentApp } from '../../src/agent/server.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { placementConfig } from '../../src/placement/config.js';
import { keyPosition, memberPoints, RING_POSITION_BITS } from '../../src/placement/ring.js';
import { closeAll, startNode } from './nodes.js';

const TOKEN = 'sixteen-chars-token-0123';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('data plane routes (inject)', () => {
  let node: ShoalNode;
  let app: FastifyInstance;
  beforeAll(async () => {
    node = await startNode('dp-api-1');
    app = buildAgentApp(node, { httpToken: TOKEN });
  });
  afterAll(async () => {
    await app.close();
    await closeAll();
  });

  const put = (name: string, payload: unknown, headers: Record<string, string> = auth) =>
    app.inject({ method: 'PUT', url: `/v1/services/${name}`, payload: payload as object, headers });

  it('advertises, lists, resolves and withdraws this node’s instance', async () => {
    const res = await put('api', { address: '10.0.0.5:8080', tags: ['v2', 'a'], weight: 3 });
    expect(res.statusCode).toBe(200);
    const instance = {
      name: 'api',
      node: node.id,
      address: '10.0.0.5:8080',
      tags: ['a', 'v2'],
      weight: 3,
    };
    expect(res.json()).toEqual({ advertised: instance });
    await put('db', { address: '10.0.0.5:5432' });
    expect((await app.inject('/v1/services?name=api')).json()).toEqual({ instances: [instance] });
    expect(
      (await app.inject('/v1/services')).json().instances.map((i: { name: string }) => i.name),
    ).toEqual(['api', 'db']);
    expect((await app.inject('/v1/services/api/resolve')).json()).toEqual(instance);
    expect((await app.inject('/v1/services/api/resolve?prefer=self')).json()).toEqual(instance);
    expect((await app.inject(`/v1/services/api/resolve?prefer=${node.id}`)).json()).toEqual(
      instance,
    );
    const withdrawn = await app.inject({
      method: 'DELETE',
      url: '/v1/services/api',
      headers: auth,
    });
    expect(withdrawn.json()).toEqual({ withdrawn: true });
    const again = await app.inject({ method: 'DELETE', url: '/v1/services/api', headers: auth });
    expect(again.json()).toEqual({ withdrawn: false });
    const none = await app.inject('/v1/services/api/resolve');
    expect(none.statusCode).toBe(404);
    expect(none.json().error).toMatchObject({ code: 'ERR_NOT_FOUND', message: /service "api"/ });
    expect(node.services.list('api')).toEqual([]);
  });

  it('requires the bearer token to advertise or withdraw (401, nothing changes)', async () => {
    const before = node.services.list();
    expect((await put('x', { address: 'h:1' }, {})).statusCode).toBe(401);
    const del = await app.inject({ method: 'DELETE', url: '/v1/services/db' });
    expect(del.statusCode).toBe(401);
    expect(node.services.list()).toEqual(before);
  });

  it.each([
    ['an unknown field', { address: 'h:1', port: 1 }, /unknown field "port"/],
    ['a missing address', { tags: [] }, /address \(missing\)/],
    ['a wrong type', { address: 'h:1', weight: 'heavy' }, /weight \("heavy"\)/],
    ['a negative weight', { address: 'h:1', weight: -1 }, /weight/],
    [
      'too many tags',
      { address: 'h:1', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) },
      /tags/,
    ],
  ])('answers 400 for %s and advertises nothing', async (_what, payload, message) => {
    const before = node.services.list();
    const res = await put('bad', payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(message);
    expect(['ERR_HTTP_BAD_REQUEST', 'ERR_INVALID_ARGUMENT']).toContain(res.json().error.code);
    expect(node.services.list()).toEqual(before);
  });

  it('answers 400 for a prefer that is not a NodeId, and for a repeated parameter', async () => {
    const res = await app.inject('/v1/services/db/resolve?prefer=nobody');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/prefer \("nobody"\): must be a member's NodeId/);
    const twice = await app.inject('/v1/services?name=a&name=b');
    expect(twice.statusCode).toBe(400);
    expect(twice.json().error.message).toMatch(/name given more than once/);
  });

  it('lists processes filtered by type and capability', async () => {
    node.processes.advertise({ pid: 'w1', type: 'worker', capabilities: ['gpu'], load: 0.25 });
    node.processes.advertise({ pid: 'i1', type: 'indexer' });
    const pids = async (query: string) =>
      (await app.inject(`/v1/processes${query}`))
        .json()
        .processes.map((p: { pid: string }) => p.pid);
    expect(await pids('')).toEqual(['i1', 'w1']);
    expect(await pids('?type=worker')).toEqual(['w1']);
    expect(await pids('?capability=gpu')).toEqual(['w1']);
    expect(await pids('?type=indexer&capability=gpu')).toEqual([]);
    expect((await app.inject('/v1/processes?type=worker')).json().processes[0]).toEqual({
      pid: 'w1',
      node: node.id,
      type: 'worker',
      capabilities: ['gpu'],
      status: 'running',
      load: 0.25,
    });
  });

  it('advertises and withdraws this node’s process rows (bearer token), and answers least-loaded', async () => {
    const putProcess = (pid: string, payload: unknown, headers: Record<string, string> = auth) =>
      app.inject({
        method: 'PUT',
        url: `/v1/processes/${pid}`,
        payload: payload as object,
        headers,
      });
    const res = await putProcess('p7', {
      type: 'encoder',
      capabilities: ['h264', 'av1', 'h264'],
      status: 'running',
      load: 0.5,
    });
    expect(res.statusCode).toBe(200);
    const row = {
      pid: 'p7',
      node: node.id,
      type: 'encoder',
      capabilities: ['av1', 'h264'],
      status: 'running',
      load: 0.5,
    };
    expect(res.json()).toEqual({ advertised: row });
    expect(node.processes.findByType('encoder')).toEqual([row]);
    const least = await app.inject('/v1/processes/least-loaded?capability=av1');
    expect(least.statusCode).toBe(200);
    expect(least.json()).toMatchObject({ node: node.id, processes: [row] });
    // The node's load is every process it advertises, matching or not.
    expect(least.json().load).toBeCloseTo(
      node.processes.list().reduce((sum, p) => sum + p.load, 0),
    );
    // A process that is not running is never chosen.
    await putProcess('p7', { type: 'encoder', capabilities: ['av1'], status: 'draining' });
    const none = await app.inject('/v1/processes/least-loaded?capability=av1');
    expect(none.statusCode).toBe(404);
    expect(none.json().error.code).toBe('ERR_NOT_FOUND');
    // Writes need the token; bad bodies are 400s naming the field; nothing changes.
    const before = node.processes.list();
    expect((await putProcess('p8', { type: 'x' }, {})).statusCode).toBe(401);
    const unauthorized = await app.inject({ method: 'DELETE', url: '/v1/processes/p7' });
    expect(unauthorized.statusCode).toBe(401);
    for (const [payload, message] of [
      [{ capabilities: [] }, /type \(missing\)/],
      [{ type: 'x', load: 'high' }, /load \("high"\)/],
      [{ type: 'x', load: -1 }, /load/],
      [{ type: 'x', pid: 'p9' }, /unknown field "pid"/],
      [{ type: 'x', capabilities: Array.from({ length: 33 }, (_, i) => `c${i}`) }, /capabilities/],
    ] as const) {
      const bad = await putProcess('p9', payload);
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().error.message).toMatch(message);
    }
    expect(node.processes.list()).toEqual(before);
    const withdrawn = await app.inject({
      method: 'DELETE',
      url: '/v1/processes/p7',
      headers: auth,
    });
    expect(withdrawn.json()).toEqual({ withdrawn: true });
    const again = await app.inject({ method: 'DELETE', url: '/v1/processes/p7', headers: auth });
    expect(again.json()).toEqual({ withdrawn: false });
    expect(node.processes.findByType('encoder')).toEqual([]);
  });

  it('places a key on the live members; bad replicas or strategy are 400s', async () => {
    const rendezvous = (
      await app.inject('/v1/placement/user:42?replicas=3&strategy=rendezvous')
    ).json();
    expect(rendezvous).toEqual({
      key: 'user:42',
      replicas: 3,
      strategy: 'rendezvous',
      owners: [node.id],
      position: keyPosition('user:42') / 2 ** RING_POSITION_BITS,
    });
    // On the ring: the key's position and, per owner, its first point clockwise from the key.
    const ring = (await app.inject('/v1/placement/user:42?replicas=3')).json();
    const turn = 2 ** RING_POSITION_BITS;
    const at = keyPosition('user:42');
    const ahead = [...memberPoints(node.id, placementConfig().vnodesPerMember)].map(
      (p) => (p - at + turn) % turn,
    );
    expect(ring.position).toBe(at / turn);
    expect(ring.points).toEqual([((at + Math.min(...ahead)) % turn) / turn]);
    expect((await app.inject('/v1/placement/a%2Fb')).json()).toMatchObject({
      key: 'a/b',
      owners: [node.id],
    });
    for (const [query, message] of [
      ['?replicas=0', /replicas \(0\) must be an integer in \[1, replicasMax/],
      ['?replicas=17', /replicasMax \(16\)/],
      ['?replicas=two', /replicas \("two"\): must be a positive integer/],
      ['?strategy=random', /strategy "random" must be one of ring, rendezvous, jump/],
    ] as const) {
      const res = await app.inject(`/v1/placement/k${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.message).toMatch(message);
    }
  });

  it('exports the registry counters, what it holds, and its own bytes', async () => {
    const text = (await app.inject('/metrics')).body;
    expect(text).toMatch(/shoal_registry_events_total\{event="localWrites"\} [1-9]/);
    expect(text).toContain('shoal_registry_events_total{event="signaturesInvalid"} 0');
    expect(text).toMatch(/shoal_registry_held\{what="ownRows"\} [1-9]/);
    expect(text).toContain('shoal_registry_bytes_total{channel="packet",direction="out"}');
    expect(text).toContain('shoal_registry_carrier_total{event="carried"} 0');
    expect(text).toContain('shoal_registry_carried_bytes_total{direction="out"} 0');
  });
});

describe('data plane routes in a mode without the data plane', () => {
  it('answer 501 ERR_MODE_UNSUPPORTED naming the modes that have it', async () => {
    const fixed = await createNode({
      name: 'fixed',
      dataDir: mkdtempSync(join(tmpdir(), 'shoal-dp-static-')),
      bind: '127.0.0.1:0',
      mode: { kind: 'static', peers: ['127.0.0.1:1'] },
    });
    const app = buildAgentApp(fixed);
    try {
      for (const url of [
        '/v1/services',
        '/v1/processes',
        '/v1/processes/least-loaded',
        '/v1/placement/k',
      ]) {
        const res = await app.inject(url);
        expect(res.statusCode, url).toBe(501);
        expect(res.json().error).toMatchObject({
          code: 'ERR_MODE_UNSUPPORTED',
          message: expect.stringMatching(/modes swim and single.*static/),
        });
      }
      const metrics = (await app.inject('/metrics')).body;
      expect(metrics).not.toMatch(/shoal_registry_events_total\{/);
    } finally {
      await app.close();
      await fixed.close();
    }
  });
});
