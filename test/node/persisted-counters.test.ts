/**
 * Every persisted counter (the incarnation, the static and swim fencing terms, raft-lite's term
 * and vote) is read by the one reader (base/persisted.ts): a file holding anything else is
 * refused with ERR_STORAGE_CORRUPT naming the file, is left byte for byte as it was, and the
 * CLI reports it in one line. None is ever read as 0 (a silent reset of a fencing term).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { INCARNATION_FILE } from '../../src/membership/protocol.js';
import { INCARNATION_MAX } from '../../src/membership/record.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { RAFT_LITE_FILE } from '../../src/election/raft-lite/protocol.js';
import { STATIC_TERM_FILE } from '../../src/election/static/protocol.js';
import { SWIM_TERM_FILE } from '../../src/election/swim/protocol.js';
import { main } from '../../src/cli/main.js';
import { createNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';

const root = mkdtempSync(join(tmpdir(), 'shoal-corrupt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const NOT_A_COUNT = [
  '',
  'garbage',
  '-1',
  '1.5',
  '07',
  '12abc',
  ' 3',
  '9007199254740993',
  '1e3',
  '4\n5',
];

interface Case {
  file: string;
  mode: NodeOptions['mode'];
  bad: readonly string[];
}

const CASES: Case[] = [
  { file: INCARNATION_FILE, mode: { kind: 'swim', seeds: [] }, bad: NOT_A_COUNT },
  {
    file: SWIM_TERM_FILE,
    mode: { kind: 'swim', seeds: [] },
    bad: [
      ...NOT_A_COUNT,
      '{',
      '{}',
      '{"term":3}',
      '{"term":3,"stableSize":-2}',
      '{"term":"3","stableSize":5}',
      '[1,2]',
    ],
  },
  {
    file: STATIC_TERM_FILE,
    mode: { kind: 'static', peers: ['127.0.0.1:1', '127.0.0.1:2'] },
    bad: NOT_A_COUNT,
  },
  {
    file: RAFT_LITE_FILE,
    mode: { kind: 'raft-lite', peers: [] },
    bad: [
      '',
      'not json',
      '[]',
      '{}',
      '{"term":"7","votedFor":null}',
      '{"term":-1,"votedFor":null}',
      '{"term":2.5,"votedFor":null}',
      '{"term":3,"votedFor":"nope"}',
      '{"term":3}',
      '{"term":9007199254740993,"votedFor":null}',
    ],
  },
];

let seq = 0;
function dataDirWith(file: string, text: string): string {
  const dir = join(root, `n${seq++}`);
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), text);
  return dir;
}

describe('a corrupt persisted counter', () => {
  for (const { file, mode, bad } of CASES) {
    it.each(bad.map((text) => [JSON.stringify(text), text]))(
      `${file} holding %s: refused, named, untouched`,
      async (_shown, text) => {
        const dataDir = dataDirWith(file, text);
        const failure = await createNode({ name: 'c', dataDir, bind: '127.0.0.1:0', mode }).then(
          async (node) => {
            await node.close();
            return undefined;
          },
          (err: unknown) => err as Error & { code?: string },
        );
        expect(failure?.code).toBe('ERR_STORAGE_CORRUPT');
        expect(failure?.message).toContain(file);
        expect(failure?.message).not.toContain('\n');
        expect(readFileSync(join(dataDir, file), 'utf8')).toBe(text);
      },
    );
  }

  it('a well-formed file is read back (the counter survives a restart)', async () => {
    const dataDir = dataDirWith(STATIC_TERM_FILE, '41');
    const node = await createNode({
      name: 'c',
      dataDir,
      bind: '127.0.0.1:0',
      mode: { kind: 'static', peers: ['127.0.0.1:1'] },
    });
    // leader() answers once the new term is durable (published), not before.
    await vi.waitFor(() => expect(node.leader()?.term).toBeGreaterThan(41));
    await node.close();
  });

  it('the agent reports it in one line and exits 1', async () => {
    const dataDir = dataDirWith(INCARNATION_FILE, 'x7');
    const written: string[] = [];
    const spy = vi
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
    try {
      const code = await main([
        'node',
        'shoal',
        'agent',
        '--name',
        'c',
        '--bind',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
        '--data-dir',
        dataDir,
      ]);
      expect(code).toBe(1);
    } finally {
      spy.mockRestore();
    }
    const text = written.join('');
    expect(text).toMatch(
      new RegExp(
        `^shoal: ${INCARNATION_FILE} holds "x7", not a safe non-negative integer \\(the incarnation this node persisted\\).*\\n$`,
      ),
    );
    expect(text.split('\n')).toHaveLength(2);
    expect(readFileSync(join(dataDir, INCARNATION_FILE), 'utf8')).toBe('x7');
  });
});

describe('an exhausted incarnation (issue 12)', () => {
  it.each([
    [INCARNATION_MAX - 1, 'starts at INCARNATION_MAX'],
    [INCARNATION_MAX, 'ERR_INCARNATION_EXHAUSTED'],
    [2 ** 53 - 2, 'ERR_INCARNATION_EXHAUSTED'],
  ])(
    '%i persisted: %s, in one line, the port released, the file untouched',
    async (persisted, outcome) => {
      const dataDir = dataDirWith(INCARNATION_FILE, `${persisted}\n`);
      const [bind] = await freeClusterAddresses(1);
      const options = {
        name: 'c',
        dataDir,
        bind: bind as string,
        mode: { kind: 'swim' as const, seeds: [] },
      };
      const failure = await createNode(options).then(
        async (node) => {
          expect(node.members()[0]?.incarnation).toBe(INCARNATION_MAX);
          await node.close();
          return undefined;
        },
        (err: unknown) => err as Error & { code?: string },
      );
      if (outcome === 'ERR_INCARNATION_EXHAUSTED') {
        expect(failure?.code).toBe(outcome);
        expect(failure?.message).toMatch(/new identity/);
        expect(failure?.message).not.toContain('\n');
      } else expect(failure).toBeUndefined();
      // Nothing holds the port: a node binds it again.
      const again = await createNode({ ...options, dataDir: dataDirWith(INCARNATION_FILE, '0') });
      await again.close();
      if (outcome !== 'ERR_INCARNATION_EXHAUSTED') return;
      expect(readFileSync(join(dataDir, INCARNATION_FILE), 'utf8')).toBe(`${persisted}\n`);
    },
  );
});
