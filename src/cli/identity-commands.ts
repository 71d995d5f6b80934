/** `shoal identity` and `shoal keygen`: local commands that need no running agent. */
import type { Command } from 'commander';
import { loadOrCreateIdentity } from '../identity/identity.js';
import { generateKey } from '../transport/keyring.js';

export function registerIdentityCommands(program: Command, write: (text: string) => void): void {
  program
    .command('identity')
    .description(
      "print this data dir's NodeId (creates the identity if missing); --json adds the public key (for shoal ca sign --node-key)",
    )
    .option('--data-dir <dir>', 'the node data directory', './data')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string; json?: boolean }) => {
      const identity = await loadOrCreateIdentity(opts.dataDir);
      write(
        opts.json
          ? `${JSON.stringify({ id: identity.nodeId, dataDir: opts.dataDir, publicKey: Buffer.from(identity.publicKey).toString('base64') })}\n`
          : `${identity.nodeId}\n`,
      );
    });
  program
    .command('keygen')
    .description('print a new base64 gossip encryption key (32 random bytes) for the keyring')
    .action(() => {
      write(`${generateKey()}\n`);
    });
}
