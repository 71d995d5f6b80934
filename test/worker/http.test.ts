/**
 * The worker tier on the agent's HTTP API and metrics (src/worker/http.ts, src/worker/metrics.ts,
 * docs/http-api.md "Worker tier"), through the agent's own app (fastify `inject`) over a
 * WorkerServer on the KvService double with real workers over gRPC and mTLS: a token from
 * `POST /v1/tokens` registers a worker, `GET /v1/workers` lists it, `POST /v1/scale` writes the
 * service, bad requests are 400/401/404 and change nothing, and `/metrics` counts workers by
 * state and registrations refused by reason. Also the CLI's parsing and table.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentApp } from '../../src/agent/server.js';
import type { AgentNode } from '../../src/agent/agent-node.js';
import { formatWorkers, parseDurationMs, parseLabels } from '../../src/cli/worker-commands.js';
import { heartbeatTtlBaseMsFor } from '../../src/worker/core/config.js';
import type { WorkerServer } from '../../src/worker/server.js';
import { ScriptedNode } from '../agent/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { Tier } from './harness.js';

const TOKEN = 'sixteen-chars-token-0123';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

class TierNode extends ScriptedNode {
  constructor(readonly workers: WorkerServer | undefined) {
    super();
  }
}

describe('worker tier HTTP routes and metrics', () => {
  let tier: Tier;
  let server: WorkerServer;
  let app: FastifyInstance;
  beforeAll(async () => {
    tier = new Tier();
    server = await tier.addServer();
    tier.setLeader(0);
    await waitFor(() => server.view.servers.size === 1, 5_000, 'server published');
    app = buildAgentApp(new TierNode(server) as unknown as AgentNode, { httpToken: TOKEN });
  });
  afterAll(async () => {
    await app.close();
    await tier.close();
  });

  it('issues a token that registers a worker, then lists it and shows it alone', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/tokens', payload: {} })).statusCode).toBe(
      401,
    );
    const issued = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: auth,
      payload: { maxUses: 1, ttlMs: 3_600_000, labels: { zone: 'b' } },
    });
    expect(issued.statusCode).toBe(200);
    const { token, maxUses } = issued.json() as { token: string; maxUses: number };
    expect(token).toMatch(/^swt1_/);
    expect(maxUses).toBe(1);
    const worker = await tier.addWorker(token);
    await waitFor(() => worker.clientState.phase === 'registered', 10_000, 'worker registered');
    await waitFor(() => server.view.workers.size === 1, 5_000, 'record applied');
    const listed = (await app.inject('/v1/workers')).json() as {
      workers: { id: string; status: string; labels: Record<string, string> }[];
      ttlBaseMs: number;
      leading: boolean;
    };
    expect(listed.workers).toHaveLength(1);
    expect(listed.workers[0]).toMatchObject({ status: 'registered', labels: { zone: 'b' } });
    expect(listed.ttlBaseMs).toBe(heartbeatTtlBaseMsFor(1, server.options.config));
    expect(listed.leading).toBe(true);
    const id = listed.workers[0]!.id;
    expect((await app.inject(`/v1/workers/${id}`)).json()).toMatchObject({ id });
    const missing = await app.inject(`/v1/workers/${'0'.repeat(32)}`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('ERR_NOT_FOUND');
    // The token's one use is taken: a second worker is refused, and the metrics say why.
    const second = await tier.addWorker(token);
    await waitFor(() => second.stopReason !== undefined, 10_000, 'second registration refused');
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/shoal_workers\{state="registered"\} 1/);
    expect(metrics).toMatch(/shoal_worker_registrations_total 1/);
    expect(metrics).toMatch(/shoal_worker_registrations_refused_total\{reason="used-up"\} 1/);
    expect(metrics).toMatch(/shoal_worker_heartbeat_ttl_base_seconds \d+/);
    expect(metrics).toMatch(/shoal_worker_leading 1/);
  });

  it('scales a service, and refuses a bad body or a bad token option without writing', async () => {
    const scaled = await app.inject({
      method: 'POST',
      url: '/v1/scale/web',
      headers: auth,
      payload: { replicas: 2, roles: ['api'] },
    });
    expect(scaled.statusCode).toBe(200);
    expect(scaled.json()).toMatchObject({ service: 'web', replicas: 2, generation: 1 });
    await waitFor(() => server.view.services.has('web'), 5_000, 'service applied');
    // The scheduler places the replicas meanwhile; the service record itself must not change.
    const before = server.view.services.get('web')?.modRevision;
    for (const payload of [{ replicas: -1 }, { replicas: 1, extra: true }, {}]) {
      const bad = await app.inject({
        method: 'POST',
        url: '/v1/scale/web',
        headers: auth,
        payload,
      });
      expect(bad.statusCode).toBe(400);
    }
    const badName = await app.inject({
      method: 'POST',
      url: '/v1/scale/-bad',
      headers: auth,
      payload: { replicas: 1 },
    });
    expect(badName.statusCode).toBe(400);
    const badToken = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: auth,
      payload: { maxUses: 0 },
    });
    expect(badToken.statusCode).toBe(400);
    expect(badToken.json().error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(server.view.services.get('web')?.modRevision).toBe(before);
  });

  it('answers 404 naming the mode on an agent that is not a worker-server', async () => {
    const other = buildAgentApp(new TierNode(undefined) as unknown as AgentNode);
    const answer = await other.inject('/v1/workers');
    expect(answer.statusCode).toBe(404);
    expect(answer.json().error.message).toMatch(/worker-server.*'swim'/);
    expect((await other.inject('/metrics')).body).not.toMatch(/shoal_workers\{/);
    await other.close();
  });
});

describe('worker CLI parsing', () => {
  it('reads durations with one unit and refuses anything else', () => {
    expect(parseDurationMs('--ttl', '24h')).toBe(86_400_000);
    expect(parseDurationMs('--ttl', '90s')).toBe(90_000);
    expect(parseDurationMs('--ttl', '7d')).toBe(7 * 86_400_000);
    expect(parseDurationMs('--ttl', '500ms')).toBe(500);
    for (const bad of ['24', 'h', '1.5h', '0s', '-1h', '24 hours'])
      expect(() => parseDurationMs('--ttl', bad)).toThrow(/--ttl/);
  });

  it('reads labels k=v and refuses a pair without a key', () => {
    expect(parseLabels(['zone=a', 'gpu=true', 'empty='])).toEqual({
      zone: 'a',
      gpu: 'true',
      empty: '',
    });
    expect(() => parseLabels(['=a'])).toThrow(/key=value/);
    expect(() => parseLabels(['zone'])).toThrow(/key=value/);
  });

  it('prints workers as a table with TTLs in seconds', () => {
    const text = formatWorkers({
      workers: [
        {
          id: 'ab'.repeat(16),
          name: 'w1',
          status: 'registered',
          reason: 'registered',
          labels: { zone: 'a' },
          certNotAfterMs: 0,
          ttlMs: 20_000,
          expiresInMs: 12_400,
          assignments: 2,
        },
      ],
      ttlBaseMs: 10_000,
      leading: true,
    });
    expect(text).toContain('1 workers, TTL base 10s');
    expect(text).toMatch(/w1\s+abab\S+\s+registered\s+20s\s+12s\s+2\s+zone=a/);
  });
});
