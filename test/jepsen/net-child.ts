/**
 * A child process for netns.test.ts: builds a NetnsNetwork, prints `ready <ownership JSON>` on
 * stdout, and waits (bounded) to be signalled, so the test can check what SIGTERM (the exit
 * hook) and SIGKILL (the next run's sweep) leave behind.
 */
import { NetnsNetwork } from './netns.js';

const network = await NetnsNetwork.create(2);
process.stdout.write(`ready ${JSON.stringify(network.owner)}\n`);
setTimeout(() => process.exit(0), 60_000);
