/**
 * Clock steps and stalls (docs/design/membership.md, "Clock steps"). The driver wakes the core at
 * `nextDeadline(state)`; an input that arrives later than that means this node was not running
 * on time: its process stalled (GC, SIGSTOP, an overloaded host), its VM was resumed, or its
 * monotonic clock stepped forward. The core cannot tell these apart, and in none of them did it
 * give its peers the time its clock says passed (after a step, no time passed at all). So the
 * late part is taken out of every wait that concludes something about a peer: our probe's ack
 * timeout and period end (SWIM §3.1), the nack timers of probes we relay (Lifeguard §IV-A),
 * every suspicion timeout (Lifeguard §IV-B; its start too, so a confirmation still counts from
 * it), and the join and leave waits. A wait then ends no earlier, in real time, than it would
 * have without the step or stall: a clock step can delay this node's failure detection by at most
 * its length and never makes it suspect or declare dead anyone by itself.
 *
 * Periodic schedules (next probe, gossip, push-pull, reconnect, reap) are not moved: they catch
 * up with one round each, which asks peers something but concludes nothing about them.
 */
import type { Millis } from '../base/time.js';
import type { State } from './types.js';

const later = (atMs: Millis, byMs: number): Millis => (atMs + byMs) as Millis;

/** Moves every wait on a peer forward by `lateMs` (the part of the last gap this node did not run for). */
export function postponeWaits(state: State, lateMs: number): void {
  const probe = state.probe;
  if (probe !== undefined) {
    probe.ackTimeoutAtMs = later(probe.ackTimeoutAtMs, lateMs);
    probe.endAtMs = later(probe.endAtMs, lateMs);
  }
  for (const relay of state.relays.values()) relay.deadlineMs = later(relay.deadlineMs, lateMs);
  for (const id of state.suspects) {
    const suspicion = state.members.get(id)?.suspicion;
    if (suspicion === undefined) continue;
    suspicion.startedAtMs = later(suspicion.startedAtMs, lateMs);
    suspicion.deadlineMs = later(suspicion.deadlineMs, lateMs);
  }
  if (state.join !== undefined) state.join.deadlineMs = later(state.join.deadlineMs, lateMs);
  if (state.leaveDeadlineMs !== undefined)
    state.leaveDeadlineMs = later(state.leaveDeadlineMs, lateMs);
}
