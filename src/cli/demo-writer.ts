/**
 * The small writer of `shoal demo --mode raft`: one write at a time, every WRITER_INTERVAL_MS,
 * `demo/counter` = 1, 2, 3, … through the HTTP API of a running agent (the one that answered last
 * first; any member forwards to the leader). Acknowledged writes, failures and the last error are
 * counted for the dashboard, so a leader kill shows as a short run of failures (503 no leader,
 * or a timeout) and then writes acknowledged again by the new leader.
 */
import type { DemoCluster } from './demo-cluster.js';

/** Pause between two writes, ms. */
export const WRITER_INTERVAL_MS = 250;
/** Bound on one write, ms. */
export const WRITER_REQUEST_TIMEOUT_MS = 3_000;

export interface WriterStats {
  acknowledged: number;
  failed: number;
  lastValue: number;
  lastRevision: number | null;
  lastError: string | null;
  /** Which agent took the last acknowledged write. */
  lastNode: string | null;
}

export class DemoWriter {
  readonly stats: WriterStats = {
    acknowledged: 0,
    failed: 0,
    lastValue: 0,
    lastRevision: null,
    lastError: null,
    lastNode: null,
  };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private preferred: string | undefined;
  private attempts = 0;

  constructor(private readonly cluster: DemoCluster) {}

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => void this.writeOnce().finally(() => this.schedule()),
      WRITER_INTERVAL_MS,
    );
  }

  private async writeOnce(): Promise<void> {
    const running = this.cluster.running();
    const target =
      running.find((n) => n.name === this.preferred) ??
      running[this.attempts % Math.max(1, running.length)];
    if (target === undefined) {
      this.fail('no agent is running');
      return;
    }
    this.attempts++;
    const value = this.stats.lastValue + 1;
    try {
      const res = await fetch(`http://${target.http}/v1/kv/demo/counter`, {
        method: 'PUT',
        body: String(value),
        signal: AbortSignal.timeout(WRITER_REQUEST_TIMEOUT_MS),
      });
      const body = (await res.json()) as { revision?: number; error?: { code?: string } };
      if (res.ok && typeof body.revision === 'number') {
        this.stats.acknowledged++;
        this.stats.lastValue = value;
        this.stats.lastRevision = body.revision;
        this.stats.lastNode = target.name;
        this.preferred = target.name;
        return;
      }
      this.fail(`${target.name}: ${body.error?.code ?? `HTTP ${res.status}`}`);
    } catch (err) {
      this.preferred = undefined;
      this.fail(
        `${target.name}: ${(err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message}`,
      );
    }
  }

  private fail(why: string): void {
    this.stats.failed++;
    this.stats.lastError = why;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
