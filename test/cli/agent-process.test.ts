/**
 * `shoal agent` as a real child process (`node --import tsx src/cli/shoal.ts agent ...`):
 * it logs JSON lines carrying its name and id, joins an in-process node, and on SIGTERM leaves
 * gracefully (the other node sees `left`, not `dead`) and exits 0. A port in use is one clear
 * line on stderr and exit 1, without a stack trace. Only the children spawned here are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { closeAll, startNode } from '../agent/nodes.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-agent-proc-'));
const children: ChildProcess[] = [];

interface Child {
  process: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnShoal(args: string[]): Child {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/shoal.ts', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { process: child, stderr: () => stderr, exit };
}

/** The parsed JSON log lines written so far. */
function logLines(child: Child): Array<Record<string, unknown>> {
  return child.stderr().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function exitWithin(child: Child, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`child did not exit within ${ms} ms; stderr: ${child.stderr()}`)), ms)));
  try {
    return await Promise.race([child.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await closeAll();
});

describe('shoal agent process', () => {
  it('joins, logs JSON with name and id, and on SIGTERM leaves gracefully and exits 0', async () => {
    const observer = await startNode('proc-observer');
    const agent = spawnShoal(['agent', '--name', 'proc-1', '--bind', '127.0.0.1:0', '--http', '127.0.0.1:0', '--profile', 'local', '--data-dir', join(dataRoot, 'proc-1'), '--join', observer.address]);
    await waitFor(() => logLines(agent).some((l) => l['msg'] === 'agent started'), 30_000, 'the agent logs "agent started"');
    const started = logLines(agent).find((l) => l['msg'] === 'agent started') as { http: string; id: string };
    expect((await (await fetch(`${started.http}/v1/health`)).json())).toEqual({ status: 'ok' });
    await waitFor(() => observer.members().some((m) => m.name === 'proc-1' && m.state === 'alive'), 15_000, 'the observer sees proc-1 alive');

    agent.process.kill('SIGTERM');
    const exit = await exitWithin(agent, 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor(() => observer.members().some((m) => m.name === 'proc-1' && m.state === 'left'), 10_000, 'the observer sees proc-1 left');
    const lines = logLines(agent);
    expect(lines.every((l) => l['name'] === 'proc-1' && l['id'] === started.id)).toBe(true);
    expect(lines.map((l) => l['msg'])).toEqual(expect.arrayContaining(['member proc-observer joined', 'agent stopping: leaving the cluster', 'agent stopped']));
  });

  it('exits 1 with one clear line and no stack trace when the HTTP port is in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const agent = spawnShoal(['agent', '--name', 'proc-2', '--bind', '127.0.0.1:0', '--http', `127.0.0.1:${port}`, '--data-dir', join(dataRoot, 'proc-2')]);
      const exit = await exitWithin(agent, 30_000);
      expect(exit.code).toBe(1);
      const plain = agent.stderr().split('\n').filter((line) => line !== '' && !line.startsWith('{'));
      expect(plain).toEqual([`shoal: cannot listen on 127.0.0.1:${port} for the HTTP API (EADDRINUSE): another agent may be using it; choose another with --http`]);
      expect(agent.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
