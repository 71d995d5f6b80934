/**
 * One accepted stream connection, from accept to close: its hello, its frames, its deadlines
 * and the bytes it holds for an unfinished frame. Until it has delivered a frame the receiver
 * accepted (`Delivery`), a connection is unauthenticated: it reads a hello-sized frame first,
 * then frames up to `unauthenticatedFrameBytesMax`, and must send its hello within
 * `helloTimeoutMs` and an accepted frame within `inboundAuthTimeoutMs` after it. The endpoint
 * (tcp.ts) keeps the totals and the caps; a connection only reports what it holds after each
 * chunk, and asks to be refused when something is wrong.
 *
 * Where dialers must authenticate (raft mode, peer-auth.ts) the hello is the signed one: the
 * connection then knows its dialer's NodeId (`peer`) and labels every frame with it.
 */
import type { Socket } from 'node:net';
import type { Address } from '../base/address.js';
import { FrameDecoder } from '../codec/frame.js';
import type { NodeId } from '../identity/node-id.js';
import { PEER_HELLO_BYTES_MAX } from './peer-auth.js';
import { HELLO_BYTES_MAX, decodeHello } from './tcp-hello.js';
import type { Delivery, StreamRefusal } from './types.js';

export interface InboundLimits {
  helloTimeoutMs: number;
  inboundAuthTimeoutMs: number;
  unauthenticatedFrameBytesMax: number;
  frameBytesMax: number;
}

/** What a connection needs from its endpoint. */
export interface InboundOwner {
  /** `peer`: the NodeId the connection's authenticated hello proved (raft mode), if any. */
  deliver(from: Address, frame: Uint8Array, peer?: NodeId): Delivery;
  /**
   * Set where dialers must authenticate (peer-auth.ts): verifies the first frame and returns the
   * dialer's listen address and NodeId, or undefined (counted and logged by the owner; the
   * connection is then refused with `peer_auth`).
   */
  readonly acceptHello?:
    ((frame: Uint8Array) => { from: Address; peer: NodeId } | undefined) | undefined;
  /** The connection's first accepted frame: it leaves the unauthenticated totals. */
  authenticated(connection: InboundConnection): void;
  /** The connection now holds `heldBytes`; the refusal when that breaks a cap (nothing is then counted). */
  account(connection: InboundConnection, heldBytes: number): StreamRefusal | undefined;
  /** Sends the refusal, closes the connection and forgets it. */
  refuse(connection: InboundConnection, reason: StreamRefusal): void;
  /** An ever-increasing number: a connection's last activity, for "idlest first". */
  tick(): number;
}

export class InboundConnection {
  /** The dialer's listen address, once its hello arrived. */
  from: Address | undefined;
  /** The dialer's NodeId, proved by its authenticated hello (only where `acceptHello` is set). */
  peer: NodeId | undefined;
  authenticated = false;
  /** Bytes held for an unfinished frame, as counted in the endpoint's totals. */
  heldBytes = 0;
  /** `owner.tick()` at the last chunk received (or at accept). */
  lastActivity: number;
  private readonly decoder: FrameDecoder;
  private deadline: NodeJS.Timeout | undefined;
  private detached = false;

  constructor(
    readonly socket: Socket,
    private readonly limits: InboundLimits,
    private readonly owner: InboundOwner,
  ) {
    this.lastActivity = owner.tick();
    this.decoder = new FrameDecoder(
      owner.acceptHello === undefined ? HELLO_BYTES_MAX : PEER_HELLO_BYTES_MAX,
    );
    this.arm(limits.helloTimeoutMs, 'hello_timeout');
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  /** Stops reading frames and clears the deadline; the endpoint then owns the socket's end. */
  detach(): void {
    this.detached = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
    this.socket.removeAllListeners('data');
  }

  private arm(timeoutMs: number, reason: StreamRefusal): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
    if (timeoutMs <= 0) return;
    // Transports are drivers, not cores: a real timer, unref'd so it never holds the process.
    this.deadline = setTimeout(() => this.owner.refuse(this, reason), timeoutMs);
    this.deadline.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.detached) return;
    this.lastActivity = this.owner.tick();
    this.decoder.push(chunk);
    for (let next = this.decoder.next(); next !== undefined; next = this.decoder.next()) {
      if ('oversizedBytes' in next)
        return this.owner.refuse(this, this.from === undefined ? 'bad_hello' : 'oversized');
      if (this.from === undefined) {
        if (!this.onHello(next.frame)) return;
        continue;
      }
      const verdict = this.owner.deliver(this.from, next.frame, this.peer);
      if (this.detached) return;
      if (verdict === 'unauthenticated') return this.owner.refuse(this, 'auth_failed');
      if (verdict === 'accepted' && !this.authenticated) this.authenticate();
    }
    const refusal = this.owner.account(this, this.decoder.bufferedBytes);
    if (refusal !== undefined) this.owner.refuse(this, refusal);
  }

  /** False when the hello is malformed (the connection has then been refused). */
  private onHello(frame: Uint8Array): boolean {
    if (this.owner.acceptHello !== undefined) {
      const proved = this.owner.acceptHello(frame);
      if (proved === undefined) {
        this.owner.refuse(this, 'peer_auth');
        return false;
      }
      this.peer = proved.peer;
      this.from = proved.from;
    } else this.from = decodeHello(frame);
    if (this.from === undefined) {
      this.owner.refuse(this, 'bad_hello');
      return false;
    }
    this.decoder.limitBytes = this.limits.unauthenticatedFrameBytesMax;
    this.arm(this.limits.inboundAuthTimeoutMs, 'auth_timeout');
    return true;
  }

  private authenticate(): void {
    this.authenticated = true;
    this.decoder.limitBytes = this.limits.frameBytesMax;
    this.arm(0, 'auth_timeout');
    this.owner.authenticated(this);
  }
}
