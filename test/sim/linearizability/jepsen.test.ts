/**
 * Validation against known answers: Jepsen's etcd register histories, with the verdicts
 * Porcupine's test suite gives them (jepsen/README.md). Each log is converted to a kv history on
 * one key (timed-out writes and CAS as unanswered operations), saved to and read back from the
 * JSON history file, and checked.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkKvHistory,
  formatHistoryFile,
  parseHistoryFile,
} from '../../../src/sim/linearizability/index.js';
import { parseJepsenLog } from './jepsen-log.js';

const LINEARIZABLE = ['005', '018', '025', '053', '100', '102'];
const NOT_LINEARIZABLE = ['000', '001', '003', '006', '019', '040'];

function load(n: string): ReturnType<typeof parseJepsenLog> {
  const text = readFileSync(new URL(`jepsen/etcd_${n}.log`, import.meta.url), 'utf8');
  const ops = parseJepsenLog(text);
  // Through the file format and back: what a saved history holds is what is checked.
  const file = formatHistoryFile({ model: 'kv', source: `jepsen etcd_${n}`, operations: ops });
  return [...parseHistoryFile(file).operations];
}

describe('Jepsen etcd histories (Porcupine test data)', () => {
  it.each(LINEARIZABLE)('etcd_%s is linearizable', (n) => {
    const ops = load(n);
    expect(ops.length).toBeGreaterThan(50);
    expect(ops.some((op) => op.returnMs === undefined)).toBe(true);
    expect(checkKvHistory(ops).result.verdict).toBe('ok');
  });

  it.each(NOT_LINEARIZABLE)('etcd_%s is not linearizable', (n) => {
    const { result, text } = checkKvHistory(load(n));
    expect(result.verdict).toBe('illegal');
    expect(text).toContain('register: NOT linearizable');
  });
});
