/**
 * `shoal demo` pieces that need no agent process: the status line, the --nodes bound, and the
 * demo server's routes (static files, control errors, relay when no agent runs) through inject.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DEMO_NODES_MAX, DemoCluster, type DemoNodeInfo } from '../../src/cli/demo-cluster.js';
import { DemoProxy } from '../../src/cli/demo-proxy.js';
import { buildDemoServer } from '../../src/cli/demo-server.js';
import { describeStatus } from '../../src/cli/demo-status.js';

const node = (name: string, state: DemoNodeInfo['state']): DemoNodeInfo => ({
  name,
  pid: 1,
  http: '127.0.0.1:1',
  bind: '127.0.0.1:2',
  dataDir: '/x',
  state,
});

describe('demo status line', () => {
  const members = {
    epoch: 7,
    members: [
      { id: 'a'.repeat(32), name: 'node-1', state: 'alive' },
      { id: 'b'.repeat(32), name: 'node-2', state: 'suspect' },
      { id: 'c'.repeat(32), name: 'node-3', state: 'dead' },
      { id: 'd'.repeat(32), name: 'node-4', state: 'alive' },
    ],
  };

  it('counts members by state and names the leader', () => {
    const line = describeStatus(members, { mode: 'swim', leader: 'd'.repeat(32), term: 3 }, [
      node('node-1', 'running'),
      node('node-3', 'killed'),
    ]);
    expect(line).toBe(
      'members 2 alive, 1 suspect, 1 dead · leader node-4 (term 3) · epoch 7 · processes 1 running, 1 killed',
    );
  });

  it('says when there is no leader, and when no agent answers', () => {
    expect(describeStatus(members, { leader: null, term: 0 }, [])).toContain('no leader (term 0)');
    expect(describeStatus(undefined, undefined, [node('node-1', 'paused')])).toBe(
      'no agent answering · processes 1 paused',
    );
  });

  it('ignores malformed member entries instead of throwing', () => {
    const line = describeStatus(
      { members: [null, 3, { id: 1 }, { id: 'x', name: 'n', state: 'alive' }] },
      'junk',
      [],
    );
    expect(line).toBe('members 1 alive, 0 suspect, 0 dead · leader ? · no processes');
  });
});

describe('demo cluster bounds', () => {
  it.each([0, DEMO_NODES_MAX + 1, 1.5])(
    'refuses %s nodes with ERR_INVALID_ARGUMENT',
    async (nodes) => {
      await expect(DemoCluster.create({ nodes, dir: tmpdir() })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
      });
    },
  );
});

describe('demo server routes (no agent running)', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-demo-routes-'));
    const cluster = await DemoCluster.create({ nodes: 2, dir });
    app = buildDemoServer(cluster, new DemoProxy(cluster));
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the dashboard page and its files, and nothing else', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('/dashboard/app.js');
    expect((await app.inject({ method: 'GET', url: '/dashboard/app.js' })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'GET', url: '/dashboard/style.css' })).headers['content-type'],
    ).toContain('text/css');
    const escape = await app.inject({ method: 'GET', url: '/dashboard/..%2Fdemo.ts' });
    expect(escape.statusCode).toBe(404);
    expect(escape.json()).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } });
  });

  it('lists the nodes with their addresses and state', async () => {
    const res = await app.inject({ method: 'GET', url: '/demo/nodes' });
    const nodes = (res.json() as { nodes: DemoNodeInfo[] }).nodes;
    expect(nodes.map((n) => [n.name, n.state, n.pid])).toEqual([
      ['node-1', 'killed', null],
      ['node-2', 'killed', null],
    ]);
    expect(nodes[0]?.http).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(new Set(nodes.flatMap((n) => [n.http, n.bind])).size).toBe(4);
  });

  it('answers control errors with a status and a code', async () => {
    const cases: [string, number, string][] = [
      ['/demo/nodes/node-9/kill', 404, 'ERR_NOT_FOUND'],
      ['/demo/nodes/node-1/explode', 404, 'ERR_NOT_FOUND'],
      ['/demo/nodes/node-1/kill', 409, 'ERR_INVALID_ARGUMENT'],
      ['/demo/nodes/node-1/pause', 409, 'ERR_INVALID_ARGUMENT'],
      ['/demo/nodes/node-1/pause?ms=10', 400, 'ERR_INVALID_ARGUMENT'],
      ['/demo/nodes/node-1/pause?ms=abc', 400, 'ERR_INVALID_ARGUMENT'],
    ];
    for (const [url, status, code] of cases) {
      const res = await app.inject({ method: 'POST', url });
      expect([url, res.statusCode, (res.json() as { error: { code: string } }).error.code]).toEqual(
        [url, status, code],
      );
    }
  });

  it('answers 503 for relayed reads and events while no agent runs, 404 for other paths', async () => {
    const members = await app.inject({ method: 'GET', url: '/v1/members' });
    expect(members.statusCode).toBe(503);
    expect(members.json()).toMatchObject({ error: { code: 'ERR_AGENT_UNREACHABLE' } });
    expect((await app.inject({ method: 'GET', url: '/v1/events' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/v1/Members..' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/v1/leave' })).statusCode).toBe(404);
  });
});
