/**
 * Failover on real processes (issue 13's failover row, issue 14's 50 trials): kill -9 the
 * leader of a 3-member cluster, for etcd 3.4 and for Shoal's `raft` mode, at etcd's settings
 * (100 ms heartbeat, 1,000 ms election timeout) and at 50/250 ms, N trials each. Per trial
 * (raft-etcd-baseline.ts's `failoverTrial`, the peers harness's probe): clients connected to
 * both survivors before the kill; after it, the time until a majority of the cluster (the
 * survivors) names one new leader (each member's status polled every 5 ms), and until the first
 * acknowledged put of a client retrying every 10 ms on each survivor (500 ms deadline per put);
 * then the killed member is restarted on its data dir and given 2 s before the next kill. Both
 * systems randomize the election timeout in [1x, 2x) of the setting.
 *
 * Each trial is also broken into phases (lib-failover-timeline.ts: PreVote, election, leader
 * elected, no-op committed, first proposal at the new leader, majority, write acknowledged), and a
 * second table gives their medians. `etcd-prevote` runs etcd with `--pre-vote` (3.4's default is
 * off; Shoal always runs PreVote), as a control for the round PreVote adds.
 *
 * One table: median, p90 and max of both times per system and setting, failed trials, the load
 * average, and each system ÷ the first. Run alone:
 *
 *   npx tsx bench/raft-failover.ts [--trials 50] [--settings 100/1000,50/250]
 *     [--systems etcd,shoal,etcd-prevote] [--verbose]
 */
import { loadavg } from 'node:os';
import { etcdVersion } from './lib-etcd.js';
import type { ClusterSettings } from './lib-load.js';
import { raftSystems, withAgentNote, type RaftSystem } from './lib-raft-systems.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  median,
  parseFlags,
  percentile,
  table,
} from './lib-report.js';
import {
  PHASES,
  timedFailoverTrial,
  type Phase,
  type TimedTrial,
} from './lib-failover-timeline.js';

export const DEFAULT_TRIALS = 50;
export const DEFAULT_SETTINGS: readonly ClusterSettings[] = [
  { members: 3, heartbeatMs: 100, electionMs: 1000 },
  { members: 3, heartbeatMs: 50, electionMs: 250 },
];

export interface FailoverResult {
  readonly system: string;
  readonly setting: string;
  readonly trials: readonly TimedTrial[];
  readonly load1Start: number;
  readonly load1End: number;
}

/** N kills of the leader on one fresh cluster; a trial that throws is recorded as failed. */
export async function measureFailover(
  system: RaftSystem,
  settings: ClusterSettings,
  trials: number,
  onTrial?: (t: TimedTrial, i: number) => void,
): Promise<FailoverResult> {
  const load1Start = loadavg()[0] ?? 0;
  const done: TimedTrial[] = [];
  await system.start(settings);
  try {
    for (let t = 0; t < trials; t++) {
      let trial: TimedTrial;
      try {
        trial = await timedFailoverTrial(system, settings, new Uint8Array(256));
      } catch (err) {
        // A trial that could not even find its leader or restart the member counts as failed.
        process.stderr.write(`${system.name}: trial ${t + 1} failed: ${String(err)}\n`);
        trial = {};
      }
      done.push(trial);
      onTrial?.(trial, t);
    }
  } finally {
    await system.stop();
  }
  return {
    system: system.name,
    setting: `${settings.heartbeatMs}/${settings.electionMs} ms`,
    trials: done,
    load1Start,
    load1End: loadavg()[0] ?? 0,
  };
}

const present = (values: readonly (number | undefined)[]): number[] =>
  values.filter((v): v is number => v !== undefined);

interface Summary {
  readonly median: number | undefined;
  readonly p90: number | undefined;
  readonly max: number | undefined;
}

