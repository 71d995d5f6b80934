/**
 * Scenarios `chain`, `chain-forgery` and `chain-forgery-unsafe` (issue 16, chains on the
 * network): the `swim` scenario (every node built by buildNode, so each runs the data plane and
 * its chains on its one port) with a workload: every `APPEND_PERIOD_MS` on average a random up
 * node appends an entry through `node.chain.append`. Faults come from `--faults`; a crashed node
 * restarts with its chain from its (simulated) disk, fsynced at each append.
 *
 * Checker `chain-entries-from-their-owner` (every `SCAN_MS`): every chain a running node holds,
 * its own included, has at its head seq the hash of the entry its owner appended at that seq
 * (the hash covers the link to the one before, so the whole chain is the owner's). A forged,
 * altered or reordered entry stored anywhere shows here. Liveness adds: after the heal every
 * running node holds every running member's chain at that member's head (`chains converged`),
 * and when the attacker sent forgeries, some node counted a refusal.
 *
 * - `chain-forgery`: an on-path attacker (it sees every pull request waiting for its answer,
 *   here read off the nodes) answers a node's pull, from the address it asked, with entries
 *   that continue the chain it holds: `forged-entry` (a payload signed with the attacker's key),
 *   `altered-entry` (the owner's real next entry with another payload), `reordered-entry` (the
 *   owner's real entry two ahead, given the next seq). Every one must be refused and counted.
 *   It answers the `pull`s (the requests that expect entries), not the digests that open them.
 * - `chain-forgery-unsafe`: the same with signatures unchecked; the checker must fire (a
 *   reordered entry is still refused by its link, a forged or altered one is not).
 */
import type { Address } from '../../base/address.js';
import type { Rng } from '../../base/rng.js';
import { toHex } from '../../base/hex.js';
import type { NodeId } from '../../identity/node-id.js';
import { chainLimits, signedBytes, type ChainEntry } from '../../chain/chain.js';
import { chainMessages, type ChainMessage } from '../../chain/messages.js';
import { encodeWith } from '../../codec/codec.js';
import type { SigningIdentity } from '../../identity/member-crypto.js';
import type { ShoalNode } from '../../node/node.js';
import type { NodeInternals } from '../../node/runtime.js';
import type { Checker } from '../checkers.js';
import type { Scenario, SimNode, SimWorld } from '../runner.js';
import { SIM_CLUSTER_ID, simIdentityFrom } from './sim-node.js';
import { swimCheckers, type SwimView } from './swim-checkers.js';
import { SwimRun } from './swim.js';

/** Mean time between two appends of the workload, virtual ms. */
export const APPEND_PERIOD_MS = 40;
/** How often the chain checker scans every node, virtual ms. */
export const SCAN_MS = 25;
/** The nodes' pull interval in the simulator (production: 1000 ms). */
export const SIM_PULL_INTERVAL_MS = 100;
/** `chain-pruned`: entries and hashes kept per chain (chain.log compacts at twice it). */
export const SMALL_KEPT = 12;
/** Mean time between two forgeries, virtual ms. */
export const FORGERY_PERIOD_MS = 50;
/** Forgeries sent before the liveness phase requires a node to have counted one. */
export const FORGERIES_MIN = 3;

export const CHAIN_FORGERY_KINDS = ['forged-entry', 'altered-entry', 'reordered-entry'] as const;
type ForgeryKind = (typeof CHAIN_FORGERY_KINDS)[number];

export interface ChainScenarioOptions {
  attack?: boolean;
  /** Chain limits small enough that chains are pruned and chain.log compacted within a run. */
  small?: boolean;
  /** Check entry signatures. @defaultValue true */
  verify?: boolean;
}

/** What each owner appended: the entry hash (hex) at each seq, index seq - 1. */
export class OwnerChains {
  private readonly appended = new Map<NodeId, string[]>();

  record(owner: NodeId, seq: number, hash: string): void {
    let list = this.appended.get(owner);
    if (list === undefined) this.appended.set(owner, (list = []));
    list[seq - 1] = hash;
  }

  /** Findings: a node holding a head that its owner never appended at that seq. */
  check(
    holders: ReadonlyArray<{ name: string; heads: ReturnType<ShoalNode['chain']['heads']> }>,
  ): string[] {
    const out: string[] = [];
    for (const { name, heads } of holders)
      for (const head of heads) {
        if (head.seq === 0) continue;
        const truth = this.appended.get(head.owner)?.[head.seq - 1];
        if (truth !== head.hash)
          out.push(
            `${name} holds ${head.owner.slice(0, 8)}'s chain with head ${head.seq} = ${head.hash.slice(0, 12)}, but its owner appended ${truth === undefined ? 'no entry' : truth.slice(0, 12)} at that seq (a forged, altered or reordered entry was stored)`,
          );
      }
    return out;
  }
}

class ChainAttacker {
  readonly sent = new Map<ForgeryKind, number>();
  private readonly rng: Rng;
  private readonly identity: SigningIdentity;
  private readonly table = chainMessages(chainLimits(), 1024);

