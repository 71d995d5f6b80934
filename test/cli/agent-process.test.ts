/**
 * `shoal agent` as a real child process (`node --import tsx src/cli/shoal.ts agent ...`):
 * it logs JSON lines carrying its name and id, joins an in-process node, and on SIGTERM leaves
 * gracefully (the other node sees `left`, not `dead`) and exits 0. A port in use is one clear
 * line on stderr and exit 1, without a stack trace. Only the children spawned here are killed.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor, waitForAsync } from '../helpers/wait.js';
import {
  agentStarted,
  exitWithin,
  killChildren,
  logLines,
  spawnShoal,
} from '../helpers/shoal-process.js';
import { closeAll, startNode } from '../agent/nodes.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-agent-proc-'));

afterEach(async () => {
  killChildren();
  await closeAll();
});

describe('shoal agent process', () => {
  it('joins, logs JSON with name and id, and on SIGTERM leaves gracefully and exits 0', async () => {
    const observer = await startNode('proc-observer');
    const agent = spawnShoal([
      'agent',
      '--name',
      'proc-1',
      '--bind',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--profile',
      'local',
      '--data-dir',
      join(dataRoot, 'proc-1'),
      '--join',
      observer.address,
    ]);
    const started = await agentStarted(agent);
    await waitFor(
      () => observer.members().some((m) => m.name === 'proc-1' && m.state === 'alive'),
      15_000,
      'the observer sees proc-1 alive',
    );
    // Joined once the observer answered its join (until then /v1/health is 503 not_joined).
    await waitForAsync(
      async () => (await fetch(`${started.http}/v1/health`)).status === 200,
      15_000,
      'proc-1 reports itself joined',
    );
    expect(await (await fetch(`${started.http}/v1/health`)).json()).toEqual({ status: 'ok' });

    agent.process.kill('SIGTERM');
    const exit = await exitWithin(agent, 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor(
      () => observer.members().some((m) => m.name === 'proc-1' && m.state === 'left'),
      10_000,
      'the observer sees proc-1 left',
    );
    const lines = logLines(agent);
    expect(lines.every((l) => l['name'] === 'proc-1' && l['id'] === started.id)).toBe(true);
    expect(lines.map((l) => l['msg'])).toEqual(
      expect.arrayContaining([
        'member proc-observer joined',
        'agent stopping: leaving the cluster',
        'agent stopped',
      ]),
    );
  });

  it('exits 1 with one clear line and no stack trace when the HTTP port is in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const agent = spawnShoal([
        'agent',
        '--name',
        'proc-2',
        '--bind',
        '127.0.0.1:0',
        '--http',
        `127.0.0.1:${port}`,
        '--data-dir',
        join(dataRoot, 'proc-2'),
      ]);
      const exit = await exitWithin(agent, 30_000);
      expect(exit.code).toBe(1);
      const plain = agent
        .stderr()
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('{'));
      expect(plain).toEqual([
        `shoal: cannot listen on 127.0.0.1:${port} for the HTTP API (EADDRINUSE): another agent may be using it; choose another with --http`,
      ]);
      expect(agent.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
