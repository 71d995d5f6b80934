/**
 * The fault model of one network path (from -> to): delay distribution and probabilistic faults.
 * Probabilities are integer parts per million (drawn with `Rng.chance(ppm, 1_000_000)`), so a
 * run depends only on integers and the seed, never on float rounding.
 *
 * One-way delay = latencyMs + uniform[0, jitterMs] (+ reorderDelayMs with probability
 * reorderPpm, packets only). Jitter alone reorders packets; streams never reorder (a frame is
 * never delivered before the previous frame of its pair).
 */
import { ShoalError } from '../base/errors.js';

export const PPM = 1_000_000;

export interface LinkConfig {
  /** Base one-way delay. @defaultValue 1 */
  latencyMs: number;
  /** Extra delay, uniform in [0, jitterMs]; 0 keeps packets of one path in send order. @defaultValue 0 */
  jitterMs: number;
  /** Packet loss, parts per million. @defaultValue 0 */
  lossPpm: number;
  /** Packet duplication (the copy gets its own delay), parts per million. @defaultValue 0 */
  duplicatePpm: number;
  /** Probability that a packet is held back an extra `reorderDelayMs`, parts per million. @defaultValue 0 */
  reorderPpm: number;
  /** The hold-back of a reordered packet. @defaultValue 10 */
  reorderDelayMs: number;
  /** Stream frame loss (a broken connection drops the frame), parts per million. @defaultValue 0 */
  streamLossPpm: number;
  /** Probability that a payload is held up to `longDelayMs` more, parts per million. @defaultValue 0 */
  longDelayPpm: number;
  /** The longest extra hold-up of a long-delayed payload. @defaultValue 3000 */
  longDelayMs: number;
}

export const LINK_DEFAULTS: Readonly<LinkConfig> = {
  latencyMs: 1,
  jitterMs: 0,
  lossPpm: 0,
  duplicatePpm: 0,
  reorderPpm: 0,
  reorderDelayMs: 10,
  streamLossPpm: 0,
  longDelayPpm: 0,
  longDelayMs: 3_000,
};

/** Largest delay component accepted (one virtual hour): beyond it a path is a partition, say so. */
export const LINK_DELAY_MS_MAX = 3_600_000;

const LIMITS_BY_FIELD: Record<keyof LinkConfig, number> = {
  latencyMs: LINK_DELAY_MS_MAX,
  jitterMs: LINK_DELAY_MS_MAX,
  lossPpm: PPM,
  duplicatePpm: PPM,
  reorderPpm: PPM,
  reorderDelayMs: LINK_DELAY_MS_MAX,
  streamLossPpm: PPM,
  longDelayPpm: PPM,
  longDelayMs: LINK_DELAY_MS_MAX,
};

/** Merges `patch` over `base`, rejecting any field that is not an integer in its range. */
export function mergeLinkConfig(
  base: Readonly<LinkConfig>,
  patch: Readonly<Partial<LinkConfig>>,
): LinkConfig {
  const out: LinkConfig = { ...base };
  for (const key of Object.keys(patch) as (keyof LinkConfig)[]) {
    const max = LIMITS_BY_FIELD[key];
    if (max === undefined)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `link config: unknown field ${JSON.stringify(key)}`,
      );
    const value = patch[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0 || value > max) {
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `link config ${key} (${value}) must be an integer in 0..${max}`,
      );
    }
    out[key] = value;
  }
  return out;
}
