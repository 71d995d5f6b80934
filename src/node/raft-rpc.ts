/**
 * The node layer's channel between `raft` members (docs/design/raft-kv.md, "How a request
 * travels"): requests to the leader and their answers, and the hellos that tell members who
 * each other are. It shares the Raft transport: `transport` (a `DemuxTransport`) is what the
 * Raft driver gets; payloads of the node messages (types 50..59, raft-rpc-codec.ts) are taken
 * out before the driver sees them, everything else passes through untouched.
 *
 * Bounded: at most `pendingMax` calls wait for an answer (a further call fails at once with
 * ERR_QUEUE_FULL), each for at most its timeout, and at most `servingMax` requests from others
 * are being served at once (a further one is answered ERR_QUEUE_FULL). Bad bytes are refused
 * and counted by their ERR_DECODE_* code; a request from an address that is not a member is
 * refused (counted `strangers`) unless the handler admits it (a join).
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import { DelegatingTransport } from '../transport/delegating.js';
import type { Delivery, ReceiveHandler, Transport } from '../transport/types.js';
import {
  decodeRaftNodeMessage,
  encodeRaftNodeMessage,
  isRaftNodePayload,
  type RaftNodeMessage,
  type RpcArgs,
  type RpcOutcome,
} from './raft-rpc-codec.js';

export type { RpcArgs, RpcOutcome } from './raft-rpc-codec.js';

/** @defaultValue 10,000 calls waiting for an answer on one member. */
export const RPC_PENDING_MAX = 10_000;
/** @defaultValue 10,000 requests from other members served at once. */
export const RPC_SERVING_MAX = 10_000;

/** A Transport that hands node messages to `take` and everything else to the one receive handler. */
export class DemuxTransport extends DelegatingTransport {
  private handler: ReceiveHandler | undefined;

  constructor(inner: Transport, take: (from: Address, data: Uint8Array) => Delivery) {
    super(inner);
    inner.onReceive((from, channel, data) => {
      if (isRaftNodePayload(data)) return take(from, data);
      return this.handler?.(from, channel, data);
    });
  }

  override onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
}

export type Hello = Extract<RaftNodeMessage, { type: 'raft-node-hello' }>;

export interface RpcHandlers {
  onHello(hello: Hello): void;
  /** Serves a request; `member` says whether the sender's address is in the configuration. */
  onRequest(
    args: RpcArgs,
    from: { id: NodeId; address: Address },
    member: boolean,
  ): Promise<RpcOutcome>;
  /** Whether `address` is a member of the configuration in force. */
  isMember(address: Address): boolean;
}

export interface RpcCounters {
  requestsSent: number;
  requestsServed: number;
  responsesLate: number;
  callsTimedOut: number;
  strangers: number;
  refusedBusy: number;
  decodeErrors: Record<string, number>;
}

interface Pending {
  resolve: (outcome: RpcOutcome) => void;
  timer: TimerHandle;
}

export class RaftRpc {
  readonly transport: DemuxTransport;
  readonly counters: RpcCounters = {
    requestsSent: 0,
    requestsServed: 0,
    responsesLate: 0,
    callsTimedOut: 0,
    strangers: 0,
    refusedBusy: 0,
    decodeErrors: {},
  };
  private readonly pending = new Map<number, Pending>();
  private serving = 0;
  private nextId = 1;
  private closed = false;

  constructor(
    inner: Transport,
    private readonly opts: {
      clusterId: string;
      selfId: NodeId;
      clock: Clock;
      handlers: RpcHandlers;
      pendingMax?: number;
      servingMax?: number;
    },
  ) {
    this.transport = new DemuxTransport(inner, (from, data) => this.receive(from, data));
  }

  private get self(): { from: NodeId; fromAddress: Address } {
    return { from: this.opts.selfId, fromAddress: this.transport.localAddress };
  }

  private send(to: Address, message: RaftNodeMessage): void {
    if (this.closed) return;
    this.transport.sendFrame(to, encodeRaftNodeMessage(message, this.opts.clusterId));
  }

  hello(to: Address, info: Omit<Hello, 'type' | 'from' | 'fromAddress'>): void {
    this.send(to, { type: 'raft-node-hello', ...this.self, ...info });
  }

