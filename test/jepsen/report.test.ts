/**
 * The runner's flags, run matrix, table and exit status, on made-up runs: a bad flag exits 2
 * naming it, an unavailable system exits 4 before anything starts, an illegal history or an
 * unflagged control is unexpected (1), a run error is 5, an unknown verdict 3.
 */
import { describe, expect, it } from 'vitest';
import { firstViolation, main, parsePlan, planRuns } from './cli.js';
import { netnsUnsupported } from './netns.js';
import { JEPSEN_EXIT, describeResult, exitStatus, summaryTable, type RunRecord } from './report.js';
import type { RunResult } from './run.js';
import { shoalAgentGaps } from './shoal-system.js';
import { emptyStats } from './workload.js';

const FLAGS = {
  system: 'etcd',
  runs: '2',
  durationS: '60',
  nemesis: 'all',
  seed: '7',
  controls: '1',
  controlNemesis: 'majority-minority',
  clients: '5',
  keys: '10',
  opTimeoutMs: '2000',
  checkTimeoutS: '300',
};

function result(overrides: Partial<RunResult>): RunResult {
  return {
    system: 'etcd 3.4.23',
    nemesis: 'kill',
    seed: 1,
    control: false,
    expected: 'ok',
    verdict: 'ok',
    operations: 100,
    operationsChecked: 90,
    stats: emptyStats(),
    faults: [{ kind: 'kill', members: [0], links: [], startMs: 1, endMs: 2 }],
    okAfterHeal: 10,
    checkMs: 5,
    steps: 100,
    historyFile: '/tmp/x.history.json',
    nemesisFile: '/tmp/x.nemesis.json',
    explanation: '',
    resolvedKeys: [],
    ...overrides,
  };
}

function record(r: RunResult): RunRecord {
  return { system: r.system, nemesis: r.nemesis, seed: r.seed, control: r.control, result: r };
}

describe('parsePlan and planRuns', () => {
  it('all six nemesis kinds × runs, then the controls, with seeds from --seed', () => {
    const plan = parsePlan(FLAGS, '2026-01-01T00:00:00.000Z');
    expect(plan.nemeses).toEqual([
      'kill',
      'pause',
      'partition-leader',
      'majority-minority',
      'bridge',
      'mixed',
    ]);
    expect(plan.outDir).toBe('/tmp/shoal-jepsen-2026-01-01T00-00-00-000Z');
    expect(plan.resolve).toBe(true);
    expect(parsePlan({ ...FLAGS, resolve: false }, 'now').resolve).toBe(false);
    const runs = planRuns(plan);
    expect(runs).toHaveLength(13);
    expect(runs.slice(0, 2)).toEqual([
      { system: 'etcd', nemesis: 'kill', seed: 7, control: false },
      { system: 'etcd', nemesis: 'kill', seed: 8, control: false },
    ]);
    expect(runs.at(-1)).toEqual({
      system: 'etcd',
      nemesis: 'majority-minority',
      seed: 7,
      control: true,
    });
  });

  it.each([
    [{ runs: '0' }, /--runs "0" is not allowed/],
    [{ durationS: '1' }, /--duration-s "1" is not allowed: expected an integer from 5/],
    [{ nemesis: 'kill,nope' }, /--nemesis "kill,nope" is not allowed/],
    [{ system: 'zookeeper' }, /--system "zookeeper" is not allowed: .*etcd, shoal/],
    [{ seed: '-1' }, /--seed "-1" is not allowed/],
  ])('refuses %j', (bad, message) => {
    expect(() => parsePlan({ ...FLAGS, ...bad }, 'now')).toThrow(message);
  });
});

