/**
 * Scenarios `tree`, `tree-forgery` and `tree-forgery-unsafe` (issue 16, Merkle sync of shared
 * trees): the `swim` scenario (every node built by buildNode, so each runs the data plane and its
 * tree sync on its one port) with a workload: every `WRITE_PERIOD_MS` on average a random up
 * node sets (or, one time in five, deletes) one of `KEYS` keys of tree `sim` through
 * `node.trees`. Faults come from `--faults`; trees live in memory, so a crashed node restarts
 * empty and takes the tree back from its peers.
 *
 * Checker `tree-entries-from-their-writer` (every `SCAN_MS`): every entry a running node holds is
 * one a node wrote through the API: same key, stamp, writer and leaf hash (value or tombstone).
 * A forged or altered entry merged anywhere shows here. Liveness adds: after the heal every
 * running node holds the tree at one root (`trees converged`), and when the attacker sent
 * forgeries, some node counted a refusal.
 *
 * - `tree-forgery`: an attacker pushes entries to a running node from another member's address:
 *   `forged-entry` (a member named as writer, signed with the attacker's key), `altered-entry`
 *   (an entry some node holds, its value changed, its signature kept), `stranger-entry` (signed
 *   by the attacker as itself, a writer no membership record names). Stamped ahead, so each would
 *   win if it were merged. Every one must be refused and counted.
 * - `tree-forgery-unsafe`: the same with signatures unchecked; the checker must fire.
 * - `tree-no-sync-unsafe`: `tree` with no sync round: the liveness check (one root after the
 *   heal) must fail.
 */
import { toHex } from '../../base/hex.js';
import type { Rng } from '../../base/rng.js';
import { encodeWith } from '../../codec/codec.js';
import type { SigningIdentity } from '../../identity/member-crypto.js';
import type { ShoalNode } from '../../node/node.js';
import type { NodeInternals } from '../../node/runtime.js';
import type { TreeEntryInfo } from '../../node/data-tree.js';
import { treeMessages } from '../../tree/messages.js';
import { signedEntryBytes, treeLimits, type TreeEntry } from '../../tree/shared.js';
import type { Checker } from '../checkers.js';
import type { Scenario, SimNode, SimWorld } from '../runner.js';
import { SIM_CLUSTER_ID, SIM_WALL_CLOCK_EPOCH_MS, simIdentityFrom } from './sim-node.js';
import { DataWorkloadRun } from './data-workload.js';
import { swimCheckers, type SwimView } from './swim-checkers.js';

/** The one tree the workload writes. */
export const TREE_NAME = 'sim';
/** Keys the workload writes (few, so that writes collide and deletes hit). */
export const KEYS = 24;
/** Mean time between two writes of the workload, virtual ms. */
export const WRITE_PERIOD_MS = 40;
/** How often the checker scans every node, virtual ms. */
export const SCAN_MS = 25;
/** The nodes' sync interval in the simulator (production: 1000 ms). */
export const SIM_SYNC_INTERVAL_MS = 100;
/** `tree-no-sync-unsafe`'s sync interval: longer than any run, so no round ever comes. */
const NO_SYNC_INTERVAL_MS = 1_000_000_000;
/** Mean time between two forgeries, virtual ms. */
export const TREE_FORGERY_PERIOD_MS = 50;
/** Forgeries sent before the liveness phase requires a node to have counted one. */
export const TREE_FORGERIES_MIN = 3;

export const TREE_FORGERY_KINDS = ['forged-entry', 'altered-entry', 'stranger-entry'] as const;
type ForgeryKind = (typeof TREE_FORGERY_KINDS)[number];

export interface TreeScenarioOptions {
  attack?: boolean;
  /** Check entry signatures. @defaultValue true */
  verify?: boolean;
  /** Run anti-entropy (false: the liveness check's broken twin, no sync round ever comes). @defaultValue true */
  sync?: boolean;
}

const stampOf = (writer: string, key: string, hlc: { wallMs: number; logical: number }) =>
  `${writer}|${hlc.wallMs}.${hlc.logical}|${key}`;

/** Every write made through the API: its leaf hash by (writer, stamp, key). */
export class TreeWrites {
  private readonly written = new Map<string, string>();

  record(e: TreeEntryInfo): void {
    this.written.set(stampOf(e.writer, e.key, e.hlc), e.leafHash);
  }