  constructor(
    private readonly world: SimWorld,
    private readonly periodMs: number,
    private readonly targets: () => ReadonlyArray<[SimNode, ShoalNode]>,
    private readonly active: () => boolean,
  ) {
    this.rng = world.rng.fork('chain-attacker');
    this.identity = simIdentityFrom(this.rng.fork('key'));
  }

  sentTotal(): number {
    let n = 0;
    for (const v of this.sent.values()) n += v;
    return n;
  }

  start(): void {
    const delayMs = 1 + this.rng.int(2 * this.periodMs);
    this.world.clock.at(this.world.clock.now() + delayMs, () => {
      if (!this.active()) return;
      this.attackOnce();
      this.start();
    });
  }

  private attackOnce(): void {
    const up = this.targets();
    const waiting = up.flatMap(([node, shoal]) =>
      (shoal.internals.chain?.pendingRequests() ?? [])
        .filter((p) => p.kind === 'pull')
        .map((p) => ({ node, shoal, p })),
    );
    if (waiting.length === 0) return;
    const { node, shoal, p } = this.rng.pick(waiting);
    const kind = this.rng.pick(CHAIN_FORGERY_KINDS);
    const owners = up.map(([, s]) => s);
    // An owner whose chain is ahead of the victim's copy by what the kind needs (the real next
    // entry, or the one after it), when there is one; any owner otherwise (a forged entry).
    const ahead = (o: ShoalNode): number =>
      (o.internals.chain?.own.headSeq ?? 0) - (shoal.internals.chain?.chainOf(o.id)?.headSeq ?? 0);
    const need = kind === 'reordered-entry' ? 2 : kind === 'altered-entry' ? 1 : 0;
    const fit = owners.filter((o) => ahead(o) >= need);
    const ownerNode = this.rng.pick(fit.length > 0 ? fit : owners);
    const owner = ownerNode.id;
    const held = shoal.internals.chain?.chainOf(owner);
    const headSeq = held?.headSeq ?? 0;
    const prevHash = held?.headHash() ?? new Uint8Array(32);
    const real = ownerNode.internals.chain?.own.entriesAfter(headSeq, 2).entries ?? [];
    let entry: ChainEntry;
    const seq = headSeq + 1;
    if (kind === 'altered-entry' && real[0] !== undefined)
      entry = { ...real[0], payload: Uint8Array.from([0x66, this.rng.int(256)]) };
    else if (kind === 'reordered-entry' && real[1] !== undefined) entry = { ...real[1], seq };
    else {
      const payload = Uint8Array.from([0x66, 0x6f, this.rng.int(256)]);
      entry = {
        owner,
        seq,
        prevHash,
        payload,
        signature: this.identity.sign(signedBytes(owner, seq, prevHash, payload)),
      };
    }
    const used: ForgeryKind =
      (kind === 'altered-entry' && real[0] === undefined) ||
      (kind === 'reordered-entry' && real[1] === undefined)
        ? 'forged-entry'
        : kind;
    this.sent.set(used, (this.sent.get(used) ?? 0) + 1);
    this.world.trace.add(
      `chain attacker ${used} to ${node.name} about ${owner.slice(0, 8)} seq ${entry.seq}`,
    );
    const message: ChainMessage = {
      type: 'data-chain',
      body: { kind: 'pulled', id: p.id, chains: [{ owner, status: 'entries', entries: [entry] }] },
    };
    this.world.network.send(
      p.address as Address,
      node.address,
      'stream',
      encodeWith(this.table, message, SIM_CLUSTER_ID),
    );
  }
}

class ChainRun extends SwimRun {
  private appending = true;
  private readonly workload: Rng;
  private readonly truth = new OwnerChains();
  private readonly attacker: ChainAttacker | undefined;
  /** Refusals counted by lives that crashed (a restart starts from zero). */
  private pastRefusals = 0;
  private reported = false;

  override readonly checkers: readonly Checker<SwimView>[];

  constructor(world: SimWorld, options: ChainScenarioOptions) {
    const internals: NodeInternals = {
      chain: {
        pullIntervalMs: SIM_PULL_INTERVAL_MS,
        requestTimeoutMs: 1000,
        ...(options.small === true
          ? { entriesKeptMax: SMALL_KEPT, hashesKeptMax: SMALL_KEPT }
          : {}),
      },
      ...(options.verify === false ? { unsafeSkipVerification: true } : {}),
    };
    super(world, { internals });
    this.workload = world.rng.fork('chain-workload');
    let lastAtMs = Number.NEGATIVE_INFINITY;
    this.checkers = [
      ...swimCheckers(),
      {
        name: 'chain-entries-from-their-owner',
        check: (view) => {
          if (view.now() - lastAtMs < SCAN_MS) return [];
          lastAtMs = view.now();
          return this.truth.check(
            this.up().map(([node, shoal]) => ({ name: node.name, heads: shoal.chain.heads() })),
          );
        },
      },
    ];
    this.attacker =
      options.attack === true
        ? new ChainAttacker(
            world,
            FORGERY_PERIOD_MS,
            () => this.up(),
            () => this.appending,
          )
        : undefined;
    this.attacker?.start();
    this.scheduleAppend();
  }

