/**
 * Issue 12's "startup failures an operator can see", over real `shoal agent` processes:
 *
 * - a join refused at startup (another cluster id, another gossip key, no key against a seed
 *   with one) is a warn line naming the reason and the detail; the node is not joined, so it
 *   reports no leader, `/v1/health` is a 503 saying why and `shoal_joined` is 0 (the full
 *   inbound limit is the same path, shown over sockets in test/node/join-status.test.ts);
 * - two processes with the same identity both log `identity_conflict`;
 * - a bad `membership/incarnation` file (empty, garbage, negative, beyond 2^53, a directory)
 *   makes the process exit 1 with one line and no stack trace: it does not hang with its ports
 *   bound (in-process, test/node/create-node-edges.test.ts also shows the port is released).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateIdentitySync } from '../../src/identity/identity.js';
import { generateKey } from '../../src/transport/keyring.js';
import { exitWithin, logLines, spawnShoal } from '../helpers/shoal-process.js';
import { until, waitFor } from '../helpers/wait.js';
import { getJson, metrics, securityLines, startAgents, stopAgents, tempDir } from './agents.js';
import type { Agent } from './agents.js';

afterEach(() => stopAgents());

/** The agent's join-failure warn lines. */
const joinFailures = (agent: Agent) =>
  logLines(agent.child).filter((l) => l['event'] === 'join' && l['level'] === 40);

describe('startup failures in the log and in /v1/health (issue 12)', () => {
  it('a join refused for another cluster id, another key or no key is logged with why; the node is not joined and leads nothing', async () => {
    const key = generateKey();
    const agents = await startAgents([
      { name: 'seed', args: ['--cluster-id', 'prod', '--key', key] },
      { name: 'other-cluster', args: ['--cluster-id', 'test', '--key', key], join: ['seed'] },
      { name: 'other-key', args: ['--cluster-id', 'prod', '--key', generateKey()], join: ['seed'] },
      { name: 'no-key', args: ['--cluster-id', 'prod'], join: ['seed'] },
    ]);
    const expected: Record<string, RegExp> = {
      'other-cluster': /\(wrong_cluster\): .*cluster/,
      'other-key': /refused our connection: it could not authenticate our frames/,
      'no-key': /refused our connection: it could not authenticate our frames/,
    };
    for (const agent of agents.slice(1)) {
      const why = expected[agent.name] as RegExp;
      await waitFor(
        () => joinFailures(agent).some((l) => why.test(String(l['msg']))),
        20_000,
        () =>
          `${agent.name} logs its refused join; it logged: ${joinFailures(agent)
            .map((l) => l['msg'])
            .join(' | ')}`,
      );
      const line = joinFailures(agent).find((l) => why.test(String(l['msg'])));
      expect(line, agent.name).toMatchObject({
        reason: expect.any(String),
        detail: expect.any(String),
        joined: false,
        msg: expect.stringMatching(/not joined: no leader until a seed or member answers/),
      });
      const health = await fetch(`${agent.http}/v1/health`);
      expect(health.status, agent.name).toBe(503);
      expect(await health.json()).toMatchObject({
        status: 'not_joined',
        detail: expect.any(String),
      });
      expect(await getJson(agent, '/v1/leader'), agent.name).toMatchObject({ leader: null });
      expect((await metrics(agent)).get('shoal_joined'), agent.name).toBe(0);
    }
  }, 90_000);

  it('two processes with one identity both log identity_conflict', async () => {
    const original = tempDir('b');
    const copy = tempDir('b-copy');
    loadOrCreateIdentitySync(original);
    copyFileSync(join(original, 'identity.json'), join(copy, 'identity.json'));
    const [, b, twin] = await startAgents([
      { name: 'a' },
      { name: 'b', dataDir: original, join: ['a'] },
      { name: 'b', dataDir: copy, join: ['a'] },
    ]);
    if (b === undefined || twin === undefined) throw new Error('3 agents');
    expect(twin.id).toBe(b.id);
    for (const agent of [b, twin])
      await waitFor(
        () => securityLines(agent, 'identity_conflict').length > 0,
        60_000,
        `the process on ${agent.address} logs identity_conflict`,
      );
    expect(securityLines(b, 'identity_conflict')[0]?.['msg']).toMatch(
      /another process runs with the same identity/,
    );
    await until(
      async () =>
        ((await metrics(twin)).get('shoal_identity_conflicts_total') ?? 0) > 0 ? true : undefined,
      10_000,
      'the twin counts it on /metrics',
    );
  }, 150_000);

  it('a bad membership/incarnation file (empty, garbage, negative, beyond 2^53, a directory): exit 1 with one line, no stack trace', async () => {
    const cases: Array<[what: string, text: string | undefined]> = [
      ['empty', ''],
      ['garbage', 'garbage\n'],
      ['negative', '-1\n'],
      ['beyond 2^53', `${2 ** 53 + 2}\n`],
      ['a directory', undefined],
    ];
    const children = cases.map(([what, text]) => {
      const dataDir = tempDir('incarnation');
      mkdirSync(join(dataDir, 'membership'), { recursive: true });
      const file = join(dataDir, 'membership', 'incarnation');
      if (text === undefined) mkdirSync(file);
      else writeFileSync(file, text);
      const child = spawnShoal([
        ...['agent', '--name', 'bad', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0'],
        ...['--data-dir', dataDir],
      ]);
      return { what, child };
    });
    for (const { what, child } of children) {
      expect(await exitWithin(child, 30_000), what).toEqual({ code: 1, signal: null });
      const lines = child.stderr().trim().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(/^shoal: .*membership\/incarnation/);
      expect(child.stderr(), what).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
