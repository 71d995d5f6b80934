/**
 * Lifeguard §IV-A local health awareness (memberlist's awareness.go). A score in
 * 0..multiplierMax-1 rises on signs that *we* are slow (missed nacks, failed probes, having to
 * refute, a delayed event loop) and falls on each successful probe; probe interval and probe
 * timeout are multiplied by score + 1, so a struggling node probes less aggressively and gives
 * others more time before suspecting them.
 */

/** The score after adding `delta`, clamped to 0..multiplierMax-1. */
export function applyAwarenessDelta(score: number, delta: number, multiplierMax: number): number {
  return Math.min(multiplierMax - 1, Math.max(0, score + delta));
}

/** `durationMs * (score + 1)`. */
export function scaleByAwareness(durationMs: number, score: number): number {
  return durationMs * (score + 1);
}

/**
 * Awareness change after a failed probe (Lifeguard §IV-A): when intermediaries were asked to
 * nack, each missing nack counts against us (they are assumed healthy, so silence means our own
 * messages are not getting through); without nack-capable intermediaries any failure counts 1.
 */
export function failedProbeAwarenessDelta(expectedNacks: number, nacksReceived: number): number {
  if (expectedNacks > 0) return Math.max(0, expectedNacks - nacksReceived);
  return 1;
}

/** Awareness change for an event-loop delay sample: +1 at or above the threshold (0 disables). */
export function loopDelayAwarenessDelta(delayMs: number, thresholdMs: number): number {
  return thresholdMs > 0 && delayMs >= thresholdMs ? 1 : 0;
}
