/**
 * `npm run durability -- [--rounds 20] [--seed N] [--clients 5] [--out DIR]`: kill -9 of every
 * member of a 3-agent Shoal raft cluster under load, `--rounds` times (test/jepsen/durability.ts).
 * Prints one line per round and a summary; writes the history (a JSON history file for `npm run
 * lincheck`) to `--out`. Exit 0 when no acknowledged write was lost and the history is
 * linearizable, 1 otherwise, 2 on a bad flag.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkFlags, flagNumber, parseFlags } from '../bench/lib-report.js';
import { formatHistoryFile } from '../src/sim/linearizability/history-file.js';
import { DURABILITY_DEFAULTS, runDurability } from '../test/jepsen/durability.js';

const flags = parseFlags(process.argv.slice(2));
try {
  checkFlags(flags, ['rounds', 'seed', 'clients', 'out']);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const rounds = flagNumber(flags, 'rounds', 20);
const startMs = performance.now();
const result = await runDurability({
  ...DURABILITY_DEFAULTS,
  rounds,
  seed: flagNumber(flags, 'seed', DURABILITY_DEFAULTS.seed),
  clients: flagNumber(flags, 'clients', DURABILITY_DEFAULTS.clients),
  log: (line) => process.stdout.write(`${line}\n`),
});
const out = flags.get('out') ?? 'durability-out';
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'history.json'),
  formatHistoryFile({
    model: 'kv',
    source: 'shoal raft, kill -9 of every member',
    operations: [...result.operations],
  }),
);
const recovery = result.rounds.map((r) => r.recoveryMs).sort((a, b) => a - b);
process.stdout.write(
  [
    `rounds: ${result.rounds.length}, acknowledged writes: ${result.acknowledged}, lost: ${result.lost}`,
    `operations recorded: ${result.operations.length} (ok ${result.workload.ok}, indeterminate ${result.workload.indeterminate}, failed ${result.workload.failed})`,
    `serving again after a kill of every member: median ${Math.round(recovery[Math.floor(recovery.length / 2)] ?? 0)} ms, max ${Math.round(recovery.at(-1) ?? 0)} ms`,
    `linearizability: ${result.check.result.verdict} (${result.check.result.steps} steps)`,
    `wall time: ${Math.round((performance.now() - startMs) / 1000)} s; history in ${join(out, 'history.json')}`,
    '',
  ].join('\n'),
);
if (result.check.result.verdict !== 'ok') process.stdout.write(`${result.check.text}\n`);
process.exit(result.lost === 0 && result.check.result.verdict === 'ok' ? 0 : 1);
