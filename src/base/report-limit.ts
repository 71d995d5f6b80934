/**
 * Rate-limited reports (security events, log lines): the first report of a key goes out at
 * once, the next only `intervalMs` after it, carrying how many were suppressed in between, so a
 * flood of one kind of refusal costs one report per key per interval (docs/security.md,
 * "Counters and log lines"). Pure: time arrives as `nowMs`; the caller bounds the number of keys.
 */

/** When a key was last reported, and how many reports of it were suppressed since. */
export interface ReportLog {
  lastAtMs: number;
  suppressed: number;
}

/**
 * Whether a report of `key` is due at `nowMs`. When it is, returns how many were suppressed
 * since the last report and restarts the key's interval; when it is not, counts this one as
 * suppressed and returns undefined. An interval of 0 reports everything.
 */
export function reportDue<K>(
  logs: Map<K, ReportLog>,
  key: K,
  nowMs: number,
  intervalMs: number,
): number | undefined {
  const log = logs.get(key);
  if (log !== undefined && nowMs - log.lastAtMs < intervalMs) {
    log.suppressed++;
    return undefined;
  }
  logs.set(key, { lastAtMs: nowMs, suppressed: 0 });
  return log?.suppressed ?? 0;
}
