/**
 * The `static` mode driver: runs the pure core (step.ts) over a transport, a clock and storage.
 * Heartbeats go as packets; the fencing term is persisted (write, fsync, rename) before the
 * leader event that reports it, so a restart never reports a lower term.
 */
import type { Address } from '../../base/address.js';
import { assert } from '../../base/assert.js';
import type { Storage } from '../../base/storage.js';
import { ms, type Clock, type TimerHandle } from '../../base/time.js';
import { encodeMessage } from '../../codec/codec.js';
import { decodeElectionMessage } from '../decode.js';
import type { NodeId } from '../../identity/node-id.js';
import type { Transport } from '../../transport/types.js';
import { createStaticState, nextDeadline, step, type StaticConfig, type StaticEffect, type StaticState } from './step.js';

export const STATIC_TERM_FILE = 'election/static-term';

export interface StaticDriverOptions {
  config: StaticConfig;
  selfId: NodeId;
  transport: Transport;
  clock: Clock;
  storage: Storage;
  clusterId: string;
  peers: readonly Address[];
  onLeader: (leader: { id: NodeId; term: number } | undefined, term: number) => void;
  onMember: (type: 'joined' | 'alive' | 'dead', address: Address, id: NodeId) => void;
}

function readTerm(storage: Storage): number {
  const bytes = storage.read(STATIC_TERM_FILE);
  if (bytes === undefined) return 0;
  const text = new TextDecoder().decode(bytes);
  assert(/^\d+$/.test(text), `${STATIC_TERM_FILE} holds ${JSON.stringify(text)}, not a term`);
  return Number(text);
}

export class StaticDriver {
  readonly state: StaticState;
  readonly decodeErrors: Record<string, number> = {};
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly opts: StaticDriverOptions) {
    this.state = createStaticState(opts.config, opts.selfId, opts.transport.localAddress, opts.peers, readTerm(opts.storage), opts.clock.now());
    opts.transport.onReceive((_from, _channel, data) => this.onPayload(data));
    this.tick();
  }

  leader(): { id: NodeId; term: number } | undefined {
    return this.stopped || this.state.leader === undefined ? undefined : { id: this.state.leader, term: this.state.term };
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private onPayload(data: Uint8Array): void {
    if (this.stopped) return;
    const message = decodeElectionMessage(data, this.opts.clusterId, this.decodeErrors);
    if (message === undefined) return;
    this.run(step(this.state, { kind: 'receive', now: this.opts.clock.now(), message }).effects);
  }

  private tick(): void {
    this.run(step(this.state, { kind: 'tick', now: this.opts.clock.now() }).effects);
  }

  private run(effects: readonly StaticEffect[]): void {
    for (const effect of effects) this.perform(effect);
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimer(ms(Math.max(0, nextDeadline(this.state) - this.opts.clock.now())), () => this.tick());
  }

  private perform(effect: StaticEffect): void {
    switch (effect.kind) {
      case 'persist': {
        const s = this.opts.storage;
        s.writeFile(`${STATIC_TERM_FILE}.tmp`, new TextEncoder().encode(String(effect.term)));
        s.fsync(`${STATIC_TERM_FILE}.tmp`);
        return s.rename(`${STATIC_TERM_FILE}.tmp`, STATIC_TERM_FILE);
      }
      case 'send': return this.opts.transport.sendPacket(effect.to, encodeMessage(effect.message, this.opts.clusterId));
      case 'leader': return this.opts.onLeader(effect.leader === undefined ? undefined : { id: effect.leader, term: effect.term }, effect.term);
      case 'member': return this.opts.onMember(effect.type, effect.address, effect.id);
    }
  }
}
