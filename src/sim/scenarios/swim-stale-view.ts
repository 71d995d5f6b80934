/**
 * Scenario `swim-stale-view` (issue 11 bug 8): a node paused for longer than `deadReclaimMs`
 * comes back holding a member that died and was forgotten meanwhile as alive at its old
 * incarnation, and hands that view to the others by push-pull (its replies to the reconnect
 * push-pulls queued while it was paused, then its own overdue periodic one). Without tombstones
 * (membership/tombstones.ts) the others took the dead member back at that incarnation; checker
 * `no-resurrection` (swim-checkers.ts) catches it.
 *
 * Schedule, from the config (`staleViewSchedule`), over the `swim` scenario's nodes:
 * 1. `pauseAtMs`: P, the last node, pauses.
 * 2. `crashAtMs`, once every other node has forgotten P (`forgetMs`: detection bound +
 *    deadReclaimMs + one reaping period): V, the node before P, crashes. Nobody sends to a
 *    forgotten P, so nothing in P's inbox tells it about V.
 * 3. `resumeAtMs`, `forgetMs` later (everyone has forgotten V): P resumes, its view stale.
 * 4. `restartAtMs`, one push-pull interval later: the trace gets every node's
 *    `resurrectionsRefused`, and V restarts above its old incarnation, so the liveness phase can
 *    reach one view.
 *
 * The run's checkers treat it as having pause and crash faults (`injects`). The nemesis of
 * `--faults` runs on top and may cut the schedule short in some seeds (crash V first, say); the
 * schedule then skips what no longer applies, and stops at the heal.
 */
import { reapCheckMs } from '../../membership/state.js';
import type { MembershipConfig } from '../../membership/config.js';
import type { Scenario, SimNode, SimWorld } from '../runner.js';
import { SwimRun } from './swim.js';
import { crashDetectionBoundMs } from './swim-bounds.js';
import type { SwimView } from './swim-checkers.js';

export interface StaleViewSchedule {
  pauseAtMs: number;
  crashAtMs: number;
  resumeAtMs: number;
  restartAtMs: number;
}

/** When the scenario pauses P, crashes V, resumes P and restarts V (see the module comment). */
export function staleViewSchedule(config: MembershipConfig, nodes: number): StaleViewSchedule {
  // Every node has joined well within two join timeouts of its start.
  const pauseAtMs = 2 * config.joinTimeoutMs;
  const forgetMs =
    crashDetectionBoundMs(config, nodes) + config.deadReclaimMs + reapCheckMs(config);
  const crashAtMs = pauseAtMs + forgetMs;
  const resumeAtMs = crashAtMs + forgetMs;
  return { pauseAtMs, crashAtMs, resumeAtMs, restartAtMs: resumeAtMs + config.pushPullIntervalMs };
}

class StaleViewRun extends SwimRun {
  private healed = false;
  /** V while it is down because this run crashed it (the nemesis restarts only its own). */
  private crashed: SimNode | undefined;

  constructor(private readonly simWorld: SimWorld) {
    super(simWorld, { injects: ['pause', 'crash'] });
    const paused = simWorld.nodes.at(-1) as SimNode;
    const victim = simWorld.nodes.at(-2) as SimNode;
    const at = staleViewSchedule(this.view.config, simWorld.nodes.length);
    const { clock, network } = simWorld;
    clock.at(at.pauseAtMs, () => this.unlessHealed(() => network.pause(paused.address)));
    clock.at(at.crashAtMs, () => this.unlessHealed(() => this.crash(victim)));
    clock.at(at.resumeAtMs, () => this.unlessHealed(() => network.resume(paused.address)));
    clock.at(at.restartAtMs, () =>
      this.unlessHealed(() => {
        this.traceRefusals();
        this.restartCrashed();
      }),
    );
  }

  /** What the tombstones did with P's stale view: each running node's `resurrectionsRefused`. */
  private traceRefusals(): void {
    const counts = this.view.nodes.map(
      (r) => `${r.name}=${r.state === undefined ? '-' : r.state.counters.resurrectionsRefused}`,
    );
    this.simWorld.trace.add(`resurrections refused: ${counts.join(' ')}`);
  }

  override crashNode(node: SimNode): void {
    // The nemesis crashed the node we hold down: now it restarts it, not us (one boot only).
    if (this.crashed === node) this.crashed = undefined;
    super.crashNode(node);
  }

  override startLiveness(): void {
    // The nemesis's heal resumed every node; it does not know the crash was ours.
    this.restartCrashed();
    this.healed = true;
    super.startLiveness();
  }

  private unlessHealed(action: () => void): void {
    if (!this.healed) action();
  }

  private isUp(node: SimNode): boolean {
    return this.view.nodes.find((r) => r.address === node.address)?.up === true;
  }

  /** As the nemesis crashes a node: the network and the disk lose their part, then the run. */
  private crash(node: SimNode): void {
    if (!this.isUp(node)) return;
    this.simWorld.network.crash(node.address);
    node.storage.crash();
    this.crashNode(node);
    this.crashed = node;
  }

  private restartCrashed(): void {
    const node = this.crashed;
    this.crashed = undefined;
    // Down and still ours (the nemesis may have crashed and restarted it meanwhile).
    if (node === undefined || this.isUp(node)) return;
    this.simWorld.trace.add(`fault restart ${node.name}`);
    this.restartNode(node);
  }
}

export const swimStaleView: Scenario<SwimView> = {
  name: 'swim-stale-view',
  description:
    'swim with a node paused longer than deadReclaimMs while another dies and is forgotten: its stale view must not bring the dead member back at its old incarnation',
  nodesMin: 3,
  setup: (world) => new StaleViewRun(world),
};
