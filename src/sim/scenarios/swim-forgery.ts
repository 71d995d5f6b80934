/**
 * Scenarios `swim-forgery` and `swim-forgery-unsafe` (issue 12): the `swim` scenario (every node
 * built by buildNode in swim mode, the production wiring, under `--faults`) with an attacker on
 * the network (attacker.ts) sending every forgery of issue 12 throughout the safety phase. The
 * `-unsafe` variant runs the same with signature checks off (`unsafeSkipVerification`): its
 * checkers must fire, or they prove nothing.
 *
 * Checkers, on top of every swim checker (swim-checkers.ts):
 * - `beliefs-signed-by-their-members`: every member any node holds is a real node (no phantom),
 *   at an incarnation, in a state (alive or left) and with a name, address and labels that the
 *   member itself signed. The truth is each node's own record, sampled after every event (a
 *   record is signed before it can be sent); a forgery that a node accepted shows as a belief no
 *   member signed. Scanned at most every `BELIEF_SCAN_MS` of virtual time; a forged belief lasts
 *   longer than that (until its subject refutes it, and a forged `left` for good).
 * Liveness adds: every kind of forgery sent at least `KIND_SENDS_MIN` times moved one of its
 *   counters on some node (attacker.ts `FORGERY_COUNTERS`), counted over every life.
 */
import type { CounterName } from '../../membership/types.js';
import type { Checker } from '../checkers.js';
import type { Scenario, SimNode, SimWorld } from '../runner.js';
import { Attacker, FORGERY_COUNTERS, FORGERY_KINDS, targetOf, type Target } from './attacker.js';
import { swimCheckers, type SwimNodeRecord, type SwimView } from './swim-checkers.js';
import { SwimRun } from './swim.js';

/** Mean time between two forgeries during the safety phase, virtual ms. */
export const ATTACK_PERIOD_MS = 100;
/** How often the belief checker scans every node's table, virtual ms. */
export const BELIEF_SCAN_MS = 50;
/** A kind must have been sent this often before its counters are required to have moved. */
export const KIND_SENDS_MIN = 3;

/** What a member signed about itself, as a comparable key: state, incarnation, name, address, labels. */
function recordKey(
  left: boolean,
  incarnation: number,
  fields: { name: string; address: string; labels: Readonly<Record<string, string>> },
): string {
  const labels = Object.keys(fields.labels)
    .sort()
    .map((k) => `${k}=${fields.labels[k] as string}`)
    .join(',');
  return `${left ? 'left' : 'alive'}@${incarnation}|${fields.name}|${fields.address}|${labels}`;
}

class SwimForgeryRun extends SwimRun {
  private attacking = true;
  private readonly attacker: Attacker;
  /** Every record each node signed about itself (node id -> record keys), over all its lives. */
  private readonly signed = new Map<string, Set<string>>();
  /** Counters of lives that crashed (a restart starts from zero). */
  private readonly pastCounters = new Map<CounterName, number>();
  private lastScanAtMs = Number.NEGATIVE_INFINITY;

  override readonly checkers: readonly Checker<SwimView>[] = [
    ...swimCheckers(),
    {
      name: 'beliefs-signed-by-their-members',
      check: (view) => this.checkBeliefs(view),
    },
  ];

  constructor(world: SimWorld, unsafe: boolean) {
    super(world, unsafe ? { internals: { unsafeSkipVerification: true } } : {});
    this.attacker = new Attacker(world, {
      periodMs: ATTACK_PERIOD_MS,
      targets: () => this.targets(),
      active: () => this.attacking,
    });
    this.attacker.start();
  }

  override crashNode(node: SimNode): void {
    const counters = this.recordOf(node).state?.counters;
    if (counters !== undefined)
      for (const [name, value] of Object.entries(counters) as [CounterName, number][])
        this.pastCounters.set(name, (this.pastCounters.get(name) ?? 0) + value);
    super.crashNode(node);
  }

  override startLiveness(): void {
    this.attacking = false;
    super.startLiveness();
  }

  override livenessReached(): boolean {
    return super.livenessReached() && this.uncounted() === undefined;
  }

  override describeLivenessFailure(): string {
    return this.uncounted() ?? super.describeLivenessFailure();
  }

  private targets(): Target[] {
    return this.records.flatMap((r) =>
      r.up && r.state !== undefined && r.state.phase === 'running'
        ? [targetOf(r.name, r.address, r.state)]
        : [],
    );
  }

  /** Records every node's own current record (cheap: one per node per event). */
  private sampleOwnRecords(): void {
    for (const r of this.records) {
      if (!r.up || r.state === undefined) continue;
      const me = r.state.members.at(0);
      const key = recordKey(me.state === 'left', me.incarnation, me);
      let keys = this.signed.get(r.id);
      if (keys === undefined) this.signed.set(r.id, (keys = new Set()));
      keys.add(key);
    }
  }

  private checkBeliefs(view: SwimView): string[] {
    this.sampleOwnRecords();
    if (view.now() - this.lastScanAtMs < BELIEF_SCAN_MS) return [];
    this.lastScanAtMs = view.now();
    for (const observer of this.records) {
      if (!observer.up || observer.state === undefined) continue;
      const found = this.forgedBelief(view, observer);
      if (found !== undefined) return [found];
    }
    return [];
  }

  private forgedBelief(view: SwimView, observer: SwimNodeRecord): string | undefined {
    const state = observer.state;
    if (state === undefined) return undefined;
    for (let slot = 1; slot < state.members.size; slot++) {
      const m = state.members.at(slot);
      const subject = view.byId.get(m.id);
      if (subject === undefined)
        return `${observer.name} holds ${m.state} member ${m.id.slice(0, 8)} (${m.name} at ${m.address}), which no node is: a phantom`;
      const key = recordKey(m.state === 'left', m.incarnation, m);
      if (this.signed.get(m.id)?.has(key) !== true)
        return `${observer.name} holds ${subject.name} as ${m.state} ${key}, a record ${subject.name} never signed`;
    }
    return undefined;
  }

  /** The first forgery kind sent often enough whose counters moved nowhere, as a message. */
  private uncounted(): string | undefined {
    const total = (name: CounterName): number =>
      (this.pastCounters.get(name) ?? 0) +
      this.records.reduce((sum, r) => sum + (r.up ? (r.state?.counters[name] ?? 0) : 0), 0);
    for (const kind of FORGERY_KINDS) {
      const sent = this.attacker.sent.get(kind) ?? 0;
      const counters = FORGERY_COUNTERS[kind];
      if (sent < KIND_SENDS_MIN || counters.length === 0) continue;
      if (counters.some((name) => total(name) > 0)) continue;
      return `the attacker sent ${sent} ${kind} forgeries and no node counted one (${counters.join(' or ')})`;
    }
    return undefined;
  }
}

export const swimForgery: Scenario<SwimView> = {
  name: 'swim-forgery',
  description:
    'swim with an attacker sending every forgery of issue 12 (no private key of any member); no node may believe a record its member did not sign, and every forgery is counted',
  nodesMin: 3,
  setup: (world) => new SwimForgeryRun(world, false),
};

export const swimForgeryUnsafe: Scenario<SwimView> = {
  name: 'swim-forgery-unsafe',
  description:
    'swim-forgery with signature checks off: the checkers must catch the forgeries getting through',
  nodesMin: 3,
  setup: (world) => new SwimForgeryRun(world, true),
};
