/**
 * The registry of simulation scenarios, by name (`npm run sim -- --scenario NAME`). A protocol
 * adds its scenario here; the runner and the CLI know nothing else about it.
 */
import type { Scenario } from '../runner.js';
import { networkEcho } from './network-echo.js';
import { electionRaftLite, electionRaftLiteColdStart, electionRaftLiteColdStartUnsafe } from './election-raft-lite.js';
import { swim, swimLoss10 } from './swim.js';

export const SCENARIOS: ReadonlyMap<string, Scenario<unknown>> = new Map<string, Scenario<unknown>>([
  [networkEcho.name, networkEcho],
  [electionRaftLite.name, electionRaftLite as Scenario<unknown>],
  [electionRaftLiteColdStart.name, electionRaftLiteColdStart as Scenario<unknown>],
  [electionRaftLiteColdStartUnsafe.name, electionRaftLiteColdStartUnsafe as Scenario<unknown>],
  [swim.name, swim],
  [swimLoss10.name, swimLoss10],
]);

export const DEFAULT_SCENARIO = networkEcho.name;
