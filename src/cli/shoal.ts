/** Entry point for running the CLI from source (`tsx src/cli/shoal.ts ...`, used by `npm start`). */
import { main } from './main.js';

process.exitCode = await main(process.argv);
