/**
 * Feeds Node's event-loop delay into Lifeguard's local health (Dadgar et al. §IV-A, extended):
 * a node whose own loop is stalled answers probes late and must not blame others for it. Every
 * `LOOP_DELAY_SAMPLE_MS` the worst delay seen in that window is reported to every subscriber.
 *
 * One monitor per process, shared by all nodes in it: the loop is the process's, so N nodes in
 * one process (tests, benchmarks, embedded use) need one histogram and one interval, not N.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export const LOOP_DELAY_SAMPLE_MS = 1000;

type Report = (delayMs: number) => void;

const subscribers = new Set<Report>();
let shared: { histogram: IntervalHistogram; timer: NodeJS.Timeout } | undefined;

function sample(histogram: IntervalHistogram): void {
  const worstMs = histogram.max / 1e6;
  histogram.reset();
  for (const report of subscribers) report(worstMs);
}

/** Subscribes `report` to the process's loop-delay samples; returns a function that unsubscribes. */
export function startLoopDelayMonitor(report: Report): () => void {
  subscribers.add(report);
  if (shared === undefined) {
    const histogram = monitorEventLoopDelay({ resolution: 20 });
    histogram.enable();
    const timer = setInterval(() => sample(histogram), LOOP_DELAY_SAMPLE_MS);
    timer.unref();
    shared = { histogram, timer };
  }
  return () => {
    subscribers.delete(report);
    if (subscribers.size > 0 || shared === undefined) return;
    clearInterval(shared.timer);
    shared.histogram.disable();
    shared = undefined;
  };
}

/** How many nodes currently listen (for tests). */
export function loopDelaySubscriberCount(): number {
  return subscribers.size;
}
