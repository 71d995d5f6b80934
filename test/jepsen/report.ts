/**
 * The Jepsen report: one line per run as it ends, and a table per system × nemesis kind (runs,
 * faults injected, operations checked, verdicts, whether they were the expected ones), plus the
 * exit status the runner returns. Pure, so the table and the status are tested on made-up runs.
 */
import { table } from '../../bench/lib-report.js';
import type { NemesisKind } from './nemesis.js';
import type { RunResult } from './run.js';

/** One run as the runner saw it: a result, or the error that stopped it. */
export interface RunRecord {
  readonly system: string;
  readonly nemesis: NemesisKind;
  readonly seed: number;
  readonly control: boolean;
  readonly result?: RunResult;
  readonly error?: string;
}

/** Exit statuses of `npm run jepsen` (docs/jepsen.md). */
export const JEPSEN_EXIT = {
  ok: 0,
  /** A run's verdict was not the expected one (illegal, or a control not flagged), or a run never served again after the last heal. */
  unexpected: 1,
  usage: 2,
  /** A check ran out of budget (and nothing worse happened). */
  unknown: 3,
  /** The system or the network cannot run here; nothing was started. */
  unavailable: 4,
  /** A run stopped with an error (a fault that did not take effect, a cluster that did not start). */
  runError: 5,
} as const;

/** True when the run's outcome is the one it should have. */
export function asExpected(result: RunResult): boolean {
  if (result.verdict !== result.expected) return false;
  return result.control || result.okAfterHeal > 0;
}

export function describeResult(result: RunResult): string {
  const s = result.stats;
  const flag = asExpected(result) ? '' : ' ← UNEXPECTED';
  const faults = result.faults.length;
  return (
    `  ${result.verdict}${result.control ? ' (control: illegal expected)' : ''}${flag}: ` +
    `${result.operationsChecked} operations checked (${s.ok} answered, ${s.indeterminate} open, ` +
    `${s.failed} refused unsent), ${faults} fault${faults === 1 ? '' : 's'}, ` +
    `${result.okAfterHeal} answered after the last heal, checked in ${result.checkMs.toFixed(0)} ms` +
    (result.resolvedKeys.length === 0
      ? '; '
      : ` (first check unknown on ${result.resolvedKeys.join(', ')}: decided by re-checks); `) +
    result.historyFile
  );
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function formatCounts(counts: Map<string, number>): string {
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || '—';
}

/** The summary table: one row per system, nemesis kind and control flag, in first-seen order. */
export function summaryTable(records: readonly RunRecord[]): string {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const key = `${r.system}\u0000${r.nemesis}\u0000${r.control}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows = [...groups.values()].map((group) => {
    const first = group[0] as RunRecord;
    const results = group.flatMap((r) => (r.result === undefined ? [] : [r.result]));
    const errors = group.filter((r) => r.error !== undefined).length;
    const verdicts = countBy(results, (r) => r.verdict);
    if (errors > 0) verdicts.set('error', errors);
    const expected = results.filter(asExpected).length;
    return [
      first.system,
      first.control ? `${first.nemesis}, serializable reads (control)` : first.nemesis,
      String(group.length),
      formatCounts(
        countBy(
          results.flatMap((r) => r.faults),
          (f) => f.kind,
        ),
      ),
      String(results.reduce((n, r) => n + r.operationsChecked, 0)),
      formatCounts(verdicts),
      `${expected}/${group.length}`,
    ];
  });
  return table(
    [
      'system',
      'nemesis',
      'runs',
      'faults injected',
      'operations checked',
      'verdicts',
      'as expected',
    ],
    rows,
  );
}

/** The runner's exit status for a set of runs (JEPSEN_EXIT). */
export function exitStatus(records: readonly RunRecord[]): number {
  const results = records.flatMap((r) => (r.result === undefined ? [] : [r.result]));
  if (results.some((r) => r.verdict !== 'unknown' && !asExpected(r))) return JEPSEN_EXIT.unexpected;
  if (records.some((r) => r.error !== undefined)) return JEPSEN_EXIT.runError;
  if (results.some((r) => r.verdict === 'unknown')) return JEPSEN_EXIT.unknown;
  return JEPSEN_EXIT.ok;
}
