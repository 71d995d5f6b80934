/**
 * Lifeguard §IV-B dynamic suspicion timeouts, as memberlist computes them (suspicion.go,
 * util.go). A suspicion starts at the max timeout and shrinks toward the min as independent
 * members confirm it, so a truly failed member is declared dead sooner while a lone (possibly
 * unhealthy) accuser has to wait the longest.
 */

/**
 * Minimum suspicion timeout: `suspicionMult * max(1, log10(max(1, n))) * probeIntervalMs`
 * (memberlist's suspicionTimeout; the inner max keeps it at least suspicionMult periods).
 */
export function suspicionTimeoutMinMs(
  suspicionMult: number,
  memberCount: number,
  probeIntervalMs: number,
): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, memberCount)));
  // Rounded to thousandths of the scale first, like memberlist, so results are exact integers in tests.
  return Math.floor((suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000);
}

/** Maximum suspicion timeout: `suspicionMaxTimeoutMult * min`. */
export function suspicionTimeoutMaxMs(suspicionMaxTimeoutMult: number, minMs: number): number {
  return suspicionMaxTimeoutMult * minMs;
}

/**
 * Confirmations expected before the timeout reaches its minimum: `suspicionMult - 2` (so the
 * minimum is hit about two probe periods early), or 0 when the cluster is too small to supply
 * them (`memberCount - 2 < k`: neither we nor the suspect can confirm).
 */
export function expectedConfirmations(suspicionMult: number, memberCount: number): number {
  const k = Math.max(0, suspicionMult - 2);
  return memberCount - 2 < k ? 0 : k;
}

/**
 * The suspicion timeout after `confirmations` independent confirmations, out of `expected`:
 * `max(min, floor(max - (max - min) * log(c + 1) / log(k + 1)))`; `min` when k is 0.
 */
export function suspicionTimeoutMs(
  minMs: number,
  maxMs: number,
  confirmations: number,
  expected: number,
): number {
  if (expected < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1);
  const raw = Math.floor(maxMs - fraction * (maxMs - minMs));
  return Math.max(minMs, raw);
}
