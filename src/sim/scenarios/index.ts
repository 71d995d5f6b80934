/**
 * The registry of simulation scenarios, by name (`npm run sim -- --scenario NAME`). A protocol
 * adds its scenario here; the runner and the CLI know nothing else about it.
 */
import type { Scenario } from '../runner.js';
import { networkEcho } from './network-echo.js';

export const SCENARIOS: ReadonlyMap<string, Scenario<unknown>> = new Map<string, Scenario<unknown>>([
  [networkEcho.name, networkEcho],
]);

export const DEFAULT_SCENARIO = networkEcho.name;