  /** Findings: an entry held that no node wrote as held. */
  check(holders: ReadonlyArray<{ name: string; shoal: ShoalNode }>): string[] {
    const out: string[] = [];
    for (const { name, shoal } of holders) {
      const tree = shoal.internals.trees?.tree(TREE_NAME);
      if (tree === undefined) continue;
      for (const held of tree.entries()) {
        const e = held.entry;
        const truth = this.written.get(stampOf(e.writer, e.key, e.hlc));
        if (truth !== toHex(held.leafHash))
          out.push(
            `${name} holds ${e.key} stamped ${e.hlc.wallMs}.${e.hlc.logical} by ${e.writer.slice(0, 8)}, ${truth === undefined ? 'a write no node made' : 'with another value than that write'} (a forged or altered entry was merged)`,
          );
      }
    }
    return out;
  }
}

class TreeAttacker {
  readonly sent = new Map<ForgeryKind, number>();
  private readonly rng: Rng;
  private readonly identity: SigningIdentity;
  private readonly table = treeMessages(treeLimits());

  constructor(
    private readonly world: SimWorld,
    private readonly up: () => ReadonlyArray<[SimNode, ShoalNode]>,
    private readonly active: () => boolean,
  ) {
    this.rng = world.rng.fork('tree-attacker');
    this.identity = simIdentityFrom(this.rng.fork('key'));
  }

  sentTotal(): number {
    return [...this.sent.values()].reduce((a, b) => a + b, 0);
  }

  start(): void {
    const delayMs = 1 + this.rng.int(2 * TREE_FORGERY_PERIOD_MS);
    this.world.clock.at(this.world.clock.now() + delayMs, () => {
      if (!this.active()) return;
      this.forgeOnce();
      this.start();
    });
  }

  private sign(entry: Omit<TreeEntry, 'signature'>): TreeEntry {
    return {
      ...entry,
      signature: this.identity.sign(signedEntryBytes(SIM_CLUSTER_ID, TREE_NAME, entry)),
    };
  }

  private forgeOnce(): void {
    const up = this.up();
    if (up.length < 2) return;
    const [victim, victimShoal] = this.rng.pick(up);
    const others = up.filter(([n]) => n !== victim);
    const [spoofed, writerShoal] = this.rng.pick(others);
    const key = `k${this.rng.int(KEYS)}`;
    const hlc = { wallMs: SIM_WALL_CLOCK_EPOCH_MS + this.world.clock.now() + 5, logical: 0 };
    const value = Uint8Array.from([0x66, this.rng.int(256)]);
    let kind = this.rng.pick(TREE_FORGERY_KINDS);
    const held = [...(victimShoal.internals.trees?.tree(TREE_NAME)?.entries() ?? [])];
    let entry: TreeEntry;
    if (kind === 'altered-entry' && held.length > 0) {
      const real = this.rng.pick(held).entry;
      entry = { ...real, deleted: false, value };
    } else if (kind === 'stranger-entry')
      entry = this.sign({ key, value, deleted: false, hlc, writer: this.identity.nodeId });
    else {
      kind = 'forged-entry';
      entry = this.sign({ key, value, deleted: false, hlc, writer: writerShoal.id });
    }
    this.sent.set(kind, (this.sent.get(kind) ?? 0) + 1);
    this.world.trace.add(`tree attacker ${kind} to ${victim.name} key ${entry.key}`);
    const bytes = encodeWith(
      this.table,
      { type: 'data-tree', body: { kind: 'push', id: 0, name: TREE_NAME, entries: [entry] } },
      SIM_CLUSTER_ID,
    );
    this.world.network.send(spoofed.address, victim.address, 'stream', bytes);
  }
}

/** Refusals of forged entries a node counted. */
function forgeryRefusals(shoal: ShoalNode): number {
  const refused = shoal.stats().dataPlane?.tree.refused ?? {};
  return (refused['bad-signature'] ?? 0) + (refused['unknown-writer'] ?? 0);
}

class TreeRun extends DataWorkloadRun {
  private readonly writes = new TreeWrites();
  private readonly attacker: TreeAttacker | undefined;
  private refusalsOfPastLives = 0;

  override readonly checkers: readonly Checker<SwimView>[];

