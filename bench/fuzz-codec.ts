/**
 * The long codec fuzz: `npx tsx bench/fuzz-codec.ts [--cases N] [--seed N] [--records]` (also
 * `npm run fuzz`). Runs the same oracle as test/codec/fuzz.test.ts (never throws, typed
 * rejections, accepted bytes are canonical) over N seeded random mutations of a seeded corpus;
 * with `--records`, the signed-record fuzzer's corpus and oracle (test/codec/record-fuzz.ts: no
 * mutation passes for signed). Prints cases/s and any failure with its input, and exits non-zero
 * on a failure. Same seed, same inputs.
 */
import { Rng } from '../src/base/rng.js';
import { fuzzCorpus, fuzzRandom, newStats } from '../test/codec/fuzz.js';
import { fuzzSignedRecords, recordCorpus } from '../test/codec/record-fuzz.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(
      `${name} must be a non-negative integer, got ${JSON.stringify(process.argv[at + 1])}\n`,
    );
    process.exit(2);
  }
  return value;
}

const cases = option('--cases', 2_000_000);
const seed = option('--seed', 1);
const records = process.argv.includes('--records');
const stats = newStats();
const start = performance.now();
if (records) fuzzSignedRecords(recordCorpus(new Rng(seed), 300), new Rng(seed + 1), cases, stats);
else fuzzRandom(fuzzCorpus(seed, 500), new Rng(seed), cases, stats);
const seconds = (performance.now() - start) / 1000;
process.stdout.write(
  `seed ${seed}: ${stats.cases} cases in ${seconds.toFixed(1)} s (${Math.round(stats.cases / seconds).toLocaleString('en-US')} cases/s)\n`,
);
process.stdout.write(`accepted ${stats.accepted}; rejected ${JSON.stringify(stats.rejected)}\n`);
process.stdout.write(`failures: ${stats.failures.length}\n`);
for (const failure of stats.failures) process.stdout.write(`  ${failure}\n`);
if (stats.failures.length > 0) {
  process.stdout.write(
    `replay: npx tsx bench/fuzz-codec.ts --cases ${cases} --seed ${seed}${records ? ' --records' : ''}\n`,
  );
  process.exit(1);
}
