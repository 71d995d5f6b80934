/**
 * `npm run bench`: runs every benchmark in bench/ in sequence and prints their markdown tables.
 * Each bench module exports `run(): Promise<string>` (its report) and also runs alone with tsx.
 * Pass names to run a subset: `npm run bench -- codec transport`; `npm run bench -- --list` prints
 * the names only. The Raft side-by-side benches (etcd-vs-shoal, raft-failover, raft-catchup,
 * raft-slow-disk) run at full size by default (tens of minutes): run them alone with their flags
 * to shorten them. So do the data plane's issue-16 benches: dataplane-convergence (N = 10, 50,
 * 100 real nodes, about 10 minutes), dataplane-sim (1,000 simulated members), placement-compare
 * (1,000,000 keys) and crdt-merkle-sync (two trees of 1,000,000 keys per depth, minutes):
 * `npm run bench -- dataplane placement crdt` runs them.
 */
import { readdirSync } from 'node:fs';

const SKIP = new Set(['run.ts', 'fuzz-codec.ts']);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const list = args.includes('--list');
  const wanted = args.filter((a) => a !== '--list');
  const files = readdirSync(new URL('.', import.meta.url))
    .filter((f) => f.endsWith('.ts') && !SKIP.has(f) && !f.startsWith('lib-'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
    .sort();
  if (list) {
    process.stdout.write(`${files.map((f) => f.replace(/\.ts$/, '')).join('\n')}\n`);
    return;
  }
  for (const file of files) {
    const mod = (await import(new URL(file, import.meta.url).href)) as {
      run?: () => Promise<string>;
    };
    if (typeof mod.run !== 'function') continue;
    process.stdout.write(`\n## ${file}\n\n`);
    process.stdout.write(`${await mod.run()}\n`);
  }
}

await main();
