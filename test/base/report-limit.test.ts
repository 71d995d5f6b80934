/**
 * Rate-limited reports (base/report-limit.ts), shared by the membership core's security events,
 * the node's not-admitted reports and the agent's join-failure log: one report per key per
 * interval, at the interval's limit - 1, limit and limit + 1, with the count suppressed between.
 */
import { describe, expect, it } from 'vitest';
import { reportDue, type ReportLog } from '../../src/base/report-limit.js';

describe('reportDue', () => {
  it('reports a key at once, then not before the interval, then with the count suppressed', () => {
    const logs = new Map<string, ReportLog>();
    expect(reportDue(logs, 'a', 1000, 100)).toBe(0);
    expect(reportDue(logs, 'a', 1000, 100)).toBeUndefined();
    expect(reportDue(logs, 'a', 1099, 100)).toBeUndefined();
    // Another key has an interval of its own.
    expect(reportDue(logs, 'b', 1099, 100)).toBe(0);
    expect(reportDue(logs, 'a', 1100, 100)).toBe(2);
    expect(reportDue(logs, 'a', 1199, 100)).toBeUndefined();
    expect(reportDue(logs, 'a', 1201, 100)).toBe(1);
    expect(reportDue(logs, 'a', 1301, 100)).toBe(0);
  });

  it('an interval of 0 reports everything', () => {
    const logs = new Map<string, ReportLog>();
    for (let i = 0; i < 5; i++) expect(reportDue(logs, 'a', 7, 0)).toBe(0);
  });
});
