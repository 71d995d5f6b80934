/**
 * `npm run jepsen -- [flags]`: the Jepsen-style test on real processes (issue 14). The runner
 * lives in test/jepsen/cli.ts (type-checked and linted with the tests); see docs/jepsen.md.
 * Needs root (network namespaces) and etcd for `--system etcd`.
 */
import { main } from '../test/jepsen/cli.js';

process.exit(
  await main(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  }),
);
