/**
 * `npm run bench`: runs every benchmark in bench/ in sequence and prints their markdown tables.
 * Each bench module exports `run(): Promise<string>` (its report) and also runs alone with tsx.
 * Pass names to run a subset: `npm run bench -- codec transport`.
 */
import { readdirSync } from 'node:fs';

const SKIP = new Set(['run.ts', 'fuzz-codec.ts']);

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const files = readdirSync(new URL('.', import.meta.url))
    .filter((f) => f.endsWith('.ts') && !SKIP.has(f) && !f.startsWith('lib-'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
    .sort();
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
