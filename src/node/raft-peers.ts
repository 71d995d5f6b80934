/**
 * What `raft` members know of each other beyond Raft (docs/design/raft-kv.md, "Members"): every
 * helloIntervalMs each member sends a hello (its name and client URLs, raft-rpc-codec.ts) to
 * every other member of the configuration in force. The hellos give `members()` names and the
 * etcd gRPC URLs clients dial (etcd's MemberList clientURLs), and say who is alive: a member
 * heard within MEMBER_ALIVE_HELLOS intervals is `alive`, within MEMBER_SUSPECT_HELLOS `suspect`,
 * else `dead`; a learner being caught up to become a voter is `joining`.
 *
 * The member table is the configuration, never a local list: a member removed from it is gone
 * (`left`) even if it still says hello; a stranger's hello is ignored (raft-rpc.ts counts it).
 */
import type { Address } from '../base/address.js';
import { ms, type Clock, type Millis, type TimerHandle } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import type { MemberEventType } from '../membership/types.js';
import type { Hello, RaftRpc } from './raft-rpc.js';
import type { Member } from './runtime.js';

/** A member heard within this many hello intervals is alive. */
export const MEMBER_ALIVE_HELLOS = 3;
/** ... within this many, suspect; later, dead. */
export const MEMBER_SUSPECT_HELLOS = 10;
/** Most members whose hello is remembered (the configuration holds at most membersMax = 64). */
export const PEER_INFO_MAX = 1024;

export interface PeerInfo {
  readonly id: NodeId;
  readonly name: string;
  readonly address: Address;
  readonly labels: Record<string, string>;
  readonly httpUrls: readonly string[];
  readonly grpcUrls: readonly string[];
  readonly heardMs: Millis;
}

/** One slot of the configuration in force, as the member table shows it. */
export interface ConfigSlot {
  readonly address: Address;
  readonly id: NodeId | undefined;
  readonly role: 'voter' | 'learner' | 'staging';
}

export class RaftPeers {
  private readonly info = new Map<NodeId, PeerInfo>();
  private urls: { http: string[]; grpc: string[] } = { http: [], grpc: [] };
  private timer: TimerHandle | undefined;
  private states = new Map<string, Member['state']>();
  private closed = false;

  constructor(
    private readonly opts: {
      rpc: RaftRpc;
      clock: Clock;
      self: { id: NodeId; name: string; address: Address; labels: Record<string, string> };
      helloIntervalMs: number;
      slots: () => readonly ConfigSlot[];
      onMemberEvent: (type: MemberEventType, member: Member) => void;
    },
  ) {}

  start(): void {
    this.tick();
  }

  /** This member's client URLs, sent in its hellos (the agent sets them once it listens). */
  setUrls(urls: { http?: readonly string[]; grpc?: readonly string[] }): void {
    this.urls = {
      http: [...(urls.http ?? this.urls.http)],
      grpc: [...(urls.grpc ?? this.urls.grpc)],
    };
    this.sayHello();
  }

  get selfUrls(): { http: readonly string[]; grpc: readonly string[] } {
    return this.urls;
  }

  onHello(hello: Hello): void {
    if (this.info.size >= PEER_INFO_MAX && !this.info.has(hello.from)) return;
    this.info.set(hello.from, {
      id: hello.from,
      name: hello.name,
      address: hello.fromAddress,
      labels: hello.labels,
      httpUrls: hello.httpUrls,
      grpcUrls: hello.grpcUrls,
      heardMs: this.opts.clock.now(),
    });
  }

  peer(id: NodeId): PeerInfo | undefined {
    return this.info.get(id);
  }

  private sayHello(): void {
    if (this.closed) return;
    const { self } = this.opts;
    for (const slot of this.opts.slots()) {
      if (slot.address === self.address) continue;
      this.opts.rpc.hello(slot.address, {
        name: self.name,
        labels: self.labels,
        httpUrls: this.urls.http,
        grpcUrls: this.urls.grpc,
      });
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.sayHello();
    this.publishChanges();
    this.timer = this.opts.clock.setTimer(ms(this.opts.helloIntervalMs), () => this.tick());
  }

  /** The configuration's members with their liveness as this member sees it. */
  members(): Member[] {
    const { self, helloIntervalMs } = this.opts;
    const now = this.opts.clock.now();
    const out: Member[] = [];
    const slots = this.opts.slots();
    // A node not in the configuration yet (asking to join, or waiting to be added) is joining.
    if (!slots.some((slot) => slot.address === self.address))
      out.push({
        id: self.id,
        name: self.name,
        address: self.address,
        state: 'joining',
        incarnation: 1,
        labels: self.labels,
      });
    for (const slot of slots) {
      const isSelf = slot.address === self.address;
      const id = isSelf ? self.id : slot.id;
      if (id === undefined) continue;
      const peer = isSelf ? undefined : this.info.get(id);
      const silentMs = peer === undefined ? Infinity : now - peer.heardMs;
      const state: Member['state'] = isSelf
        ? 'alive'
        : slot.role === 'staging'
          ? 'joining'
          : silentMs <= MEMBER_ALIVE_HELLOS * helloIntervalMs
            ? 'alive'
            : silentMs <= MEMBER_SUSPECT_HELLOS * helloIntervalMs
              ? 'suspect'
              : 'dead';
      out.push({
        id,
        name: isSelf ? self.name : (peer?.name ?? slot.address),
        address: slot.address,
        state,
        incarnation: 1,
        labels: isSelf ? self.labels : (peer?.labels ?? {}),
      });
    }
    return out;
  }

  /** Emits a member event for each change since the last tick (joined, alive, suspect, dead, left). */
  private publishChanges(): void {
    const next = new Map<string, Member['state']>();
    const seen = new Map<string, Member>();
    for (const member of this.members()) {
      next.set(member.id, member.state);
      seen.set(member.id, member);
      const before = this.states.get(member.id);
      if (before === member.state) continue;
      const type: MemberEventType =
        before === undefined ? 'joined' : member.state === 'joining' ? 'updated' : member.state;
      this.opts.onMemberEvent(type, member);
    }
    for (const id of this.states.keys())
      if (!next.has(id))
        this.opts.onMemberEvent('left', {
          id: id as NodeId,
          name: this.info.get(id as NodeId)?.name ?? id,
          address: this.info.get(id as NodeId)?.address ?? '',
          state: 'left',
          incarnation: 1,
          labels: {},
        });
    this.states = next;
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }
}
