/**
 * Interaction scripts (golden traces) through the real core: every file in testdata/ is a
 * script (script.ts) whose commands must produce exactly the recorded output. They cover the
 * classic figures: thesis Fig. 3.7 (a)-(f) and Fig. 3.8, a partitioned leader, a removed leader, leadership
 * transfer, a learner promoted, PreVote preventing disruption, check-quorum step-down, and more.
 * `UPDATE_GOLDEN=1 npx vitest run test/raft/scripts.test.ts` rewrites the files (review the diff).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatScript, parseScript, runScript } from './script.js';

const dir = join(import.meta.dirname, 'testdata');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('interaction scripts', () => {
  it('exist', () => expect(files.length).toBeGreaterThan(0));
  it.each(files)('%s', (file) => {
    const path = join(dir, file);
    const { blocks, comments } = parseScript(readFileSync(path, 'utf8'));
    const actual = runScript(blocks);
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(path, formatScript(blocks, comments, actual));
      return;
    }
    blocks.forEach((block, i) =>
      expect(actual[i], `${file}: ${block.command}`).toBe(block.expected),
    );
  });
});
