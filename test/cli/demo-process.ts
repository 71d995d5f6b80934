/**
 * Test harness: runs `shoal demo` as a child process from source (`node --import tsx`), reads
 * the dashboard URL it prints, and remembers every agent PID it reports, so a failing test can
 * still SIGKILL exactly the processes it caused and no others. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DemoNodeInfo } from '../../src/cli/demo-cluster.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Agents compile with tsx on start; several at once on a shared 2-core machine take a while. */
export const DEMO_START_TIMEOUT_MS = 120_000;

export interface Member {
  id: string;
  name: string;
  state: string;
  incarnation: number;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
}

export class DemoProcess {
  readonly agentPids = new Set<number>();
  private out = '';
  private exit: Promise<number | null>;

  private constructor(readonly child: ChildProcess, readonly url: string) {
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(nodes: number): Promise<DemoProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/shoal.ts', 'demo', '--nodes', String(nodes), '--http', '127.0.0.1:0'], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const url = await until(async () => {
        if (child.exitCode !== null) throw new Error(`demo exited with ${child.exitCode}:\n${output}`);
        return /dashboard: (http:\/\/\S+)/.exec(output)?.[1];
      }, DEMO_START_TIMEOUT_MS, `the demo to print its dashboard URL; output so far:\n${output}`);
      const demo = new DemoProcess(child, url);
      demo.out = output;
      child.stdout?.on('data', (chunk: Buffer) => (demo.out += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (demo.out += chunk.toString()));
      await demo.nodes();
      return demo;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  get output(): string {
    return this.out;
  }

  async json<T>(path: string, method = 'GET'): Promise<{ status: number; body: T }> {
    const res = await fetch(new URL(path, this.url), { method, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as T };
  }

  async nodes(): Promise<DemoNodeInfo[]> {
    const { body } = await this.json<{ nodes: DemoNodeInfo[] }>('/demo/nodes');
    for (const n of body.nodes) if (n.pid !== null) this.agentPids.add(n.pid);
    return body.nodes;
  }

  async members(): Promise<Member[]> {
    const res = await this.json<{ members: Member[] }>('/v1/members');
    return res.status === 200 ? res.body.members : [];
  }

  /** Sends `signal` to the demo and resolves to its exit code (null: killed by a signal). */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number | null> {
    this.child.kill(signal);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const code = await Promise.race([this.exit, timeout]);
    if (code === 'timeout') throw new Error(`the demo did not exit within ${timeoutMs} ms of ${signal}`);
    return code;
  }

  /** Cleanup after a failure: SIGKILL the demo and every agent PID it reported that still runs. */
  killEverything(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    for (const pid of this.agentPids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}
