/**
 * The JSON history file and `npm run lincheck`: a history survives the round trip, a malformed
 * file is refused with ERR_HISTORY_INVALID naming the operation and field (and nothing is
 * checked), the limits hold at limit-1, limit and limit+1, and the CLI's exit codes say ok (0),
 * illegal (1), bad input (2) and unknown (3).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../../src/base/errors.js';
import { runLincheckCli } from '../../../src/cli/lincheck-command.js';
import {
  HISTORY_OPERATIONS_MAX,
  HISTORY_STRING_CHARS_MAX,
  formatHistoryFile,
  parseHistoryFile,
  recordsRevisions,
} from '../../../src/sim/linearizability/history-file.js';
import { casRev, del, get, put, type KvOp } from './ops.js';

const HEAD = '"format":"shoal-history","version":1,"model":"kv"';

function refused(text: string): string {
  try {
    parseHistoryFile(text);
  } catch (err) {
    expect(hasErrorCode(err, 'ERR_HISTORY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('the file was accepted');
}

const fileWith = (operations: string): string => `{${HEAD},"operations":[${operations}]}`;

describe('the history file', () => {
  const ops: KvOp[] = [
    put(1, 'x', 'a', 0.5, 1.25, 3),
    get(2, 'x', 'a', 2, 3, 3),
    del(1, 'x', 4, undefined),
    casRev(3, 'y', 0, 'b', 5, 6, true, 4),
    get(2, 'y', null, 1, 2),
  ];

  it('round-trips a history, one operation per line', () => {
    const text = formatHistoryFile({ model: 'kv', source: 'hand-made', operations: ops });
    expect(text.split('\n').filter((l) => l.startsWith('    {'))).toHaveLength(ops.length);
    expect(parseHistoryFile(text)).toEqual({ model: 'kv', source: 'hand-made', operations: ops });
    expect(recordsRevisions(ops)).toBe(true);
    expect(recordsRevisions([put(1, 'x', 'a', 0, 1), get(1, 'x', 'a', 2, 3)])).toBe(false);
  });

  it('refuses text that is not JSON, another format, or another version', () => {
    expect(refused('{"format":')).toMatch(/^not JSON/);
    expect(refused('{"format":"jepsen","version":1,"model":"kv","operations":[]}')).toMatch(
      /^history\.format/,
    );
    expect(refused('{"format":"shoal-history","version":2,"model":"kv","operations":[]}')).toMatch(
      /^history\.version/,
    );
  });

  it('names the operation and the field of a bad input or output', () => {
    expect(refused(fileWith('{"clientId":1,"input":{"kind":"put","key":"x"},"callMs":0}'))).toMatch(
      /^operations\[0\]\.input\.value/,
    );
    expect(
      refused(
        fileWith(
          '{"clientId":1,"input":{"kind":"get","key":"x"},"callMs":0,"returnMs":1,"output":{"value":"a"}},' +
            '{"clientId":1,"input":{"kind":"get","key":"x"},"callMs":0,"returnMs":1,"output":{"valeu":"a"}}',
        ),
      ),
    ).toMatch(/^operations\[1\]\.output/);
    expect(
      refused(
        fileWith(
          '{"clientId":1,"input":{"kind":"cas","key":"x","compare":{"target":"version","value":1},"value":"b"},"callMs":0}',
        ),
      ),
    ).toMatch(/^operations\[0\]\.input\.compare/);
    expect(
      refused(fileWith('{"clientId":1,"input":{"kind":"get","key":"x"},"callMs":0,"extra":1}')),
    ).toMatch(/^operations\[0\]/);
  });

  it('refuses times the checker cannot order', () => {
    expect(
      refused(
        fileWith(
          '{"clientId":1,"input":{"kind":"put","key":"x","value":"a"},"callMs":5,"returnMs":4,"output":{}}',
        ),
      ),
    ).toMatch(/operation 0: returnMs \(4\) is before callMs \(5\)/);
    expect(
      refused(
        fileWith(
          '{"clientId":1,"input":{"kind":"put","key":"x","value":"a"},"callMs":5,"output":{}}',
        ),
      ),
    ).toMatch(/has an output but no returnMs/);
  });

  it(`holds HISTORY_OPERATIONS_MAX (${HISTORY_OPERATIONS_MAX}) at limit-1, limit and limit+1`, () => {
    const nulls = (n: number): string => Array.from({ length: n }, () => 'null').join(',');
    // Up to the limit the count passes and the first operation (null) is what is refused.
    expect(refused(fileWith(nulls(HISTORY_OPERATIONS_MAX - 1)))).toMatch(/^operations\[0\]/);
    expect(refused(fileWith(nulls(HISTORY_OPERATIONS_MAX)))).toMatch(/^operations\[0\]/);
    expect(refused(fileWith(nulls(HISTORY_OPERATIONS_MAX + 1)))).toMatch(/^history\.operations/);
  });

  it(`holds HISTORY_STRING_CHARS_MAX (${HISTORY_STRING_CHARS_MAX}) at limit-1, limit and limit+1`, () => {
    const withKey = (chars: number): string =>
      fileWith(`{"clientId":1,"input":{"kind":"get","key":"${'k'.repeat(chars)}"},"callMs":0}`);
    expect(parseHistoryFile(withKey(HISTORY_STRING_CHARS_MAX - 1)).operations).toHaveLength(1);
    expect(parseHistoryFile(withKey(HISTORY_STRING_CHARS_MAX)).operations).toHaveLength(1);
    expect(refused(withKey(HISTORY_STRING_CHARS_MAX + 1))).toMatch(/^operations\[0\]\.input\.key/);
  });
});

describe('npm run lincheck', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-lincheck-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[]): { code: number; out: string; err: string } {
    let out = '';
    let err = '';
    const code = runLincheckCli(['node', 'lincheck', ...args], {
      out: (t) => (out += t),
      err: (t) => (err += t),
      nowMs: () => 0,
    });
    return { code, out, err };
  }

  function save(name: string, operations: KvOp[]): string {
    const path = join(dir, name);
    writeFileSync(path, formatHistoryFile({ model: 'kv', source: name, operations }));
    return path;
  }

  it('exits 0 on a linearizable history and prints the verdict', () => {
    const result = run([save('ok.json', [put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3)])]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('source: ok.json\nOK: 2 operations in 1 parts');
  });

  it('exits 1 on a stale read and explains it', () => {
    const file = save('stale.json', [
      put(1, 'x', 'a', 0, 1),
      put(1, 'x', 'b', 2, 3),
      get(2, 'x', 'a', 4, 5),
    ]);
    const result = run([file]);
    expect(result.code).toBe(1);
    expect(result.out).toContain('x: NOT linearizable');
    const json = run([file, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ verdict: 'illegal', source: 'stale.json' });
  });

  it('exits 3 when the budget runs out first', () => {
    const writers = Array.from({ length: 30 }, (_, i) => put(i, 'x', `v${i}`, 0, 100));
    const file = save('hard.json', [...writers, get(99, 'x', 'none', 101, 102)]);
    const result = run([file, '--steps-max', '1000']);
    expect(result.code).toBe(3);
    expect(result.out).toContain('UNKNOWN');
    expect(result.out).toContain('stepsMax (1000) reached');
  });

  it('exits 2 on a malformed file, a missing file or a bad flag', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, fileWith('{"clientId":-1,"input":{"kind":"get","key":"x"},"callMs":0}'));
    const malformed = run([bad]);
    expect(malformed.code).toBe(2);
    expect(malformed.err).toMatch(/ERR_HISTORY_INVALID: operations\[0\]\.clientId/);
    expect(run([join(dir, 'missing.json')]).code).toBe(2);
    const flag = run([bad, '--steps-max', 'many']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('--steps-max "many" is not allowed');
  });
});