  override crashNode(node: SimNode): void {
    const shoal = this.nodes.get(node);
    if (shoal !== undefined) this.pastRefusals += refusals(shoal);
    super.crashNode(node);
  }

  override startLiveness(): void {
    this.appending = false;
    super.startLiveness();
  }

  override livenessReached(): boolean {
    if (!super.livenessReached() || this.chainLiveness() !== undefined) return false;
    if (!this.reported) {
      let entries = 0;
      let deltas = 0;
      let bytes = 0;
      let anchored = 0;
      let dropped = 0;
      let compactions = 0;
      for (const [, shoal] of this.up()) {
        const c = shoal.stats().dataPlane?.chain;
        entries += c?.counters['entriesReceived'] ?? 0;
        deltas += c?.counters['deltasReceived'] ?? 0;
        bytes += c?.transport?.frameBytesSent ?? 0;
        anchored += c?.counters['anchored'] ?? 0;
        dropped += c?.counters['copiesDropped'] ?? 0;
        compactions += c?.counters['fileCompactions'] ?? 0;
      }
      this.world.trace.add(
        `chains converged: ${this.up().length} nodes hold every chain; ${entries} entries in ${deltas} deltas received, ${bytes} bytes sent; ${anchored} copies anchored, ${dropped} dropped, ${compactions} chain.log compactions (current lives)`,
      );
    }
    this.reported = true;
    return true;
  }

  override describeLivenessFailure(): string {
    return super.livenessReached()
      ? (this.chainLiveness() ?? 'reached')
      : super.describeLivenessFailure();
  }

  /** Membership's heal bound, then enough pull rounds to spread every chain (log N, doubled). */
  override livenessDeadlineMs(): number {
    return super.livenessDeadlineMs() + 40 * SIM_PULL_INTERVAL_MS;
  }

  private up(): [SimNode, ShoalNode][] {
    return [...this.nodes].filter(
      ([node, shoal]) => !shoal.isClosed && !this.world.network.isPaused(node.address),
    );
  }

  private scheduleAppend(): void {
    const delayMs = 1 + this.workload.int(2 * APPEND_PERIOD_MS);
    this.world.clock.at(this.world.clock.now() + delayMs, () => {
      if (!this.appending) return;
      this.appendOnce();
      this.scheduleAppend();
    });
  }

  private appendOnce(): void {
    const up = this.up();
    if (up.length === 0) return;
    const [node, shoal] = this.workload.pick(up);
    const payload = Uint8Array.from([this.workload.int(256), this.workload.int(256)]);
    const entry = shoal.chain.append(payload);
    this.truth.record(entry.owner, entry.seq, entry.hash);
    this.world.trace.add(`${node.name} appends ${entry.seq} ${toHex(payload)}`);
  }

  private chainLiveness(): string | undefined {
    const up = this.up();
    for (const [node, shoal] of up)
      for (const [, owner] of up) {
        if (owner === shoal) continue;
        const want = owner.chain.head()?.seq ?? 0;
        const have = shoal.chain.head(owner.id)?.seq ?? 0;
        if (want !== have)
          return `${node.name} holds ${owner.name}'s chain at ${have}, its owner is at ${want}`;
      }
    const sent = this.attacker?.sentTotal() ?? 0;
    if (sent < FORGERIES_MIN) return undefined;
    const counted = this.pastRefusals + up.reduce((sum, [, s]) => sum + refusals(s), 0);
    return counted > 0
      ? undefined
      : `the attacker sent ${sent} forged entries and no node counted a refusal`;
  }
}

function refusals(shoal: ShoalNode): number {
  const refused = shoal.stats().dataPlane?.chain.refused ?? {};
  return (
    (refused['bad-signature'] ?? 0) + (refused['bad-prev-hash'] ?? 0) + (refused['not-next'] ?? 0)
  );
}

function scenario(
  name: string,
  description: string,
  options: ChainScenarioOptions,
): Scenario<SwimView> {
  return { name, description, nodesMin: 3, setup: (world) => new ChainRun(world, options) };
}

export const chain = scenario(
  'chain',
  "chains on every swim node (buildNode) under --faults with an append workload: every chain held is its owner's, and every running node holds every running member's chain after the heal",
  {},
);

export const chainForgery = scenario(
  'chain-forgery',
  'chain with an on-path attacker answering pulls with forged, altered and reordered entries: every one refused and counted',
  { attack: true },
);

export const chainPruned = scenario(
  'chain-pruned',
  `chain with ${SMALL_KEPT} entries and hashes kept per chain: copies are pruned, members behind them take chains again from the oldest entry kept (anchored), chain.log is compacted and read back anchored after crashes; every chain held is still its owner's`,
  { small: true },
);

export const chainForgeryUnsafe = scenario(
  'chain-forgery-unsafe',
  'chain-forgery with signatures unchecked: the chain-entries-from-their-owner checker must fire',
  { attack: true, verify: false },
);
