import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run mutation` (Stryker) runs against each mutant of the election cores: their
 * step tests and the protocol contract, which are fast. The simulator's own mutants are
 * `npm run sim:mutants`; Stryker measures how much of the cores the unit tests pin down.
 */
export default defineConfig({
  test: {
    include: [
      'test/election/raft-lite-step.test.ts',
      'test/election/static-swim-step.test.ts',
      'test/election/quorum-term.test.ts',
      'test/base/contract.test.ts',
    ],
    pool: 'forks',
    testTimeout: 60_000,
  },
});
