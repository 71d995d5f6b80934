/** Entry point of `npm run sim -- --seed N ...` (see sim-command.ts for the flags and exit codes). */
import { gitCommit, runSimCli } from './sim-command.js';

process.exitCode = runSimCli(process.argv, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  commit: gitCommit,
});
