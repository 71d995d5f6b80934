/**
 * The node's public event stream: listeners (`on`) and async iterators (`events()`) over the
 * same events. Each iterator has a bounded buffer (`EVENT_BUFFER_MAX`); a consumer that falls
 * that far behind loses the oldest events, counted in `dropped`, so a slow reader can never
 * grow the process's memory without bound. A throwing listener does not stop the others.
 */
import type { ShoalError } from '../base/errors.js';
import type { NodeId } from '../identity/node-id.js';
import type { MemberEventType } from '../membership/types.js';
import type { Member } from './runtime.js';
import type { JoinEvent } from './swim-joins.js';

export type { JoinEvent } from './swim-joins.js';

export const EVENT_BUFFER_MAX = 4096;

export interface MemberEvent {
  kind: 'member';
  type: MemberEventType;
  member: Member;
}

export interface LeaderEvent {
  kind: 'leader';
  leader: NodeId | undefined;
  term: number;
}

/** The node stopped because a protocol could not go on (a durable write failed); see `node.failure`. */
export interface ErrorEvent {
  kind: 'error';
  error: ShoalError;
}

/**
 * Something untrustworthy was refused: a forged record, an accusation from a stranger, a member
 * the admission policy refuses, another process with this node's identity (docs/security.md).
 * Every refusal is counted (`node.stats().protocol`); this event comes at most once per reason
 * per `securityLogIntervalMs` (10 s), with how many went unreported since the last one.
 */
export interface SecurityEvent {
  kind: 'security';
  reason: string;
  detail: string;
  suppressed: number;
}

/** A fork of `owner`'s chain: here and at `peer` it agrees up to `forkSeq` only (data-chain.ts). */
export interface ChainForkEvent {
  kind: 'chain-fork';
  owner: NodeId;
  peer: NodeId;
  forkSeq: number | undefined;
  localHead: number;
  remoteHead: number;
}

export type NodeEvent =
  MemberEvent | LeaderEvent | ErrorEvent | JoinEvent | SecurityEvent | ChainForkEvent;

type Listener = (event: NodeEvent) => void;

interface Reader {
  buffer: NodeEvent[];
  wake: (() => void) | undefined;
  done: boolean;
}

export class EventHub {
  private readonly listeners = new Map<NodeEvent['kind'], Set<Listener>>();
  private readonly readers = new Set<Reader>();
  private ended = false;
  /** Events dropped from slow iterators' buffers, and listener exceptions swallowed. */
  dropped = 0;
  listenerErrors = 0;

  on(kind: NodeEvent['kind'], listener: Listener): void {
    let set = this.listeners.get(kind);
    if (set === undefined) this.listeners.set(kind, (set = new Set()));
    set.add(listener);
  }

  off(kind: NodeEvent['kind'], listener: Listener): void {
    this.listeners.get(kind)?.delete(listener);
  }

  emit(event: NodeEvent): void {
    for (const listener of this.listeners.get(event.kind) ?? []) {
      try {
        listener(event);
      } catch {
        this.listenerErrors++;
      }
    }
    for (const reader of this.readers) {
      if (reader.buffer.length >= EVENT_BUFFER_MAX) {
        reader.buffer.shift();
        this.dropped++;
      }
      reader.buffer.push(event);
      reader.wake?.();
    }
  }

  /** Ends every iterator (the node closed). */
  end(): void {
    this.ended = true;
    for (const reader of this.readers) {
      reader.done = true;
      reader.wake?.();
    }
  }

  iterate(signal: AbortSignal | undefined): AsyncIterableIterator<NodeEvent> {
    const reader: Reader = {
      buffer: [],
      wake: undefined,
      done: this.ended || signal?.aborted === true,
    };
    this.readers.add(reader);
    const finish = (): void => {
      reader.done = true;
      reader.wake?.();
    };
    signal?.addEventListener('abort', finish, { once: true });
    const cleanup = (): void => {
      this.readers.delete(reader);
      signal?.removeEventListener('abort', finish);
    };
    const iterator: AsyncIterableIterator<NodeEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (reader.buffer.length === 0 && !reader.done) {
          await new Promise<void>((resolve) => (reader.wake = resolve));
          reader.wake = undefined;
        }
        const value = reader.buffer.shift();
        if (value === undefined) {
          cleanup();
          return { done: true, value: undefined };
        }
        return { done: false, value };
      },
      return: async () => {
        finish();
        cleanup();
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }
}
