/**
 * The frame of a swim scenario that drives a data-plane workload (tree.ts; the chain and registry
 * scenarios could share it): the nodes running now (not closed, not paused), one workload step
 * every `periodMs` on average (1 ms to twice the period apart, from the scenario's own random
 * stream) until the heal, and the liveness phase extended by the workload's own condition
 * (`dataLiveness`, undefined once met), with `extraDeadlineMs` added to membership's bound.
 */
import type { Rng } from '../../base/rng.js';
import type { ShoalNode } from '../../node/node.js';
import type { SimNode, SimWorld } from '../runner.js';
import { SwimRun, type SwimOptions } from './swim.js';

export abstract class DataWorkloadRun extends SwimRun {
  /** True until the heal: the workload and any attacker stop then. */
  protected active = true;
  protected readonly workload: Rng;
  private met = false;

  constructor(
    world: SimWorld,
    options: SwimOptions,
    label: string,
    private readonly periodMs: number,
    private readonly extraDeadlineMs: number,
  ) {
    super(world, options);
    this.workload = world.rng.fork(label);
    this.scheduleStep();
  }

  /** One step of the workload, on a node picked from `running()`. */
  protected abstract step(): void;

  /** Why the workload's liveness is not met yet, or undefined once it is. */
  protected abstract dataLiveness(): string | undefined;

  /** Called once, when liveness is first reached (a trace line, say). */
  protected abstract reached(): void;

  protected running(): [SimNode, ShoalNode][] {
    return [...this.nodes].filter(
      ([node, shoal]) => !shoal.isClosed && !this.world.network.isPaused(node.address),
    );
  }

  private scheduleStep(): void {
    const at = this.world.clock.now() + 1 + this.workload.int(2 * this.periodMs);
    this.world.clock.at(at, () => {
      if (!this.active) return;
      this.step();
      this.scheduleStep();
    });
  }

  override startLiveness(): void {
    this.active = false;
    super.startLiveness();
  }

  override livenessReached(): boolean {
    if (!super.livenessReached() || this.dataLiveness() !== undefined) return false;
    if (!this.met) this.reached();
    this.met = true;
    return true;
  }

  override describeLivenessFailure(): string {
    if (!super.livenessReached()) return super.describeLivenessFailure();
    return this.dataLiveness() ?? 'reached';
  }

  override livenessDeadlineMs(): number {
    return super.livenessDeadlineMs() + this.extraDeadlineMs;
  }
}
