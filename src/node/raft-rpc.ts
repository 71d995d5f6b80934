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
import { DecodeFailure, Reader, readAddress } from '../codec/bytes.js';
import { DEFAULT_CODEC_LIMITS } from '../codec/codec.js';
import type { DropReason } from '../transport/counters.js';
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

/**
 * A Transport that hands node messages to `take` and everything else to the one receive handler.
 *
 * Over a transport whose connections authenticate (`requireAuthenticatedSenders`, raft mode on
 * real sockets; docs/security.md, "Raft mode"), it also enforces who may speak: a packet is
 * refused (`packet_unauthenticated`: it carries no proof, so every Raft message is sent as a
 * frame instead), and a Raft message whose sender (NodeId and listen address, read from its
 * header) is not the connection's proved NodeId and address is refused (`sender_mismatch`) and
 * its connection closed. Node messages are checked the same way by `RaftRpc` after decoding.
 */
export class DemuxTransport extends DelegatingTransport {
  private handler: ReceiveHandler | undefined;
  private strict = false;
  /** Counts a drop in the inner transport's `dropped` (set by `requireAuthenticatedSenders`). */
  private countDrop: (reason: DropReason) => void = () => undefined;

  constructor(
    inner: Transport,
    take: (from: Address, data: Uint8Array, peer: NodeId | undefined) => Delivery,
  ) {
    super(inner);
    inner.onReceive((from, channel, data, peer) => {
      if (this.strict && (channel === 'packet' || peer === undefined)) {
        this.countDrop('packet_unauthenticated');
        return 'refused';
      }
      if (isRaftNodePayload(data)) return take(from, data, peer);
      if (this.strict && !sentBy(data, peer as NodeId, from)) {
        this.countSenderMismatch(
          `a Raft message on the connection of ${peer as NodeId} (${from}) names another sender`,
        );
        return 'unauthenticated';
      }
      return this.handler?.(from, channel, data, peer);
    });
  }

  /** Told of each sender refused (for the rate-limited security log). */
  private onSenderRefused: ((detail: string) => void) | undefined;

  /** From now on only frames from authenticated connections pass, each from its proved sender. */
  requireAuthenticatedSenders(
    countDrop: (reason: DropReason) => void,
    onSenderRefused?: (detail: string) => void,
  ): void {
    this.strict = true;
    this.countDrop = countDrop;
    this.onSenderRefused = onSenderRefused;
  }

  get authenticatesSenders(): boolean {
    return this.strict;
  }

  /** Messages refused for their sender (Raft and node messages). */
  sendersRefused = 0;

  /** Counts (and reports) a message refused for its sender. */
  countSenderMismatch(detail: string): void {
    this.sendersRefused++;
    this.countDrop('sender_mismatch');
    this.onSenderRefused?.(detail);
  }

  /** Where senders authenticate, packets carry no proof: they go as frames. */
  override sendPacket(to: Address, data: Uint8Array): void {
    if (this.strict) this.inner.sendFrame(to, data);
    else this.inner.sendPacket(to, data);
  }

  override onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
}

/**
 * Whether a Raft message names `peer` at `from` as its sender: the envelope (magic, version,
 * type, cluster id), then the header every Raft and node message starts with (NodeId, listen
 * address; src/raft/codec.ts). A header that does not parse is no proof of anything: false.
 */
export function sentBy(data: Uint8Array, peer: NodeId, from: Address): boolean {
  try {
    const r = new Reader(data, DEFAULT_CODEC_LIMITS, 4);
    const clusterIdBytes = r.varint('cluster id length');
    if (clusterIdBytes > DEFAULT_CODEC_LIMITS.clusterIdBytesMax) return false;
    r.bytes(clusterIdBytes, 'cluster id');
    return r.nodeId('from') === peer && readAddress(r, 'fromAddress') === from;
  } catch (err) {
    if (err instanceof DecodeFailure) return false;
    throw err;
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
  /**
   * Whether `id` at `address` is a member of the configuration in force: a slot at `address`
   * whose NodeId is `id` (or not known yet: the slot's first speaker, as the Raft core's rule).
   */
  isMember(address: Address, id: NodeId): boolean;
}

export interface RpcCounters {
  requestsSent: number;
  requestsServed: number;
  responsesLate: number;
  callsTimedOut: number;
  strangers: number;
  refusedBusy: number;
  /** Node messages whose sender is not the connection's proved NodeId and address (raft mode). */
  sendersRefused: number;
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
    sendersRefused: 0,
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
    this.transport = new DemuxTransport(inner, (from, data, peer) =>
      this.receive(from, data, peer),
    );
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

  /** `peer`: the NodeId the connection proved (raft mode on real sockets), which must be the sender's. */
  private receive(from: Address, data: Uint8Array, peer: NodeId | undefined): Delivery {
    const decoded = decodeRaftNodeMessage(data, { clusterId: this.opts.clusterId });
    if (!decoded.ok) {
      const code = decoded.error.code;
      this.counters.decodeErrors[code] = (this.counters.decodeErrors[code] ?? 0) + 1;
      return 'refused';
    }
    const m = decoded.message;
    if (peer !== undefined && (m.from !== peer || m.fromAddress !== from)) {
      this.counters.sendersRefused++;
      this.transport.countSenderMismatch(
        `a node message on the connection of ${peer} (${from}) claims ${m.from} at ${m.fromAddress}`,
      );
      return 'unauthenticated';
    }
    if (m.from === this.opts.selfId) return 'refused';
    switch (m.type) {
      case 'raft-node-hello':
        if (!this.opts.handlers.isMember(m.fromAddress, m.from)) {
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
    const member = this.opts.handlers.isMember(m.fromAddress, m.from);
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
