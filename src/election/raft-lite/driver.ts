/**
 * The raft-lite driver: the only raft-lite file that touches a transport, a clock and storage.
 * It feeds `step` with received messages and ticks and performs the effects in order; a
 * `persist` (term, votedFor) is written and fsynced before any later send of the same step
 * (Raft §5.1/§5.2: a vote must survive a crash before the candidate can count it). The same
 * code runs over NetTransport/SystemClock/FsStorage and over the simulator's twins.
 */
import type { Address } from '../../base/address.js';
import { assert } from '../../base/assert.js';
import type { Rng } from '../../base/rng.js';
import type { Storage } from '../../base/storage.js';
import { ms, type Clock, type TimerHandle } from '../../base/time.js';
import { encodeMessage } from '../../codec/codec.js';
import { decodeElectionMessage } from '../decode.js';
import { isNodeId, type NodeId } from '../../identity/node-id.js';
import type { Transport } from '../../transport/types.js';
import type { RaftLiteConfig } from './config.js';
import { describeEffect, describeInput } from './describe.js';
import { checkInvariants } from './invariants.js';
import { createState, leaderOf, nextDeadline, step } from './step.js';
import type { Effect, Input, Role, State } from './types.js';

export const RAFT_LITE_FILE = 'election/raft-lite.json';

export interface RaftLiteCallbacks {
  onBecomeLeader?: (term: number) => void;
  onBecomeFollower?: (leader: NodeId | undefined, term: number) => void;
  onPeerJoined?: (address: Address) => void;
  onPeerLeft?: (address: Address) => void;
  onTermChanged?: (oldTerm: number, newTerm: number) => void;
  onMessage?: (payload: string, from: NodeId) => void;
}

export interface RaftLiteDriverOptions {
  config: RaftLiteConfig;
  selfId: NodeId;
  transport: Transport;
  clock: Clock;
  rng: Rng;
  storage: Storage;
  clusterId: string;
  peers: readonly Address[];
  onLeader: (leader: { id: NodeId; term: number } | undefined, term: number) => void;
  onTrace?: (line: string) => void;
}

export interface RaftLiteSnapshot {
  role: Role;
  term: number;
  votedFor: NodeId | undefined;
  leader: NodeId | undefined;
  peers: Address[];
  reachable: Address[];
  counters: Record<string, number>;
}

/** Reads the durable (term, votedFor); a fresh node starts at term 0 with no vote. */
export function readPersistedVote(storage: Storage): { term: number; votedFor: NodeId | undefined } {
  const bytes = storage.read(RAFT_LITE_FILE);
  if (bytes === undefined) return { term: 0, votedFor: undefined };
  const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { term?: unknown; votedFor?: unknown };
  assert(typeof parsed.term === 'number' && Number.isSafeInteger(parsed.term) && parsed.term >= 0, `${RAFT_LITE_FILE}: bad term`);
  const votedFor = typeof parsed.votedFor === 'string' && isNodeId(parsed.votedFor) ? parsed.votedFor : undefined;
  return { term: parsed.term, votedFor };
}

export class RaftLiteDriver {
  readonly state: State;
  readonly callbacks: RaftLiteCallbacks = {};
  readonly decodeErrors: Record<string, number> = {};
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: RaftLiteDriverOptions) {
    const durable = readPersistedVote(opts.storage);
    this.state = createState({ config: opts.config, selfId: opts.selfId, selfAddress: opts.transport.localAddress, peers: opts.peers, term: durable.term, votedFor: durable.votedFor, now: opts.clock.now(), rng: opts.rng });
    opts.transport.onReceive((from, _channel, data) => this.onPayload(from, data));
    this.arm();
  }

  leader(): { id: NodeId; term: number } | undefined {
    return this.stopped ? undefined : leaderOf(this.state);
  }

  join(address: Address): void {
    this.input({ kind: 'join', now: this.opts.clock.now(), address });
  }

  broadcast(payload: string): void {
    this.input({ kind: 'broadcast', now: this.opts.clock.now(), payload });
  }

  inspect(): RaftLiteSnapshot {
    const s = this.state;
    return { role: s.role, term: s.term, votedFor: s.votedFor, leader: s.leader?.id, peers: [...s.peers].sort(), reachable: [...s.reachable].sort(), counters: { ...s.counters } };
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private onPayload(from: Address, data: Uint8Array): void {
    if (this.stopped) return;
    const message = decodeElectionMessage(data, this.opts.clusterId, this.decodeErrors);
    if (message === undefined) return;
    this.input({ kind: 'receive', now: this.opts.clock.now(), from, message });
  }

  private input(input: Input): void {
    if (this.stopped) return;
    this.opts.onTrace?.(`in  ${describeInput(input)}`);
    const { effects } = step(this.state, input, { rng: this.opts.rng });
    const broken = checkInvariants(this.state);
    assert(broken.length === 0, `raft-lite invariant: ${broken.join('; ')}`);
    for (const effect of effects) this.perform(effect);
    this.arm();
  }

  private perform(effect: Effect): void {
    this.opts.onTrace?.(`out ${describeEffect(effect)}`);
    const cb = this.callbacks;
    switch (effect.kind) {
      case 'persist': return this.persist(effect.term, effect.votedFor);
      case 'send': return this.opts.transport.sendPacket(effect.to, encodeMessage(effect.message, this.opts.clusterId));
      case 'leader':
        this.opts.onLeader(effect.leader === undefined ? undefined : { id: effect.leader, term: effect.term }, effect.term);
        if (effect.self) cb.onBecomeLeader?.(effect.term);
        else cb.onBecomeFollower?.(effect.leader, effect.term);
        return;
      case 'term': return cb.onTermChanged?.(effect.oldTerm, effect.newTerm);
      case 'peer-joined': return cb.onPeerJoined?.(effect.address);
      case 'peer-left': return cb.onPeerLeft?.(effect.address);
      case 'delivered': return cb.onMessage?.(effect.payload, effect.from);
      case 'rejected': return;
    }
  }

  /** Write then fsync: the vote is durable before the step's later sends leave (Raft §5.2). */
  private persist(term: number, votedFor: NodeId | undefined): void {
    const bytes = new TextEncoder().encode(JSON.stringify({ term, votedFor: votedFor ?? null }));
    this.opts.storage.writeFile(`${RAFT_LITE_FILE}.tmp`, bytes);
    this.opts.storage.fsync(`${RAFT_LITE_FILE}.tmp`);
    this.opts.storage.rename(`${RAFT_LITE_FILE}.tmp`, RAFT_LITE_FILE);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer?.cancel();
    const delayMs = Math.max(0, nextDeadline(this.state) - this.opts.clock.now());
    this.timer = this.opts.clock.setTimer(ms(delayMs), () => {
      this.timer = undefined;
      this.input({ kind: 'tick', now: this.opts.clock.now() });
    });
  }
}