function summarize(values: readonly number[]): Summary {
  return {
    median: median(values),
    p90: percentile(values, 90),
    max: values.length === 0 ? undefined : Math.max(...values),
  };
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? '—' : `${(a / b).toFixed(2)}×`;

export function renderFailover(results: readonly FailoverResult[]): string {
  const rows: string[][] = [];
  const settings = [...new Set(results.map((r) => r.setting))];
  for (const setting of settings) {
    const here = results.filter((r) => r.setting === setting);
    const sums = here.map((r) => ({
      r,
      leader: summarize(present(r.trials.map((t) => t.leaderMs))),
      write: summarize(present(r.trials.map((t) => t.writeMs))),
    }));
    for (const { r, leader, write } of sums)
      rows.push([
        setting,
        r.system,
        String(r.trials.length),
        fmt(leader.median),
        fmt(leader.p90),
        fmt(leader.max),
        fmt(write.median),
        fmt(write.p90),
        fmt(write.max),
        String(r.trials.filter((t) => t.leaderMs === undefined || t.writeMs === undefined).length),
        `${r.load1Start.toFixed(1)}–${r.load1End.toFixed(1)}`,
      ]);
    const first = sums[0];
    for (const other of sums.slice(1))
      rows.push([
        setting,
        `**${other.r.system} ÷ ${first?.r.system ?? ''}**`,
        '',
        ratio(other.leader.median, first?.leader.median),
        ratio(other.leader.p90, first?.leader.p90),
        ratio(other.leader.max, first?.leader.max),
        ratio(other.write.median, first?.write.median),
        ratio(other.write.p90, first?.write.p90),
        ratio(other.write.max, first?.write.max),
        '',
        '',
      ]);
  }
  return [
    table(
      [
        'heartbeat/election',
        'system',
        'trials',
        'new leader median ms',
        'p90 ms',
        'max ms',
        'first write median ms',
        'p90 ms',
        'max ms',
        'failed',
        'load',
      ],
      rows,
    ),
    '',
    'kill -9 of the leader of a 3-member loopback cluster; "new leader": a majority names one new leader (status polled every 5 ms); ' +
      '"first write": the first put acknowledged to a client retrying every 10 ms on each survivor (500 ms deadline). ' +
      'A failed trial had no new leader or no acknowledged write within 20 s. Load: 1-min load average at the start and end of the setting.',
    machineNote(),
  ].join('\n');
}

const PHASE_NAMES: Record<Phase, string> = {
  preVoteMs: 'PreVote',
  campaignMs: 'election',
  electedMs: 'leader elected',
  noopMs: 'no-op committed',
  proposedMs: 'first proposal at leader',
  leaderMs: 'majority names it',
  writeMs: 'write acknowledged',
};

/**
 * Per system and setting, the median ms from the kill to each phase, and the median of each
 * trial's step from the previous phase it saw (the election timeout's share is the first step).
 */
export function renderPhases(results: readonly FailoverResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    const cells = PHASES.map((phase) => {
      const at = median(present(r.trials.map((t) => t[phase])));
      const steps = present(
        r.trials.map((t) => {
          const here = t[phase];
          if (here === undefined || phase === 'leaderMs' || phase === 'writeMs') return undefined;
          const earlier = PHASES.slice(0, PHASES.indexOf(phase)).filter(
            (p) => p !== 'leaderMs' && t[p] !== undefined,
          );
          const from = earlier.length === 0 ? 0 : (t[earlier[earlier.length - 1] as Phase] ?? 0);
          return here - from;
        }),
      );
      const step = phase === 'leaderMs' || phase === 'writeMs' ? undefined : median(steps);
      return at === undefined ? '—' : step === undefined ? fmt(at) : `${fmt(at)} (+${fmt(step)})`;
    });
    rows.push([r.setting, r.system, ...cells]);
  }
  return [
    table(['heartbeat/election', 'system', ...PHASES.map((p) => PHASE_NAMES[p])], rows),
    '',
    'Median ms from the kill to each phase (lib-failover-timeline.ts); in brackets the median step from the previous phase the trial saw. ' +
      "etcd's election phases come from its log (its clock, to the ms), every other cell from polling each survivor every 5 ms (later by up to a poll and a request). " +
      '— : the system does not show that phase (etcd 3.4 runs without PreVote by default and does not count proposals).',
  ].join('\n');
}

function parseSettings(text: string | undefined): ClusterSettings[] {
  if (text === undefined) return [...DEFAULT_SETTINGS];
  return text.split(',').map((pair) => {
    const [heartbeatMs, electionMs] = pair.split('/').map(Number);
    if (!Number.isSafeInteger(heartbeatMs) || !Number.isSafeInteger(electionMs))
      throw new Error(`--settings ${text}: expected heartbeat/election pairs such as 100/1000`);
    return { members: 3, heartbeatMs: heartbeatMs as number, electionMs: electionMs as number };
  });
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['trials', 'settings', 'systems', 'verbose']);
  if (etcdVersion() === undefined) return 'etcd is not installed (Debian: etcd-server): skipped.';
  const trials = flagNumber(flags, 'trials', DEFAULT_TRIALS);
  const verbose = flags.has('verbose');
  const results: FailoverResult[] = [];
  const systems = raftSystems(flags.get('systems')?.split(',') ?? ['etcd', 'shoal']);
  for (const settings of parseSettings(flags.get('settings')))
    for (const system of systems)
      results.push(
        await measureFailover(system, settings, trials, (t, i) => {
          if (verbose)
            process.stderr.write(
              `${system.name} ${settings.heartbeatMs}/${settings.electionMs} trial ${i + 1}: ${PHASES.map((p) => `${p} ${fmt(t[p])}`).join(', ')}, load ${(loadavg()[0] ?? 0).toFixed(1)}\n`,
            );
        }),
      );
  return withAgentNote(`${renderFailover(results)}\n\n${renderPhases(results)}`, systems);
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
