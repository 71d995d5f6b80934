#!/usr/bin/env node
// The `shoal` command. Runs the compiled CLI from dist/ (built by `npm run build`, which
// `npm install` runs through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  process.stderr.write(
    'shoal: the compiled CLI is missing (dist/cli/main.js). Run `npm run build` in the shoal package first.\n',
  );
  process.exit(1);
}
const { main } = await import(compiled.href);
process.exitCode = await main(process.argv);
