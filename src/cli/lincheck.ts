/** Entry point of `npm run lincheck -- FILE` (see lincheck-command.ts for the flags and exit codes). */
import { runLincheckCli } from './lincheck-command.js';

process.exitCode = runLincheckCli(process.argv, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  nowMs: () => performance.now(),
});
