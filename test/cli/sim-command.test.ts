import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSimCli } from '../../src/cli/sim-command.js';

function run(...args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runSimCli(['node', 'sim', ...args], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    commit: () => 'abc1234',
  });
  return { code, out, err };
}

describe('npm run sim', () => {
  it('prints a one-line summary and writes the trace file on success', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-sim-'));
    try {
      const file = join(dir, 'trace.txt');
      const result = run(
        '--seed',
        '9',
        '--scenario',
        'network-echo',
        '--nodes',
        '3',
        '--faults',
        'loss,crash',
        '--duration-ms',
        '1000',
        '--trace',
        file,
      );
      expect(result.code).toBe(0);
      expect(result.out).toMatch(
        /^ok network-echo seed=9 nodes=3 faults=loss,crash: \d+ events, \d+ ms virtual, delivered packet=\d+ stream=\d+/,
      );
      expect(result.out.trim().split('\n')).toHaveLength(1);
      expect(readFileSync(file, 'utf8')).toMatch(/^t=000000ms phase safety\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the swim scenario when no scenario is named', () => {
    const result = run('--seed', '5', '--nodes', '3', '--faults', 'none', '--duration-ms', '2000');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^ok swim seed=5 nodes=3 faults=none: /);
  });

  it.each([
    [['--seed', 'x'], /--seed "x" is not allowed: expected an integer in 0\.\./],
    [
      ['--seed', '1', '--nodes', '1'],
      /--nodes "1" is not allowed: expected an integer in 2\.\.10000/,
    ],
    [
      ['--seed', '1', '--faults', 'loss,fire'],
      /--faults "loss,fire" is not allowed: expected none, all, or a comma list of loss, dup/,
    ],
    [
      ['--seed', '1', '--scenario', 'nope'],
      /--scenario "nope" is not allowed: expected one of .*network-echo/,
    ],
    [['--nodes', '3'], /--seed is required/],
    [['--seed', '1', '--bogus'], /unknown option '--bogus'/],
  ])('bad flags %j exit 2 naming the flag, value and what is allowed', (args, message) => {
    const result = run(...args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });

  it('a failing run exits 1 with the seed, commit, Node version and replay command', () => {
    const result = run(
      '--seed',
      '3',
      '--scenario',
      'network-echo',
      '--nodes',
      '4',
      '--faults',
      'none',
      '--duration-ms',
      '1000',
      '--events-max',
      '40',
    );
    expect(result.code).toBe(1);
    expect(result.err).toContain('FAIL network-echo seed=3: [runner]');
    expect(result.err).toContain('commit: abc1234');
    expect(result.err).toContain(`node: ${process.version}`);
    expect(result.err).toContain(
      'replay: npm run sim -- --seed 3 --scenario network-echo --nodes 4 --faults none --duration-ms 1000 --events-max 40',
    );
  });
});