describe('main', () => {
  function io(): {
    out: string[];
    err: string[];
    sink: { out(t: string): void; err(t: string): void };
  } {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, sink: { out: (t) => out.push(t), err: (t) => err.push(t) } };
  }

  it('exits 2 on a bad flag, naming it', async () => {
    const { err, sink } = io();
    const code = await main(['--runs', 'many'], sink);
    expect(code).toBe(JEPSEN_EXIT.usage);
    expect(err.join('')).toMatch(/--runs "many" is not allowed/);
  });

  // Once raft mode lands (and as root) `--system shoal` would really run: then there is nothing to refuse.
  const refused = netnsUnsupported() !== undefined || shoalAgentGaps('raft') !== undefined;
  it.skipIf(!refused)(
    'exits 4 with the reason before starting anything when a system cannot run',
    async () => {
      const { out, err, sink } = io();
      const code = await main(['--system', 'shoal', '--out', '/nonexistent/never-created'], sink);
      // Without root the network is the reason; with root but no raft mode, Shoal is.
      expect(code).toBe(JEPSEN_EXIT.unavailable);
      expect(err.join('')).toMatch(/ERR_JEPSEN_UNAVAILABLE/);
      expect(out).toEqual([]);
    },
  );
});

describe('summaryTable and exitStatus', () => {
  it('one row per system, nemesis and control flag, with faults, operations and verdicts', () => {
    const records = [
      record(result({ seed: 1 })),
      record(result({ seed: 2, verdict: 'unknown', operationsChecked: 10 })),
      record(
        result({
          nemesis: 'majority-minority',
          control: true,
          expected: 'illegal',
          verdict: 'illegal',
          faults: [],
        }),
      ),
      { system: 'etcd 3.4.23', nemesis: 'kill', seed: 3, control: false, error: 'boom' } as const,
    ];
    expect(summaryTable(records)).toBe(
      [
        '| system | nemesis | runs | faults injected | operations checked | verdicts | as expected |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        '| etcd 3.4.23 | kill | 3 | 2 kill | 100 | 1 ok, 1 unknown, 1 error | 1/3 |',
        '| etcd 3.4.23 | majority-minority, serializable reads (control) | 1 | — | 90 | 1 illegal | 1/1 |',
      ].join('\n'),
    );
  });

  it.each([
    [[result({})], JEPSEN_EXIT.ok],
    [[result({ verdict: 'illegal' })], JEPSEN_EXIT.unexpected],
    [[result({ control: true, expected: 'illegal', verdict: 'ok' })], JEPSEN_EXIT.unexpected],
    [[result({ control: true, expected: 'illegal', verdict: 'illegal' })], JEPSEN_EXIT.ok],
    [[result({ okAfterHeal: 0 })], JEPSEN_EXIT.unexpected],
    [[result({ verdict: 'unknown' })], JEPSEN_EXIT.unknown],
  ])('%#: exit %i', (results, expected) => {
    expect(exitStatus(results.map(record))).toBe(expected);
  });

  it('a run error outranks unknown, an unexpected verdict outranks both', () => {
    const error: RunRecord = { system: 's', nemesis: 'kill', seed: 1, control: false, error: 'x' };
    expect(exitStatus([record(result({ verdict: 'unknown' })), error])).toBe(JEPSEN_EXIT.runError);
    expect(exitStatus([record(result({ verdict: 'illegal' })), error])).toBe(
      JEPSEN_EXIT.unexpected,
    );
  });
});

describe('describeResult', () => {
  it('says which keys only the re-checks decided', () => {
    expect(describeResult(result({}))).not.toMatch(/first check unknown/);
    expect(describeResult(result({ resolvedKeys: ['k4', 'k5'] }))).toMatch(
      /first check unknown on k4, k5: decided by re-checks/,
    );
  });
});

describe('firstViolation', () => {
  it('keeps the verdict line and why nothing fits', () => {
    const text = [
      'ILLEGAL: 10 operations in 2 parts',
      'k0: NOT linearizable (5 operations searched, 9 steps).',
      '  1. #1 client 0 put(k0, "a") → ok',
      '  Then nothing fits. #4 get(k0) → "z" had to take effect by its return',
      '    #4 get(k0) → "z": refused from "a"',
      'k1: NOT linearizable',
    ].join('\n');
    expect(firstViolation(text)).toBe(
      [
        '    ILLEGAL: 10 operations in 2 parts',
        '    Then nothing fits. #4 get(k0) → "z" had to take effect by its return',
        '    #4 get(k0) → "z": refused from "a"',
      ].join('\n'),
    );
  });
});
