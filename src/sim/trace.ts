/**
 * The run trace: one text line per simulated happening, stamped with virtual time
 * (`t=000123ms n2 <- n1:7946 packet 42B`). Built only from virtual time and seeded choices, so
 * one seed gives the same trace byte for byte; a test compares two runs. Bounded by
 * `traceLinesMax`: past it lines are counted, not kept.
 */
import type { Address } from '../base/address.js';
import type { SimClock } from './clock.js';

/** Default cap on kept trace lines (about 100 MB of text at worst). */
export const TRACE_LINES_MAX = 1_000_000;

/** The port every simulated node listens on; trace lines show a node by its host part alone. */
export const SIM_PORT = 7946;

/** The address of simulated node `name` (`n1` -> `n1:7946`). */
export function simAddress(name: string): Address {
  return `${name}:${SIM_PORT}` as Address;
}

/** A short name for trace lines: the host part of a simulated node's address, else the address. */
export function shortName(address: string): string {
  const suffix = `:${SIM_PORT}`;
  return address.endsWith(suffix) ? address.slice(0, -suffix.length) : address;
}

/** Virtual time as a fixed-width field so that traces line up and diff cleanly. */
export function formatTimeMs(timeMs: number): string {
  return `t=${String(timeMs).padStart(6, '0')}ms`;
}

export class Trace {
  readonly lines: string[] = [];
  /** Lines not kept because `linesMax` was reached. */
  truncated = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly linesMax: number = TRACE_LINES_MAX,
  ) {}

  add(text: string): void {
    if (this.lines.length >= this.linesMax) {
      this.truncated++;
      return;
    }
    this.lines.push(`${formatTimeMs(this.clock.now())} ${text}`);
  }
}
