/**
 * The network-echo scenario's invariants: what any correct network must guarantee, checked
 * against what the receivers actually saw (not what the network thinks it did).
 *
 * - Nothing arrives across an active partition, one-way ones included.
 * - Nothing arrives at a paused node or at a crashed node's old incarnation, and no stream frame
 *   that was in flight to or from a node when it crashed arrives at all (its connection died;
 *   packets in flight may still arrive, at the restarted process too).
 * - Payloads arrive intact.
 * - Stream frames of one (from, to) pair arrive in order, never twice, and every skipped frame
 *   was reported dropped by the network first (a gap only across a loss, partition or crash).
 * - Without the dup fault, no packet arrives twice.
 */
import type { Address } from '../../base/address.js';
import type { Channel } from '../../transport/types.js';
import { logChecker, type Checker } from '../checkers.js';
import type { FaultKind } from '../faults.js';
import type { SimNetwork } from '../network.js';
import { shortName } from '../trace.js';
import type { EchoMessage } from './echo-payload.js';

/** One payload as a receiver saw it. */
export interface Observation {
  readonly from: Address;
  readonly to: Address;
  readonly channel: Channel;
  /** Undefined when the bytes were not an intact echo payload. */
  readonly message: EchoMessage | undefined;
  /** True when the handler that got it belongs to a crashed incarnation of the receiver. */
  readonly staleReceiver: boolean;
}

export interface EchoView {
  readonly network: SimNetwork;
  readonly faults: ReadonlySet<FaultKind>;
  readonly log: readonly Observation[];
  /** Whether the network reported frame (from, to, incarnation, seq) dropped. */
  wasFrameDropped(from: Address, to: Address, incarnation: number, seq: number): boolean;
  /** The node's latest crash (virtual time and the run-wide send count then), if any. */
  lastCrash(address: Address): CrashMark | undefined;
}

export interface CrashMark {
  readonly timeMs: number;
  /** Sends with a lower index happened before the crash. */
  readonly sendIndex: number;
}

function crossedCrash(o: Observation, view: EchoView): string | undefined {
  if (o.message === undefined || o.channel !== 'stream') return undefined;
  for (const end of [o.from, o.to]) {
    const crash = view.lastCrash(end);
    if (crash !== undefined && o.message.sendIndex < crash.sendIndex)
      return `${describe(o)} was in flight at the crash of ${shortName(end)} at t=${crash.timeMs}ms and still arrived`;
  }
  return undefined;
}

const describe = (o: Observation): string =>
  `${shortName(o.to)} <- ${shortName(o.from)} ${o.channel}${o.message === undefined ? '' : ` ${o.message.kind} inc=${o.message.incarnation} #${o.message.seq}`}`;

const logOf = (view: EchoView): readonly Observation[] => view.log;

interface StreamPosition {
  incarnation: number;
  lastSeq: number;
}

function streamOrderChecker(): Checker<EchoView> {
  const positions = new Map<string, StreamPosition>();
  return logChecker('stream-order', logOf, (o, view) => {
    const m = o.message;
    if (o.channel !== 'stream' || m === undefined) return undefined;
    const key = `${o.from}>${o.to}`;
    const at = positions.get(key);
    if (at !== undefined && m.incarnation < at.incarnation)
      return `${describe(o)} arrived after a frame of incarnation ${at.incarnation}`;
    if (at !== undefined && m.incarnation === at.incarnation && m.seq <= at.lastSeq)
      return `${describe(o)} is a duplicate or out of order: #${at.lastSeq} already arrived`;
    const firstMissing = at !== undefined && m.incarnation === at.incarnation ? at.lastSeq + 1 : 1;
    for (let seq = firstMissing; seq < m.seq; seq++) {
      if (!view.wasFrameDropped(o.from, o.to, m.incarnation, seq))
        return `${describe(o)} skipped #${seq}, which the network never reported dropped`;
    }
    positions.set(key, { incarnation: m.incarnation, lastSeq: m.seq });
    return undefined;
  });
}

function packetOnceChecker(): Checker<EchoView> {
  const seen = new Set<string>();
  return logChecker('packet-once', logOf, (o, view) => {
    if (o.channel !== 'packet' || o.message === undefined || view.faults.has('dup'))
      return undefined;
    const key = `${o.from}>${o.to}/${o.message.kind}/${o.message.incarnation}/${o.message.seq}`;
    if (seen.has(key)) return `${describe(o)} arrived twice without the dup fault`;
    seen.add(key);
    return undefined;
  });
}

/** Fresh checkers for one run (they keep per-run state). */
export function echoCheckers(): Checker<EchoView>[] {
  return [
    logChecker('no-delivery-across-partition', logOf, (o, view) =>
      view.network.isBlocked(o.from, o.to)
        ? `${describe(o)} crossed an active partition`
        : undefined,
    ),
    logChecker('no-delivery-to-stopped-node', logOf, (o, view) => {
      if (view.network.isPaused(o.to)) return `${describe(o)} reached a paused node`;
      return o.staleReceiver
        ? `${describe(o)} reached a crashed incarnation of the receiver`
        : undefined;
    }),
    logChecker('no-delivery-across-crash', logOf, crossedCrash),
    logChecker('payload-intact', logOf, (o) =>
      o.message === undefined ? `${describe(o)} payload is corrupt` : undefined,
    ),
    streamOrderChecker(),
    packetOnceChecker(),
  ];
}
