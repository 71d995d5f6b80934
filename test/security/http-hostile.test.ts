/**
 * A hostile HTTP client against a real agent over loopback: every bad request is a 4xx in the
 * `{"error":{"code","message"}}` shape whose message says what was wrong (deep nesting,
 * prototype poisoning, a body over the limit, bad JSON, a wrong content type, join addresses
 * that are not IPs or resolvable names), never a 5xx; nothing it sends sets a field or a
 * prototype, and the agent answers normally afterwards.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';

let agent: RunningAgent;
let base: string;

beforeAll(async () => {
  const config = resolveAgentConfig(
    {
      name: 'http-target',
      bind: '127.0.0.1:0',
      http: '127.0.0.1:0',
      profile: 'local',
      logLevel: 'silent',
      dataDir: join(mkdtempSync(join(tmpdir(), 'shoal-http-hostile-')), 'target'),
    },
    {},
  );
  agent = await startAgent(config);
  base = `http://${agent.server.address}`;
});

afterAll(async () => {
  await agent.stop('test over');
});

async function post(
  path: string,
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: response.status, body: (await response.json()) as never };
}

const deep = (levels: number): string => `{"addresses":${'['.repeat(levels)}${']'.repeat(levels)}}`;

describe('bodies that attack the parser', () => {
  it.each([
    ['nested 5,000 deep', deep(5000), 400, /nests deeper than 32 levels/],
    ['nested 30,000 deep (under the body limit)', deep(30_000), 400, /nests deeper than 32/],
    ['a __proto__ key', '{"__proto__":{"addresses":["127.0.0.1:1"]}}', 400, /"__proto__"/],
    ['a nested __proto__ key', '{"addresses":[{"__proto__":{"x":1}}]}', 400, /prototype poisoning/],
    ['constructor.prototype', '{"constructor":{"prototype":{"x":1}}}', 400, /prototype poisoning/],
    ['a unicode-escaped __proto__', '{"\\u005f_proto__":{"x":1}}', 400, /prototype poisoning/],
    ['not JSON', '{"addresses": [', 400, /body is not valid JSON/],
    ['empty', '', 400, /empty body|JSON/],
    ['over the body limit', JSON.stringify({ addresses: ['x'.repeat(70_000)] }), 413, /./],
  ])('%s: %i', async (_what, body, status, message) => {
    const answer = await post('/v1/join', body);
    expect(answer.status).toBe(status);
    expect(answer.body.error?.code).toMatch(/^ERR_HTTP_/);
    expect(answer.body.error?.message).toMatch(message);
  });

  it.each([
    ['text/plain', 400],
    ['application/xml', 415],
  ])('content type %s is a %i in the error shape', async (contentType, status) => {
    const answer = await post('/v1/join', '{"addresses":["127.0.0.1:1"]}', contentType);
    expect(answer.status).toBe(status);
    expect(answer.body.error?.code).toBe('ERR_HTTP_BAD_REQUEST');
  });
});

describe('join addresses', () => {
  it.each([
    ['999.1.1.1:1', /addresses\.0 \("999\.1\.1\.1:1"\): .*not a valid IPv4 address/],
    ['1.2.3:4', /addresses\.0 \("1\.2\.3:4"\): .*not a valid IPv4 address/],
    ['-x-:1', /addresses\.0 \("-x-:1"\): .*is neither/],
    ['no-such-host.invalid:7946', /addresses\[0\] "no-such-host\.invalid:7946": the name/],
  ])('%s is a 400 naming the field', async (address, message) => {
    const answer = await post('/v1/join', JSON.stringify({ addresses: [address] }));
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toMatch(message);
  });
});

describe('afterwards', () => {
  it('nothing was set, nothing polluted, and the agent answers as before', async () => {
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(({} as Record<string, unknown>)['addresses']).toBeUndefined();
    const members = (await (await fetch(`${base}/v1/members`)).json()) as { members: unknown[] };
    expect(members.members).toHaveLength(1);
    expect(await (await fetch(`${base}/v1/health`)).json()).toEqual({ status: 'ok' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('shoal_members');
  });
});
