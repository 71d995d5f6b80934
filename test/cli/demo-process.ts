/**
 * Test harness: runs `shoal demo` as a child process from source (spawnShoal), reads
 * the dashboard URL it prints, and remembers every agent PID it reports, so a failing test can
 * still SIGKILL exactly the processes it caused and no others. Every wait is bounded.
 */
import type { DemoMode, DemoNodeInfo } from '../../src/cli/demo-cluster.js';
import { until } from '../helpers/wait.js';
import { exitWithin, killChildren, spawnShoal, type Child } from '../helpers/shoal-process.js';

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

export class DemoProcess {
  readonly agentPids = new Set<number>();
  private out = '';

  private constructor(
    readonly child: Child,
    readonly url: string,
  ) {
    child.process.stdout?.on('data', (chunk: Buffer) => (this.out += chunk.toString()));
  }

  static async start(
    nodes: number,
    mode: DemoMode = 'swim',
    startTimeoutMs = DEMO_START_TIMEOUT_MS,
  ): Promise<DemoProcess> {
    const child = spawnShoal([
      'demo',
      '--nodes',
      String(nodes),
      '--mode',
      mode,
      '--http',
      '127.0.0.1:0',
    ]);
    let stdout = '';
    child.process.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const url = await until(
        async () => {
          if (child.process.exitCode !== null)
            throw new Error(
              `demo exited with ${child.process.exitCode}:\n${stdout}${child.stderr()}`,
            );
          return /dashboard: (http:\/\/\S+)/.exec(stdout)?.[1];
        },
        startTimeoutMs,
        'the demo to print its dashboard URL',
      );
      const demo = new DemoProcess(child, url);
      demo.out = stdout;
      await demo.nodes();
      return demo;
    } catch (err) {
      killChildren();
      throw err;
    }
  }

  /** Everything the demo printed so far (stdout, then stderr). */
  get output(): string {
    return this.out + this.child.stderr();
  }

  async json<T>(path: string, method = 'GET'): Promise<{ status: number; body: T }> {
    const res = await fetch(new URL(path, this.url), {
      method,
      signal: AbortSignal.timeout(5_000),
    });
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
    this.child.process.kill(signal);
    return (await exitWithin(this.child, timeoutMs)).code;
  }

  /** Cleanup after a failure: SIGKILL the demo and every agent PID it reported that still runs. */
  killEverything(): void {
    killChildren();
    for (const pid of this.agentPids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}
