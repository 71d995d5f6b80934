/**
 * Real-socket clusters for the membership benchmarks: N `createNode` swim nodes in this process
 * on 127.0.0.1 port 0, each with its own temp data dir, plus an event log fed by
 * `node.on('member')` with `performance.now()` timestamps. `close()` releases every node and
 * removes every temp dir; benches call it in `finally`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MembershipConfig } from '../src/membership/config.js';
import type { MemberEvent } from '../src/node/events.js';
import { createNode, type ShoalNode } from '../src/node/node.js';
import type { TransportStats } from '../src/transport/types.js';

export interface NodeSpec {
  name: string;
  seeds: readonly string[];
  profile?: 'lan' | 'wan' | 'local';
  keyring?: string[];
  membership?: Partial<MembershipConfig>;
}

export interface LoggedEvent {
  /** Index of the observing node in `Cluster.nodes`. */
  observer: number;
  type: MemberEvent['type'];
  targetId: string;
  targetName: string;
  atMs: number;
}

/** Per-second traffic counters summed over some nodes (payload bytes, as memberlist's harness counts them). */
export interface Traffic {
  packetsSent: number;
  packetBytesSent: number;
  framesSent: number;
  frameBytesSent: number;
  packetsReceived: number;
  framesReceived: number;
}

export function makeTempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `shoal-bench-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface ClusterOptions {
  /**
   * Event types kept in `events` (all when absent). A bench of a thousand nodes sees about N²/2
   * `joined` events while growing; keeping only the types it counts bounds the log's memory.
   */
  loggedTypes?: readonly MemberEvent['type'][];
}

export class Cluster {
  readonly nodes: ShoalNode[] = [];
  readonly events: LoggedEvent[] = [];
  /** Called on every event, logged or not (benches use it to stamp completion times). */
  onEvent: ((event: LoggedEvent) => void) | undefined;
  private readonly dirs: string[] = [];
  private readonly loggedTypes: ReadonlySet<MemberEvent['type']> | undefined;

  constructor(options: ClusterOptions = {}) {
    this.loggedTypes = options.loggedTypes === undefined ? undefined : new Set(options.loggedTypes);
  }

  async add(spec: NodeSpec): Promise<ShoalNode> {
    const dataDir = makeTempDir(spec.name);
    this.dirs.push(dataDir);
    const options = {
      name: spec.name,
      dataDir,
      bind: '127.0.0.1:0',
      clusterId: 'bench',
      profile: spec.profile ?? 'lan',
      mode: { kind: 'swim' as const, seeds: [...spec.seeds] },
      ...(spec.keyring === undefined ? {} : { keyring: spec.keyring }),
    };
    const node = await createNode(
      options,
      {},
      spec.membership === undefined ? {} : { membership: spec.membership },
    );
    const observer = this.nodes.length;
    this.nodes.push(node);
    node.on('member', (e) => {
      const logged = {
        observer,
        type: e.type,
        targetId: e.member.id,
        targetName: e.member.name,
        atMs: performance.now(),
      };
      if (this.loggedTypes?.has(e.type) ?? true) this.events.push(logged);
      this.onEvent?.(logged);
    });
    return node;
  }

  /** Closes every node (without leaving) and removes every temp dir. Safe to call twice. */
  async close(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.close()));
    for (const dir of this.dirs.splice(0)) removeDir(dir);
  }
}

/** Members this node currently holds alive, itself included. */
export function aliveCount(node: ShoalNode): number {
  let alive = 0;
  for (const m of node.members()) if (m.state === 'alive') alive++;
  return alive;
}

/** Polls `check` every `intervalMs` until it holds (true) or `timeoutMs` passes (false). */
export async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return true;
}

/** Waits until every node sees `expected` alive members; false if `timeoutMs` passed first. */
export function waitConverged(
  nodes: readonly ShoalNode[],
  expected: number,
  timeoutMs: number,
): Promise<boolean> {
  return waitUntil(
    () => nodes.every((n) => n.isClosed || aliveCount(n) === expected),
    timeoutMs,
    50,
  );
}

function statsOf(node: ShoalNode): TransportStats | undefined {
  return node.stats().transport;
}

/** Transport counters summed over `nodes` (closed nodes count what they sent before closing). */
export function sumTraffic(nodes: readonly ShoalNode[]): Traffic {
  const total: Traffic = {
    packetsSent: 0,
    packetBytesSent: 0,
    framesSent: 0,
    frameBytesSent: 0,
    packetsReceived: 0,
    framesReceived: 0,
  };
  for (const node of nodes) {
    const s = statsOf(node);
    if (s === undefined) continue;
    total.packetsSent += s.packetsSent;
    total.packetBytesSent += s.packetBytesSent;
    total.framesSent += s.framesSent;
    total.frameBytesSent += s.frameBytesSent;
    total.packetsReceived += s.packetsReceived;
    total.framesReceived += s.framesReceived;
  }
  return total;
}

/** `after - before`, divided by `members * seconds`: traffic per member per second. */
export function trafficRate(
  before: Traffic,
  after: Traffic,
  members: number,
  seconds: number,
): Traffic {
  const per = (key: keyof Traffic): number => (after[key] - before[key]) / members / seconds;
  return {
    packetsSent: per('packetsSent'),
    packetBytesSent: per('packetBytesSent'),
    framesSent: per('framesSent'),
    frameBytesSent: per('frameBytesSent'),
    packetsReceived: per('packetsReceived'),
    framesReceived: per('framesReceived'),
  };
}

/** Suspect and dead events about any member in `aliveIds` logged from `sinceMs` (until `untilMs`): false positives. */
export function falsePositives(
  events: readonly LoggedEvent[],
  aliveIds: ReadonlySet<string>,
  sinceMs: number,
  untilMs = Number.POSITIVE_INFINITY,
): { suspect: number; dead: number } {
  let suspect = 0;
  let dead = 0;
  for (const e of events) {
    if (e.atMs < sinceMs || e.atMs >= untilMs || !aliveIds.has(e.targetId)) continue;
    if (e.type === 'suspect') suspect++;
    if (e.type === 'dead') dead++;
  }
  return { suspect, dead };
}
