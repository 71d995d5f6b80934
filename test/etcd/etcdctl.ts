/**
 * Running Debian's `etcdctl` (package etcd-client, API v3) against a system's endpoints, for the
 * compatibility tests: one command to completion (bounded), or a long-running one (a watch, a
 * keep-alive) whose output lines are collected until the test stops it by its PID. Every process
 * started here is remembered and killed by PID when the test file ends; nothing else is touched.
 * Never blocks the event loop: the in-process Shoal target serves from this same process.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor } from '../helpers/wait.js';

/** Bound on one etcdctl command. */
export const ETCDCTL_TIMEOUT_MS = 20_000;

export interface EtcdctlTls {
  readonly cacert: string;
  readonly cert: string;
  readonly key: string;
}

export interface EtcdctlResult {
  /** Exit code (null when killed). */
  readonly code: number | null;
  readonly stdout: string;
  /** stderr without the Go client's JSON log lines (retry warnings). */
  readonly stderr: string;
}

/** `etcdctl version`'s first line, or undefined when etcdctl is not installed. */
export function etcdctlVersion(): string | undefined {
  try {
    return execFileSync('etcdctl', ['version'], { encoding: 'utf8', timeout: 10_000 }).split(
      '\n',
    )[0];
  } catch {
    return undefined;
  }
}

function baseArgs(endpoints: readonly string[], tls: EtcdctlTls | undefined): string[] {
  const args = ['--endpoints', endpoints.join(','), '--dial-timeout', '5s'];
  if (tls !== undefined) args.push('--cacert', tls.cacert, '--cert', tls.cert, '--key', tls.key);
  return args;
}

const ENV = { ...process.env, ETCDCTL_API: '3' };

function cleanStderr(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('{"level":'))
    .join('\n');
}

/** Runs one etcdctl command to completion; `input` is written to its stdin. */
export function etcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: { input?: string; tls?: EtcdctlTls; timeoutMs?: number } = {},
): Promise<EtcdctlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'etcdctl',
      [...baseArgs(endpoints, options.tls), ...args],
      { env: ENV, encoding: 'utf8', timeout: options.timeoutMs ?? ETCDCTL_TIMEOUT_MS },
      (err, stdout, stderr) =>
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : null,
          stdout,
          stderr: cleanStderr(stderr),
        }),
    );
    // etcdctl may exit before reading its input (most commands never read it).
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

const running = new Set<ChildProcess>();

/** Kills (by PID) every long-running etcdctl still running. */
export function killEtcdctls(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

export interface RunningEtcdctl {
  readonly lines: string[];
  stderr(): string;
  /** Waits (bounded) until `check(lines)` holds. */
  until(check: (lines: string[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits for the process to exit on its own (bounded); its exit code. */
  exited(timeoutMs?: number): Promise<number | null>;
  stop(): void;
}

/** Starts a long-running etcdctl command (watch, lease keep-alive). */
export function startEtcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: { tls?: EtcdctlTls } = {},
): RunningEtcdctl {
  const child = spawn('etcdctl', [...baseArgs(endpoints, options.tls), ...args], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  let stderr = '';
  let exitCode: number | null | undefined;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) =>
    lines.push(l),
  );
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.on('exit', (code) => {
    exitCode = code;
    running.delete(child);
  });
  return {
    lines,
    stderr: () => cleanStderr(stderr),
    until: (check, what, timeoutMs = ETCDCTL_TIMEOUT_MS) =>
      waitFor(
        () => {
          if (check(lines)) return true;
          if (exitCode !== undefined)
            throw new Error(`etcdctl exited (${exitCode}) before: ${what}; ${stderr}`);
          return false;
        },
        timeoutMs,
        () => `${what}; output so far: ${lines.join(' | ')}`,
      ),
    async exited(timeoutMs = ETCDCTL_TIMEOUT_MS) {
      await waitFor(() => exitCode !== undefined, timeoutMs, 'etcdctl exits');
      return exitCode ?? null;
    },
    stop() {
      child.kill('SIGKILL');
      running.delete(child);
    },
  };
}

/**
 * JSON.parse for etcdctl's `-w json` output, whose uint64 ids are bare numbers above 2^53:
 * integers of 16 digits or more are read as strings so they stay exact.
 */
export function parseEtcdJson<T>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"')) as T;
}

/** etcdctl's hex form of a decimal member or lease id. */
export function hexId(decimal: string): string {
  return BigInt(decimal).toString(16).padStart(16, '0');
}
