/**
 * Scenario `network-echo`: K nodes on raw fabric endpoints send numbered pings (answered by
 * pongs) and stream frames to random peers through the full fault model. It tests the simulator
 * itself (echo-checkers.ts lists the invariants) and is the template for protocol scenarios.
 *
 * Each boot reads the node's incarnation from its disk, increments it and persists it (write,
 * fsync, rename) before sending anything, so a restarted node never reuses sequence numbers
 * of an earlier life; the stream checker would catch a disk that forgot an fsynced write.
 *
 * Liveness: once faults are healed, every payload sent in the next `LIVENESS_SEND_WINDOW_MS`
 * (and every pong they cause) must arrive.
 */
import { parentDir } from '../../base/storage.js';
import type { Address } from '../../base/address.js';
import { assert } from '../../base/assert.js';
import { ms } from '../../base/time.js';
import type { Channel } from '../../transport/types.js';
import type { Checker } from '../checkers.js';
import type { Scenario, ScenarioRun, SimNode, SimWorld } from '../runner.js';
import { echoCheckers, type CrashMark, type EchoView, type Observation } from './echo-checkers.js';
import { decodeEcho, encodeEcho, type EchoKind, type EchoMessage } from './echo-payload.js';

/** Each node sends one ping and 1..3 frames every 20..120 ms of its local time. */
const SEND_INTERVAL_MIN_MS = 20;
const SEND_INTERVAL_MAX_MS = 120;
const PADDING_BYTES_MAX = 64;
const FRAME_BURST_MAX = 3;
/** How long after the heal nodes keep sending; everything sent then must arrive. */
export const LIVENESS_SEND_WINDOW_MS = 1_000;
const INCARNATION_PATH = 'incarnation';

interface NodeState {
  up: boolean;
  /** Bumped on every crash: handlers of an older generation belong to a dead process. */
  generation: number;
  incarnation: number;
  readonly nextSeq: Map<string, number>;
}

const messageKey = (from: Address, to: Address, m: EchoMessage): string =>
  `${from}>${to}/${m.kind}/${m.incarnation}/${m.seq}`;

class EchoRun implements ScenarioRun<EchoView> {
  readonly view: EchoView;
  readonly checkers: readonly Checker<EchoView>[] = echoCheckers();
  private readonly log: Observation[] = [];
  private readonly droppedFrames = new Set<string>();
  private readonly states = new Map<Address, NodeState>();
  /** Payloads sent since the heal and not yet received: key -> send time. */
  private readonly outstanding = new Map<string, number>();
  private readonly crashes = new Map<Address, CrashMark>();
  private sendCount = 0;
  private measuring = false;
  private sendStopMs = Number.POSITIVE_INFINITY;

  constructor(private readonly world: SimWorld) {
    const droppedFrames = this.droppedFrames;
    this.view = {
      network: world.network,
      faults: world.faults,
      log: this.log,
      wasFrameDropped: (from, to, incarnation, seq) =>
        droppedFrames.has(`${from}>${to}/frame/${incarnation}/${seq}`),
      lastCrash: (address) => this.crashes.get(address),
    };
    world.network.observeDrops((from, to, channel, data) => {
      const message = decodeEcho(data);
      if (channel === 'stream' && message !== undefined)
        droppedFrames.add(messageKey(from, to, message));
    });
    for (const node of world.nodes) this.boot(node);
  }

  crashNode(node: SimNode): void {
    const state = this.stateOf(node.address);
    state.up = false;
    this.crashes.set(node.address, { timeMs: this.world.clock.now(), sendIndex: this.sendCount });
    state.generation++; // its timers died with the process (SimNetwork.crash kills them)
  }

  restartNode(node: SimNode): void {
    this.boot(node);
  }

  startLiveness(): void {
    this.measuring = true;
    this.sendStopMs = this.world.clock.now() + LIVENESS_SEND_WINDOW_MS;
  }

  livenessReached(): boolean {
    return this.world.clock.now() >= this.sendStopMs && this.outstanding.size === 0;
  }

