/**
 * Hybrid logical clocks (Kulkarni, Demirbas et al. 2014, "Logical Physical Clocks", Fig. 5): a
 * timestamp is (wallMs, logical): the largest physical time heard of, plus a counter that orders
 * events within one millisecond. It never runs behind the local physical clock, follows causality
 * (a timestamp received is exceeded by every later local one), and stays within the clock skew
 * of physical time, which wall time alone cannot do: a node whose clock runs fast does not win
 * every last-writer-wins race forever, since every node that hears its timestamp moves past it.
 *
 * Pure: the physical time arrives as an argument (the driver reads the wall clock; the simulator
 * gives each node a skewed one). A received timestamp more than `driftMaxMs` ahead of local
 * physical time is refused (`hlcReceive` returns undefined and counts it in `refused`): one
 * broken clock must not drag every HLC in the cluster into its future.
 */
import { compareNodeId, type NodeId } from '../identity/node-id.js';

export interface Hlc {
  /** Milliseconds since the Unix epoch: the largest physical time this timestamp has seen. */
  readonly wallMs: number;
  /** Orders events within one `wallMs`; at most HLC_LOGICAL_MAX. */
  readonly logical: number;
}

/**
 * Largest logical counter. At 65,535 events within one millisecond the clock moves its `wallMs`
 * one ahead instead (and stays ahead of physical time by that much until physical time catches
 * up), so the counter fits 16 bits on the wire and can never overflow.
 */
export const HLC_LOGICAL_MAX = 0xffff;

export const HLC_ZERO: Hlc = { wallMs: 0, logical: 0 };

/** A node's clock: the last timestamp it issued or heard, and what it refused. */
export interface HlcClock {
  last: Hlc;
  /** Largest lead over local physical time a received timestamp may have. */
  readonly driftMaxMs: number;
  /** Received timestamps refused for being more than `driftMaxMs` ahead. */
  refused: number;
}

export function hlcClock(driftMaxMs: number, last: Hlc = HLC_ZERO): HlcClock {
  return { last, driftMaxMs, refused: 0 };
}

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs - b.wallMs || a.logical - b.logical;
}

/** Total order on (timestamp, node): last-writer-wins ties go to the larger NodeId. */
export function compareStamp(a: Hlc, aNode: NodeId, b: Hlc, bNode: NodeId): number {
  return compareHlc(a, b) || compareNodeId(aNode, bNode);
}

function tick(wallMs: number, logical: number): Hlc {
  return logical > HLC_LOGICAL_MAX ? { wallMs: wallMs + 1, logical: 0 } : { wallMs, logical };
}

/** Fig. 5, "send or local event": a timestamp above every earlier one of this clock. */
export function hlcNow(clock: HlcClock, physicalMs: number): Hlc {
  const last = clock.last;
  clock.last =
    physicalMs > last.wallMs
      ? { wallMs: physicalMs, logical: 0 }
      : tick(last.wallMs, last.logical + 1);
  return clock.last;
}

/**
 * Fig. 5, "receive event": moves the clock past `remote`, or refuses it (undefined, counted) when
 * it is more than `driftMaxMs` ahead of `physicalMs`.
 */
export function hlcReceive(clock: HlcClock, remote: Hlc, physicalMs: number): Hlc | undefined {
  if (remote.wallMs - physicalMs > clock.driftMaxMs) {
    clock.refused++;
    return undefined;
  }
  const last = clock.last;
  const wallMs = Math.max(last.wallMs, remote.wallMs, physicalMs);
  let logical: number;
  if (wallMs === last.wallMs && wallMs === remote.wallMs)
    logical = Math.max(last.logical, remote.logical) + 1;
  else if (wallMs === last.wallMs) logical = last.logical + 1;
  else if (wallMs === remote.wallMs) logical = remote.logical + 1;
  else logical = 0;
  clock.last = tick(wallMs, logical);
  return clock.last;
}

/** True when `remote` is acceptable: at most `driftMaxMs` ahead of `physicalMs` (no state change). */
export function hlcAcceptable(clock: HlcClock, remote: Hlc, physicalMs: number): boolean {
  return remote.wallMs - physicalMs <= clock.driftMaxMs;
}

export function describeHlc(t: Hlc): string {
  return `${t.wallMs}.${t.logical}`;
}
