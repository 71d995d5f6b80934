/** Per-node rules of the worker client, checked after every step in tests and the simulator. */
import type { ClientState } from './types.js';

export function checkInvariants(state: ClientState): string[] {
  const broken: string[] = [];
  const calls = [state.register, state.heartbeat, state.stream, state.renew];
  if (state.phase === 'stopped' && calls.some((c) => c !== undefined))
    broken.push('a stopped client has a call in flight');
  if (
    state.phase === 'unregistered' &&
    [state.heartbeat, state.stream, state.renew].some((c) => c !== undefined)
  )
    broken.push('an unregistered client heartbeats or streams');
  if (state.phase === 'registered' && state.register !== undefined)
    broken.push('a registered client is registering');
  const ids = calls.filter((c) => c !== undefined).map((c) => c.id);
  if (new Set(ids).size !== ids.length) broken.push(`two calls share an id: ${ids.join(',')}`);
  if (ids.some((id) => id >= state.nextCallId)) broken.push('a call id is not below nextCallId');
  if (!(state.serverIndex >= 0 && state.serverIndex < state.servers.length))
    broken.push(`serverIndex ${state.serverIndex} outside 0..${state.servers.length - 1}`);
  return broken;
}

export function snapshot(state: ClientState): { lastRevision: number } {
  return { lastRevision: state.lastRevision };
}

/** Delivered revisions only go up: a revision is never handed to the application twice. */
export function checkTransition(before: { lastRevision: number }, after: ClientState): string[] {
  return after.lastRevision < before.lastRevision
    ? [`lastRevision went back from ${before.lastRevision} to ${after.lastRevision}`]
    : [];
}