  /**
   * Sends `args` to `to` and resolves with its outcome; after `timeoutMs` without an answer it
   * resolves `refused: timeout` (the request may still have been served). Never rejects.
   */
  call(to: Address, args: RpcArgs, timeoutMs: number): Promise<RpcOutcome> {
    if (this.closed)
      return Promise.resolve({ kind: 'error', code: 'ERR_TRANSPORT_CLOSED', message: 'closed' });
    if (this.pending.size >= (this.opts.pendingMax ?? RPC_PENDING_MAX))
      return Promise.resolve({
        kind: 'error',
        code: 'ERR_QUEUE_FULL',
        message: `${this.pending.size} requests to the leader are waiting (RPC_PENDING_MAX)`,
      });
    const requestId = this.nextId++;
    return new Promise<RpcOutcome>((resolve) => {
      const timer = this.opts.clock.setTimer(ms(Math.max(0, Math.ceil(timeoutMs))), () => {
        this.pending.delete(requestId);
        this.counters.callsTimedOut++;
        resolve({
          kind: 'refused',
          reason: 'timeout',
          message: `no answer from ${to} in ${timeoutMs} ms`,
        });
      });
      this.pending.set(requestId, { resolve, timer });
      this.counters.requestsSent++;
      this.send(to, { type: 'raft-node-request', ...this.self, requestId, args });
    });
  }

  private receive(from: Address, data: Uint8Array): Delivery {
    const decoded = decodeRaftNodeMessage(data, { clusterId: this.opts.clusterId });
    if (!decoded.ok) {
      const code = decoded.error.code;
      this.counters.decodeErrors[code] = (this.counters.decodeErrors[code] ?? 0) + 1;
      return 'refused';
    }
    const m = decoded.message;
    if (m.from === this.opts.selfId) return 'refused';
    switch (m.type) {
      case 'raft-node-hello':
        if (!this.opts.handlers.isMember(m.fromAddress)) {
          this.counters.strangers++;
          return 'accepted';
        }
        this.opts.handlers.onHello(m);
        return 'accepted';
      case 'raft-node-response':
        this.onResponse(m.requestId, m.outcome);
        return 'accepted';
      case 'raft-node-request':
        this.serve(m);
        return 'accepted';
    }
  }

  private onResponse(requestId: number, outcome: RpcOutcome): void {
    const pending = this.pending.get(requestId);
    if (pending === undefined) {
      this.counters.responsesLate++;
      return;
    }
    this.pending.delete(requestId);
    pending.timer.cancel();
    pending.resolve(outcome);
  }

  private serve(m: Extract<RaftNodeMessage, { type: 'raft-node-request' }>): void {
    const reply = (outcome: RpcOutcome): void =>
      this.send(m.fromAddress, {
        type: 'raft-node-response',
        ...this.self,
        requestId: m.requestId,
        outcome,
      });
    if (this.serving >= (this.opts.servingMax ?? RPC_SERVING_MAX)) {
      this.counters.refusedBusy++;
      return reply({
        kind: 'error',
        code: 'ERR_QUEUE_FULL',
        message: `the leader serves ${this.serving} forwarded requests (RPC_SERVING_MAX)`,
      });
    }
    const member = this.opts.handlers.isMember(m.fromAddress);
    if (!member) this.counters.strangers++;
    this.serving++;
    this.counters.requestsServed++;
    void this.opts.handlers
      .onRequest(m.args, { id: m.from, address: m.fromAddress }, member)
      .catch((err: unknown): RpcOutcome => ({
        kind: 'error',
        code: err instanceof ShoalError ? err.code : 'ERR_INTERNAL',
        message: err instanceof Error ? err.message : String(err),
      }))
      .then((outcome) => {
        this.serving--;
        reply(outcome);
      });
  }

  /** Ends every waiting call (`ERR_TRANSPORT_CLOSED`) and sends nothing more. */
  close(): void {
    this.closed = true;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.timer.cancel();
      pending.resolve({ kind: 'error', code: 'ERR_TRANSPORT_CLOSED', message: 'the node closed' });
    }
  }
}
