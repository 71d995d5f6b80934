/**
 * Child processes running the real `shoal` CLI from source (`node --import tsx src/cli/shoal.ts`),
 * for integration tests. Every child spawned here is remembered, and `killChildren` ends only
 * those (by PID), so a test never touches processes it did not start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];

export interface Child {
  process: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `shoal ARGS` with the SHOAL_* environment cleared. */
export function spawnShoal(args: string[]): Child {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/shoal.ts', ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, stderr: () => stderr, exit };
}

/** The parsed JSON log lines written so far. */
export function logLines(child: Child): Array<Record<string, unknown>> {
  return child
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Waits for the agent's "agent started" log line and returns its HTTP URL and NodeId. */
export async function agentStarted(
  child: Child,
  timeoutMs = 30_000,
): Promise<{ http: string; id: string }> {
  await waitFor(
    () => logLines(child).some((l) => l['msg'] === 'agent started'),
    timeoutMs,
    'the agent logs "agent started"',
  );
  return logLines(child).find((l) => l['msg'] === 'agent started') as { http: string; id: string };
}

export async function exitWithin(
  child: Child,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new Error(`child did not exit within ${ms} ms; stderr: ${child.stderr()}`)),
        ms,
      )),
  );
  try {
    return await Promise.race([child.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs every child spawned here that is still running. */
export function killChildren(): void {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