  describeLivenessFailure(): string {
    const missing = [...this.outstanding.entries()]
      .slice(0, 5)
      .map(([key, sentMs]) => `${key} (sent t=${sentMs}ms)`);
    return `${this.outstanding.size} payloads sent after the heal never arrived, first: ${missing.join(', ')}`;
  }

  private stateOf(address: Address): NodeState {
    const state = this.states.get(address);
    assert(state !== undefined, `network-echo: unknown node ${address}`);
    return state;
  }

  /** Boot: persist a new incarnation (write, fsync, rename), attach, start sending. */
  private boot(node: SimNode): void {
    const stored = node.storage.read(INCARNATION_PATH);
    const previous =
      stored === undefined
        ? 0
        : new DataView(stored.buffer, stored.byteOffset, stored.byteLength).getUint32(0);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, previous + 1);
    node.storage.writeFile(`${INCARNATION_PATH}.tmp`, bytes);
    node.storage.fsync(`${INCARNATION_PATH}.tmp`);
    node.storage.rename(`${INCARNATION_PATH}.tmp`, INCARNATION_PATH);
    node.storage.fsyncDir(parentDir(INCARNATION_PATH));
    const old = this.states.get(node.address);
    const state: NodeState = {
      up: true,
      generation: (old?.generation ?? 0) + 1,
      incarnation: previous + 1,
      nextSeq: new Map(),
    };
    this.states.set(node.address, state);
    const generation = state.generation;
    this.world.network.attach(node.address, (from, channel, data) =>
      this.receive(node, generation, from, channel, data),
    );
    this.scheduleTick(node, state);
  }

  private scheduleTick(node: SimNode, state: NodeState): void {
    node.clock.setTimer(ms(node.rng.range(SEND_INTERVAL_MIN_MS, SEND_INTERVAL_MAX_MS)), () => {
      if (this.world.clock.now() >= this.sendStopMs) return;
      const peers = this.world.nodes.filter((n) => n !== node);
      const peer = node.rng.pick(peers);
      this.sendEcho(node, state, peer.address, 'packet', 'ping');
      // A burst of frames: back-to-back frames on one path are what jitter would reorder.
      for (let burst = node.rng.range(1, FRAME_BURST_MAX); burst > 0; burst--)
        this.sendEcho(node, state, peer.address, 'stream', 'frame');
      this.scheduleTick(node, state);
    });
  }

  private sendEcho(
    node: SimNode,
    state: NodeState,
    to: Address,
    channel: Channel,
    kind: EchoKind,
  ): void {
    const seqKey = `${to}/${kind}`;
    const seq = (state.nextSeq.get(seqKey) ?? 0) + 1;
    state.nextSeq.set(seqKey, seq);
    const message: EchoMessage = {
      kind,
      incarnation: state.incarnation,
      seq,
      sendIndex: this.sendCount++,
    };
    if (this.measuring && this.world.clock.now() < this.sendStopMs)
      this.outstanding.set(messageKey(node.address, to, message), this.world.clock.now());
    this.world.network.send(
      node.address,
      to,
      channel,
      encodeEcho(message, node.rng.int(PADDING_BYTES_MAX + 1)),
    );
  }

  private receive(
    node: SimNode,
    generation: number,
    from: Address,
    channel: Channel,
    data: Uint8Array,
  ): void {
    const state = this.stateOf(node.address);
    const message = decodeEcho(data);
    this.log.push({
      from,
      to: node.address,
      channel,
      message,
      staleReceiver: !state.up || state.generation !== generation,
    });
    if (message === undefined) return;
    this.outstanding.delete(messageKey(from, node.address, message));
    if (message.kind === 'ping' && state.up && state.generation === generation)
      this.sendEcho(node, state, from, 'packet', 'pong');
  }
}

export const networkEcho: Scenario<EchoView> = {
  name: 'network-echo',
  description:
    'nodes exchange numbered pings, pongs and stream frames through the fault model; checks the network itself',
  nodesMin: 2,
  setup: (world) => new EchoRun(world),
};
