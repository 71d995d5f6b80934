import { describe, expect, it } from 'vitest';
import { logChecker } from '../../src/sim/checkers.js';
import { parseFaults } from '../../src/sim/faults.js';
import {
  LIVENESS_DEADLINE_MS,
  formatFailure,
  replayCommand,
  runScenario,
  type RunOptions,
  type Scenario,
} from '../../src/sim/runner.js';
import type { EchoView } from '../../src/sim/scenarios/echo-checkers.js';
import { SCENARIOS } from '../../src/sim/scenarios/index.js';
import { networkEcho } from '../../src/sim/scenarios/network-echo.js';

const options = (seed: number, faults = 'all', durationMs = 4_000): RunOptions => ({
  seed,
  nodes: 5,
  faults: parseFaults(faults),
  durationMs,
});

describe('runScenario', () => {
  it('the same seed gives the same trace byte for byte', () => {
    const first = runScenario(networkEcho, options(1234));
    const second = runScenario(networkEcho, options(1234));
    expect(first.violation).toBeUndefined();
    expect(first.trace.length).toBeGreaterThan(1000);
    expect(second.trace.join('\n')).toBe(first.trace.join('\n'));
    expect(second.events).toBe(first.events);
  });

  it('different seeds give different traces', () => {
    const a = runScenario(networkEcho, options(1)).trace.join('\n');
    const b = runScenario(networkEcho, options(2)).trace.join('\n');
    expect(a).not.toBe(b);
  });

  it('trace lines have the documented shape', () => {
    const { trace } = runScenario(networkEcho, options(5, 'none', 500));
    expect(trace[0]).toBe('t=000000ms phase safety');
    expect(trace.some((line) => /^t=\d{6}ms n\d <- n\d (packet|stream) \d+B$/.test(line))).toBe(
      true,
    );
    expect(trace.at(-1)).toMatch(/phase done: liveness reached$/);
  });

  const mixes = [
    'none',
    'loss',
    'dup',
    'reorder',
    'partition',
    'pause',
    'crash',
    'skew',
    'loss,partition,crash',
    'all',
  ];
  it.each(mixes)('network-echo passes 20 seeds with faults=%s', (faults) => {
    for (let seed = 100; seed < 120; seed++) {
      const result = runScenario(networkEcho, options(seed, faults, 3_000));
      expect(result.violation, `seed ${seed}`).toBeUndefined();
      expect(result.network.delivered.stream).toBeGreaterThan(0);
    }
  });

  it('a broken invariant stops the run and the report names the seed and the replay command', () => {
    const broken: Scenario<EchoView> = {
      ...networkEcho,
      setup(world) {
        const run = networkEcho.setup(world);
        const wrong = logChecker<EchoView, EchoView['log'][number]>(
          'no-frame-to-n2',
          (v) => v.log,
          (o) =>
            o.channel === 'stream' && o.to === 'n2:7946'
              ? 'n2 got a frame (this checker is deliberately wrong)'
              : undefined,
        );
        return Object.assign(Object.create(run) as typeof run, {
          checkers: [...run.checkers, wrong],
        });
      },
    };
    const result = runScenario(broken, options(77));
    expect(result.violation?.checker).toBe('no-frame-to-n2');
    const lastLine = result.trace.at(-1) ?? '';
    expect(lastLine).toMatch(/n2 <- n\d stream/);
    const report = formatFailure(result, { commit: 'abc1234', nodeVersion: 'v20.0.0' });
    expect(report).toContain('seed=77');
    expect(report).toContain('commit: abc1234');
    expect(report).toContain('node: v20.0.0');
    expect(report).toContain(`replay: ${replayCommand('network-echo', options(77))}`);
    expect(replayCommand('network-echo', options(77))).toBe(
      'npm run sim -- --seed 77 --scenario network-echo --nodes 5 --faults all --duration-ms 4000',
    );
  });

  it('a thrown assertion becomes a violation; a liveness miss names what is missing', () => {
    const throwing: Scenario<EchoView> = {
      ...networkEcho,
      setup: () => {
        throw new Error('boom');
      },
    };
    expect(runScenario(throwing, options(1)).violation).toMatchObject({
      checker: 'assertion',
      message: 'Error: boom',
    });
    const never: Scenario<EchoView> = {
      ...networkEcho,
      setup(world) {
        const run = networkEcho.setup(world);
        return Object.assign(Object.create(run) as typeof run, { livenessReached: () => false });
      },
    };
    const result = runScenario(never, { ...options(1, 'none', 200), livenessDeadlineMs: 500 });
    expect(result.violation?.checker).toBe('liveness');
    expect(result.violation?.message).toMatch(/within 500 ms/);
    // Without the option the run's own bound applies (a LAN-timed swim run needs far more than the default).
    const bounded: Scenario<EchoView> = {
      ...networkEcho,
      setup(world) {
        const run = networkEcho.setup(world);
        return Object.assign(Object.create(run) as typeof run, {
          livenessReached: () => false,
          livenessDeadlineMs: () => 1234,
        });
      },
    };
    expect(runScenario(bounded, options(1, 'none', 200)).violation?.message).toMatch(
      /within 1234 ms/,
    );
    expect(runScenario(never, options(1, 'none', 200)).violation?.message).toMatch(
      new RegExp(`within ${LIVENESS_DEADLINE_MS} ms`),
    );
  });

  it('rejects out-of-range options and stops at eventsMax', () => {
    expect(() => runScenario(networkEcho, { ...options(1), nodes: 1 })).toThrow(
      /nodes \(1\) must be an integer in 2\.\.10000/,
    );
    expect(runScenario(networkEcho, { ...options(1), eventsMax: 50 }).violation?.checker).toBe(
      'runner',
    );
    expect(SCENARIOS.get('network-echo')).toBe(networkEcho);
  });
});
