/**
 * Feeds Node's event-loop delay into Lifeguard's local health (Dadgar et al. §IV-A, extended):
 * a node whose own loop is stalled answers probes late and must not blame others for it. Every
 * `LOOP_DELAY_SAMPLE_MS` the worst delay seen in that window is reported.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export const LOOP_DELAY_SAMPLE_MS = 1000;

/** Starts sampling; returns a function that stops it. */
export function startLoopDelayMonitor(report: (delayMs: number) => void): () => void {
  const histogram = monitorEventLoopDelay({ resolution: 20 });
  histogram.enable();
  const timer = setInterval(() => {
    const worstMs = histogram.max / 1e6;
    histogram.reset();
    report(worstMs);
  }, LOOP_DELAY_SAMPLE_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    histogram.disable();
  };
}