  constructor(world: SimWorld, options: TreeScenarioOptions) {
    const internals: NodeInternals = {
      trees: {
        syncIntervalMs: options.sync === false ? NO_SYNC_INTERVAL_MS : SIM_SYNC_INTERVAL_MS,
        requestTimeoutMs: 1000,
      },
      ...(options.verify === false ? { unsafeSkipVerification: true } : {}),
    };
    // Membership's heal bound, then sync rounds enough to spread the tree (log N, doubled).
    super(world, { internals }, 'tree-workload', WRITE_PERIOD_MS, 40 * SIM_SYNC_INTERVAL_MS);
    let scannedAtMs = Number.NEGATIVE_INFINITY;
    const scan: Checker<SwimView> = {
      name: 'tree-entries-from-their-writer',
      check: (view) => {
        if (view.now() - scannedAtMs < SCAN_MS) return [];
        scannedAtMs = view.now();
        return this.writes.check(
          this.running().map(([node, shoal]) => ({ name: node.name, shoal })),
        );
      },
    };
    this.checkers = [...swimCheckers(), scan];
    this.attacker = options.attack
      ? new TreeAttacker(
          world,
          () => this.running(),
          () => this.active,
        )
      : undefined;
    this.attacker?.start();
  }

  override crashNode(node: SimNode): void {
    const shoal = this.nodes.get(node);
    if (shoal !== undefined) this.refusalsOfPastLives += forgeryRefusals(shoal);
    super.crashNode(node);
  }

  protected reached(): void {
    const up = this.running();
    const taken = up.reduce(
      (sum, [, s]) => sum + (s.stats().dataPlane?.tree.counters['entriesTaken'] ?? 0),
      0,
    );
    const root = up[0]?.[1].trees.get(TREE_NAME)?.info().root ?? '';
    this.world.trace.add(
      `trees converged: ${up.length} nodes hold ${TREE_NAME} at root ${root.slice(0, 12)}; ${taken} entries taken (current lives)`,
    );
  }

  /** A write through `node.trees` on a running node: a set, or one time in five a delete. */
  protected step(): void {
    const up = this.running();
    if (up.length === 0) return;
    const [node, shoal] = this.workload.pick(up);
    const tree = shoal.trees.open(TREE_NAME);
    const key = `k${this.workload.int(KEYS)}`;
    if (this.workload.chance(1, 5)) {
      tree.delete(key);
      this.world.trace.add(`${node.name} deletes ${key}`);
    } else {
      const value = toHex(Uint8Array.from([this.workload.int(256), this.workload.int(256)]));
      tree.set(key, value);
      this.world.trace.add(`${node.name} sets ${key} = ${value}`);
    }
    this.writes.record(tree.entry(key) as TreeEntryInfo);
  }

  protected dataLiveness(): string | undefined {
    const up = this.running();
    const roots = new Map<string, string>();
    for (const [node, shoal] of up)
      roots.set(node.name, shoal.trees.get(TREE_NAME)?.info().root ?? 'no tree');
    const distinct = new Set(roots.values());
    if (distinct.size > 1)
      return `the running nodes hold tree ${TREE_NAME} at ${distinct.size} roots: ${[...roots].map(([n, r]) => `${n} ${r.slice(0, 8)}`).join(', ')}`;
    const sent = this.attacker?.sentTotal() ?? 0;
    if (sent < TREE_FORGERIES_MIN) return undefined;
    const counted = this.refusalsOfPastLives + up.reduce((s, [, x]) => s + forgeryRefusals(x), 0);
    return counted > 0
      ? undefined
      : `the attacker pushed ${sent} forged entries and no node counted a refusal`;
  }
}

function scenario(
  name: string,
  description: string,
  options: TreeScenarioOptions,
): Scenario<SwimView> {
  return { name, description, nodesMin: 3, setup: (world) => new TreeRun(world, options) };
}

export const tree = scenario(
  'tree',
  'shared Merkle trees on every swim node (buildNode) under --faults with a set/delete workload: every entry held is one a node wrote, and every running node holds the tree at one root after the heal',
  {},
);

export const treeForgery = scenario(
  'tree-forgery',
  'tree with an attacker pushing forged, altered and unknown-writer entries from members addresses: every one refused and counted',
  { attack: true },
);

export const treeForgeryUnsafe = scenario(
  'tree-forgery-unsafe',
  'tree-forgery with signatures unchecked: the tree-entries-from-their-writer checker must fire',
  { attack: true, verify: false },
);

export const treeNoSyncUnsafe = scenario(
  'tree-no-sync-unsafe',
  'tree with anti-entropy off: the one-root liveness check must fail',
  { sync: false },
);
