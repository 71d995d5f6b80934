/**
 * Latency histograms for the load benches: hdr-histogram-js (a TypeScript port of Gil Tene's
 * HdrHistogram, the structure wrk2 and YCSB report from), recording microseconds with 3
 * significant digits from 1 µs to 60 s, so a percentile is exact to 0.1 % and memory stays a few
 * tens of KB however many operations run. Values above the range are clamped and counted.
 */
import * as hdr from 'hdr-histogram-js';

/** The largest latency recorded exactly: 60 s in µs. */
export const HISTOGRAM_HIGHEST_US = 60_000_000;

export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HISTOGRAM_HIGHEST_US,
    numberOfSignificantValueDigits: 3,
  });
  /** Values above HISTOGRAM_HIGHEST_US, recorded as the highest. */
  clamped = 0;

  /** Records one latency in ms (fractions kept to the µs). */
  recordMs(ms: number): void {
    let us = Math.max(1, Math.round(ms * 1000));
    if (us > HISTOGRAM_HIGHEST_US) {
      this.clamped++;
      us = HISTOGRAM_HIGHEST_US;
    }
    this.histogram.recordValue(us);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The latency at `percentile` (0-100) in ms; undefined when empty. */
  percentileMs(percentile: number): number | undefined {
    if (this.histogram.totalCount === 0) return undefined;
    return this.histogram.getValueAtPercentile(percentile) / 1000;
  }

  p50Ms(): number | undefined {
    return this.percentileMs(50);
  }

  p99Ms(): number | undefined {
    return this.percentileMs(99);
  }

  maxMs(): number | undefined {
    return this.histogram.totalCount === 0 ? undefined : this.histogram.maxValue / 1000;
  }
}
