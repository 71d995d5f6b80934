/**
 * The `shoal` command line (INTERFACE.md, "Command line"). Each subcommand lives in its own
 * file and registers itself here. `main(argv)` returns the exit code instead of exiting, so
 * tests can run it in-process; bad flags exit 2 with a message naming the flag and value.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerDemoCommand } from './demo.js';
import { ExitCode, registerAgentCommand } from './agent-command.js';
import { registerCaCommands } from './ca-commands.js';
import { registerClientCommands } from './client-commands.js';
import { registerIdentityCommands } from './identity-commands.js';
import { registerWorkerCommands } from './worker-commands.js';
import { registerKvCommands } from './kv-commands.js';

/**
 * The package's version, read once when the CLI is loaded: a process that gives up its
 * privileges after loading (tests run as `nobody` from a checkout it cannot read) still has it.
 */
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

export function buildProgram(
  write: (text: string) => void = (t) => process.stdout.write(t),
): Command {
  const program = new Command('shoal')
    .description('Cluster coordination for Node.js: SWIM membership, leader election and Raft.')
    .version(PACKAGE_VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: (t) => process.stderr.write(t) });
  registerAgentCommand(program);
  registerClientCommands(program, write);
  registerIdentityCommands(program, write);
  registerCaCommands(program, write);
  registerKvCommands(program, write);
  registerDemoCommand(program, write);
  registerWorkerCommands(program, write);
  return program;
}

/** Runs the CLI; resolves to the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[], write?: (text: string) => void): Promise<number> {
  const program = buildProgram(write);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
        ? 0
        : 2;
    }
    if (err instanceof ExitCode) return err.exitCode;
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`shoal: ${(err as Error).message}\n`);
    return typeof code === 'string' && code.startsWith('ERR_INVALID') ? 2 : 1;
  }
}
