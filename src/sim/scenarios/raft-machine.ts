/**
 * The simulator's state machine for Raft runs, and the observations the checkers read.
 *
 * `CheckerMachine` is a small replicated state machine (a RaftApplication): commands are
 * `client:seq:payload`; it keeps a hash chain over the commands it applied, their count, and a
 * session table (thesis §6.3: the highest seq applied per client, so a retried command applies
 * once). Its snapshot is that state as JSON. Every apply is reported to `RaftObservations`,
 * which holds, for the whole run, what each index applied as (State Machine Safety is checked
 * there, at the moment of the apply), and what each node life applied in order.
 */
import type { Address } from '../../base/address.js';
import { logIndex, type LogIndex } from '../../base/units.js';
import type { RaftApplication, RaftOutcome } from '../../raft/application.js';
import type { Entry, SnapshotMeta } from '../../raft/log-types.js';

/** FNV-1a over `bytes`, continuing from `seed`. */
export function fnv(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let hash = seed;
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193);
  return hash >>> 0;
}

/** An entry's identity for the checkers: term, kind and a digest of the data. */
export function entryDigest(entry: Entry): string {
  return `${entry.term}/${entry.kind}/${entry.data.length}/${fnv(entry.data)}`;
}

/** What the whole run saw applied, and the violations found while applying. */
export class RaftObservations {
  /** index -> what was applied there, by the first node that applied it. */
  readonly appliedAt = new Map<number, { digest: string; by: Address }>();
  readonly violations: string[] = [];
  /** Commands applied by any node (client:seq), to tell the workload what committed. */
  readonly commandsApplied = new Set<string>();
  /** Each address's highest applied index in its current life. */
  readonly appliedBy = new Map<Address, number>();

  apply(address: Address, entry: Entry): void {
    const digest = entryDigest(entry);
    const known = this.appliedAt.get(entry.index);
    if (known === undefined) this.appliedAt.set(entry.index, { digest, by: address });
    else if (known.digest !== digest)
      this.violations.push(
        `state machine safety: ${address} applied ${digest} at ${entry.index}, ${known.by} applied ${known.digest} (§5.3)`,
      );
  }
}

interface MachineState {
  index: number;
  hash: number;
  commands: number;
  duplicates: number;
  sessions: Record<string, number>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One node life's state machine. */
export class CheckerMachine implements RaftApplication {
  private state: MachineState = {
    index: 0,
    hash: 0x811c9dc5,
    commands: 0,
    duplicates: 0,
    sessions: {},
  };

  constructor(
    private readonly address: Address,
    private readonly observations: RaftObservations,
    private readonly onOutcome: (outcome: RaftOutcome) => void,
  ) {
    observations.appliedBy.set(address, 0);
  }

  get appliedIndex(): LogIndex {
    return logIndex(this.state.index);
  }

  apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.state.index + 1)
        this.observations.violations.push(
          `${this.address} applied ${entry.index} right after ${this.state.index}: not in order, or twice in one life`,
        );
      this.state.index = entry.index;
      this.observations.apply(this.address, entry);
      if (entry.kind === 'normal') this.applyCommand(entry.data);
    }
    this.observations.appliedBy.set(this.address, this.state.index);
  }

  private applyCommand(data: Uint8Array): void {
    const text = decoder.decode(data);
    const [client = '', seqText = '0'] = text.split(':');
    const seq = Number(seqText);
    // Thesis §6.3: a command whose session already applied this seq is a retry: skipped.
    if ((this.state.sessions[client] ?? 0) >= seq) {
      this.state.duplicates++;
      return;
    }
    this.state.sessions[client] = seq;
    this.state.hash = fnv(data, this.state.hash);
    this.state.commands++;
    this.observations.commandsApplied.add(`${client}:${seq}`);
  }

  restore(meta: SnapshotMeta, data: Uint8Array): void {
    const restored = JSON.parse(decoder.decode(data)) as MachineState;
    if (restored.index !== meta.index)
      this.observations.violations.push(
        `${this.address} restored a snapshot of index ${restored.index} labelled ${meta.index}`,
      );
    this.state = restored;
    this.observations.appliedBy.set(this.address, this.state.index);
  }

  snapshot(index: LogIndex): Uint8Array {
    if (index !== this.state.index)
      this.observations.violations.push(
        `${this.address} asked to snapshot at ${index} with ${this.state.index} applied`,
      );
    return encoder.encode(JSON.stringify(this.state));
  }

  outcome(outcome: RaftOutcome): void {
    this.onOutcome(outcome);
  }
}
