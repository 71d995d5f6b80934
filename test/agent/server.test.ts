/**
 * The agent's HTTP API (docs/http-api.md) through fastify's `inject`: answers, error bodies for
 * malformed requests (never a crash), the bearer token on POST endpoints, metrics text, and the
 * dashboard files.
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_CLOSE_REASONS } from '../../src/agent/metrics.js';
import { MEMBERSHIP_COUNTER_METRICS } from '../../src/agent/protocol-metrics.js';
import { buildAgentApp } from '../../src/agent/server.js';
import { COUNTER_NAMES } from '../../src/membership/types.js';
import { emptyStats } from '../../src/transport/types.js';
import type { ShoalNode } from '../../src/node/node.js';
import { ScriptedNode, closeAll, startNode } from './nodes.js';

const TOKEN = 'sixteen-chars-token-0123';

describe('agent HTTP API (inject)', () => {
  let node: ShoalNode;
  let app: FastifyInstance;
  beforeAll(async () => {
    node = await startNode('api-1');
    app = buildAgentApp(node, { httpToken: TOKEN });
  });
  afterAll(async () => {
    await app.close();
    await closeAll();
  });

  it('answers health, self, members and leader in the documented shapes', async () => {
    expect((await app.inject('/v1/health')).json()).toEqual({ status: 'ok' });
    const self = (await app.inject('/v1/self')).json();
    expect(self).toMatchObject({
      id: node.id,
      name: 'api-1',
      address: node.address,
      state: 'alive',
      mode: 'swim',
    });
    const members = (await app.inject('/v1/members')).json();
    expect(members).toEqual({
      members: [
        {
          id: node.id,
          name: 'api-1',
          address: node.address,
          state: 'alive',
          incarnation: expect.any(Number),
          labels: {},
        },
      ],
      epoch: node.epoch,
    });
    // A lone swim node may already lead itself (HRW over a live set of one): either answer is valid.
    const leader = (await app.inject('/v1/leader')).json();
    expect(leader).toEqual({
      mode: 'swim',
      leader: expect.toBeOneOf([null, node.id]),
      term: expect.any(Number),
    });
  });

  it('answers stats with counters and member counts', async () => {
    const stats = (await app.inject('/v1/stats')).json();
    expect(stats).toMatchObject({
      id: node.id,
      mode: 'swim',
      members: { alive: 1, dead: 0 },
      sse: { clients: 0 },
    });
    expect(stats.protocol).toHaveProperty('probesSent');
    expect(stats.transport).toHaveProperty('packetBytesSent');
  });

  it('serves Prometheus text with the documented metric names', async () => {
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    for (const name of [
      'shoal_members{state="alive"} 1',
      'shoal_probes_sent_total',
      'shoal_probes_failed_total',
      'shoal_indirect_probes_sent_total',
      'shoal_suspicions_total',
      'shoal_refutations_total',
      'shoal_dead_declarations_total',
      'shoal_gossip_bytes_total{direction="in"}',
      'shoal_push_pull_bytes_total{direction="out"}',
      'shoal_packets_dropped_total',
      'shoal_local_health_score',
      'shoal_event_loop_delay_seconds{stat="max"}',
      'shoal_epoch',
      'shoal_push_pull_digests_sent_total',
      'shoal_push_pulls_in_sync_total',
      'shoal_protocol_steps_total{protocol="membership"}',
      'shoal_durable_writes_total{protocol="membership"}',
      'shoal_durable_write_errors_total',
      'shoal_durable_write_seconds_max{protocol="swim-leader"}',
      'shoal_joined 1',
      'shoal_stream_connections{state="unauthenticated"}',
      'shoal_stream_buffered_bytes{state="authenticated"}',
      'shoal_stream_buffered_bytes_peak{state="all"}',
    ]) {
      expect(res.body).toContain(name);
    }
  });

  it('exports every membership counter, with its help text, one metric each', async () => {
    const body = (await app.inject('/metrics')).body;
    for (const counter of COUNTER_NAMES) {
      const [metric, help] = MEMBERSHIP_COUNTER_METRICS[counter];
      expect(body, counter).toContain(`# HELP ${metric} ${help}\n# TYPE ${metric} counter\n`);
      const value = Number(new RegExp(`^${metric} (\\d+)$`, 'm').exec(body)?.[1]);
      expect(value, metric).toBe(node.stats().protocol[counter]);
    }
    const names = Object.values(MEMBERSHIP_COUNTER_METRICS).map(([metric]) => metric);
    expect(new Set(names).size).toBe(names.length);
    expect(names.every((n) => /^shoal_[a-z_]+_total$/.test(n))).toBe(true);
    expect(body).toContain('# TYPE shoal_swim_term_exhausted gauge\nshoal_swim_term_exhausted 0\n');
    // docs/http-api.md lists every metric the agent exports.
    const docs = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
    const exported = [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
    expect(exported.filter((metric) => !docs.includes(`\`${metric}`))).toEqual([]);
  });

  it('requires the bearer token on POST endpoints (401), not on GET', async () => {
    const missing = await app.inject({
      method: 'POST',
      url: '/v1/join',
      payload: { addresses: ['127.0.0.1:1'] },
    });
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.code).toBe('ERR_UNAUTHORIZED');
    const wrong = await app.inject({
      method: 'POST',
      url: '/v1/leave',
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(node.isClosed).toBe(false);
    expect((await app.inject('/v1/members')).statusCode).toBe(200);
  });

  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const badBodies: Array<[what: string, payload: string, message: RegExp]> = [
    ['malformed JSON', '{"addresses": [', /not valid JSON/],
    ['an unknown field', '{"addresses":["127.0.0.1:1"],"force":true}', /unknown field "force"/],
    [
      'a wrong type',
      '{"addresses":"127.0.0.1:1"}',
      /addresses \("127.0.0.1:1"\): .*expected array/,
    ],
    [
      'a bad address',
      '{"addresses":["localhost"]}',
      /addresses.0 \("localhost"\): must be host:port/,
    ],
    ['an empty list', '{"addresses":[]}', /addresses \(\[\]\): .*>=1/],
    ['a missing field', '{}', /addresses \(missing\)/],
  ];
  for (const [what, payload, message] of badBodies) {
    it(`answers 400 ERR_HTTP_BAD_REQUEST for ${what}`, async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/join', headers: auth, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('ERR_HTTP_BAD_REQUEST');
      expect(res.json().error.message).toMatch(message);
    });
  }

  it('answers 413 for a body over the limit and 404 JSON for an unknown route', async () => {
    const big = await app.inject({
      method: 'POST',
      url: '/v1/join',
      headers: auth,
      payload: JSON.stringify({ addresses: ['x'.repeat(70_000)] }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('ERR_HTTP_BODY_TOO_LARGE');
    const missing = await app.inject('/v2/nothing');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      error: { code: 'ERR_NOT_FOUND', message: expect.stringContaining('GET /v2/nothing') },
    });
  });

  it('maps a failed join to 502 ERR_JOIN_FAILED', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/join',
      headers: auth,
      payload: { addresses: ['127.0.0.1:9'] },
    });
    expect(res.statusCode).toBe(502);
    expect(res.json().error.code).toBe('ERR_JOIN_FAILED');
  });

  it('serves the dashboard index at / and refuses names outside the folder', async () => {
    const index = await app.inject('/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect((await app.inject('/dashboard/style.css')).headers['content-type']).toMatch(/text\/css/);
    expect((await app.inject('/dashboard/..%2Fserver.ts')).statusCode).toBe(404);
    expect((await app.inject('/dashboard/missing.js')).json().error.code).toBe('ERR_NOT_FOUND');
  });
});

describe('agent HTTP API with a scripted node', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => app?.close());

  it('joins, then leaves and calls onLeft after answering', async () => {
    const node = new ScriptedNode();
    let leftCalls = 0;
    app = buildAgentApp(node.asAgentNode(), { onLeft: () => leftCalls++ });
    const joined = await app.inject({
      method: 'POST',
      url: '/v1/join',
      payload: { addresses: ['127.0.0.1:5', '[::1]:6'] },
    });
    expect(joined.json()).toEqual({ joined: 2 });
    expect(node.joined).toEqual([['127.0.0.1:5', '[::1]:6']]);
    const left = await app.inject({ method: 'POST', url: '/v1/leave' });
    expect(left.json()).toEqual({ left: true });
    expect(node.left).toBe(true);
    expect(leftCalls).toBe(1);
  });

  it('labels decode errors as drop reasons in metrics', async () => {
    app = buildAgentApp(new ScriptedNode().asAgentNode());
    const body = (await app.inject('/metrics')).body;
    expect(body).toContain('shoal_packets_dropped_total{reason="decode_truncated"} 2');
    expect(body).toContain('shoal_probes_sent_total 7');
  });

  it('exports stream connections closed by a limit by reason, and refusals received, not as drops', async () => {
    const scripted = new ScriptedNode();
    const stats = scripted.stats();
    const dropped = { hello_timeout: 3, buffer_limit: 2, queue_overflow: 1, refused_by_peer: 4 };
    scripted.stats = () => ({ ...stats, transport: { ...emptyStats(), dropped } });
    app = buildAgentApp(scripted.asAgentNode());
    const body = (await app.inject('/metrics')).body;
    expect(body).toContain('shoal_stream_connections_closed_total{reason="hello_timeout"} 3');
    expect(body).toContain('shoal_stream_connections_closed_total{reason="buffer_limit"} 2');
    for (const reason of STREAM_CLOSE_REASONS)
      expect(body).toMatch(
        new RegExp(`shoal_stream_connections_closed_total\\{reason="${reason}"\\} \\d`),
      );
    expect(body).toContain('shoal_stream_refusals_received_total 4');
    expect(body).toContain('shoal_packets_dropped_total{reason="queue_overflow"} 1');
    expect(body).not.toMatch(
      /shoal_packets_dropped_total\{reason="(hello_timeout|buffer_limit|refused_by_peer)"/,
    );
  });

  it('answers / with a 404 JSON message when the dashboard is not installed', async () => {
    app = buildAgentApp(new ScriptedNode().asAgentNode(), {
      dashboardDir: '/nonexistent-shoal-dashboard',
    });
    const res = await app.inject('/');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toMatch(/dashboard is not installed/);
  });
});
