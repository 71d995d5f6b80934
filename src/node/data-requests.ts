/**
 * Small pieces a node-side data-plane service needs around its requests on the cluster port
 * (tree sync, data-tree.ts; chain replication, data-chain.ts): `AnswerWaits`, the requests
 * that wait for an answer (an id each, a timeout, an answer taken only once and only from the
 * address asked, a bound on how many wait at once), and `jitteredRounds`, a round every
 * interval, spread by the node's random stream so that members do not fall into step, and
 * `FramePort`, a protocol's messages sent and decoded on the port (bad bytes counted by code).
 */
import type { Address } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { Rng } from '../base/rng.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import { decodeWith, encodeWith, type CompiledTable } from '../codec/codec.js';
import type { Transport } from '../transport/types.js';

interface Wait<A, I> {
  readonly address: Address;
  readonly info: I;
  readonly timer: TimerHandle;
  readonly done: (answer: A | ShoalError) => void;
}

/** `I`: what the owner keeps about each request beside its address (listed by `list`). */
export class AnswerWaits<A, I = undefined> {
  private readonly waits = new Map<number, Wait<A, I>>();
  private lastId = 0;
  /** Waits that ended without an answer. */
  timeouts = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: { requestTimeoutMs: number; requestsInFlightMax: number },
    /** What the requests are about, for the errors ("tree"). */
    private readonly what: string,
  ) {}

  get size(): number {
    return this.waits.size;
  }

  /**
   * A new wait for an answer from `address`: its id, or undefined (and `done` called with
   * ERR_QUEUE_FULL) when requestsInFlightMax already wait.
   */
  open(address: Address, done: (answer: A | ShoalError) => void, info: I): number | undefined {
    const { requestTimeoutMs, requestsInFlightMax } = this.limits;
    if (this.waits.size >= requestsInFlightMax) {
      done(
        new ShoalError(
          'ERR_QUEUE_FULL',
          `${this.waits.size} ${this.what} requests are waiting for answers (requestsInFlightMax)`,
        ),
      );
      return undefined;
    }
    const id = ++this.lastId;
    const expire = (): void => {
      if (!this.waits.delete(id)) return;
      this.timeouts++;
      done(
        new ShoalError(
          'ERR_TIMEOUT',
          `${address} did not answer a ${this.what} request in ${requestTimeoutMs} ms`,
        ),
      );
    };
    const timer = this.clock.setTimer(ms(requestTimeoutMs), expire);
    this.waits.set(id, { address, info, done, timer });
    return id;
  }

  /** Hands `answer` to the wait `id` when it came from the address asked: true, else false. */
  settle(id: number, from: Address, answer: A): boolean {
    const wait = this.waits.get(id);
    if (wait?.address !== from) return false;
    this.waits.delete(id);
    wait.timer.cancel();
    wait.done(answer);
    return true;
  }

  /** Whether a wait for an answer from `address` is open. */
  waitsOn(address: Address): boolean {
    for (const wait of this.waits.values()) if (wait.address === address) return true;
    return false;
  }

  /** The waits now, by id and address (the simulator's on-path attacker reads them). */
  list(): Array<{ id: number; address: Address; info: I }> {
    return Array.from(this.waits, ([id, wait]) => ({ id, address: wait.address, info: wait.info }));
  }

  /** Ends every wait with `error` (the node closed). */
  failAll(error: ShoalError): void {
    const all = [...this.waits.values()];
    this.waits.clear();
    for (const wait of all) {
      wait.timer.cancel();
      wait.done(error);
    }
  }
}

/**
 * Calls `round` again and again, each time between 7/8 and 9/8 of `intervalMs` after the last,
 * until the returned `stop` is called.
 */
export function jitteredRounds(
  clock: Clock,
  rng: Rng,
  intervalMs: number,
  round: () => void,
): { stop(): void } {
  let timer: TimerHandle | undefined;
  let stopped = false;
  const spread = Math.max(1, Math.floor(intervalMs / 4));
  const arm = (): void => {
    const delay = intervalMs - Math.floor(spread / 2) + rng.int(spread);
    timer = clock.setTimer(ms(Math.max(1, delay)), () => {
      if (stopped) return;
      round();
      if (!stopped) arm();
    });
  };
  arm();
  return {
    stop: () => {
      stopped = true;
      timer?.cancel();
    },
  };
}

/**
 * One protocol's messages on the node's port: sent as stream frames for the cluster, decoded
 * with every refusal counted by its ERR_DECODE_* code (nothing else happens to bad bytes).
 */
export class FramePort<M extends { readonly type: string }> {
  readonly decodeErrors: Record<string, number> = {};

  constructor(
    private readonly table: CompiledTable<M>,
    private readonly clusterId: string,
    private readonly transport: Transport | undefined,
  ) {}

  send(to: Address, message: M): void {
    this.transport?.sendFrame(to, encodeWith(this.table, message, this.clusterId));
  }

  /** The message in `data`, or undefined (counted) when it does not decode. */
  decode(data: Uint8Array): M | undefined {
    const result = decodeWith(this.table, data, { clusterId: this.clusterId });
    if (result.ok) return result.message;
    this.decodeErrors[result.error.code] = (this.decodeErrors[result.error.code] ?? 0) + 1;
    return undefined;
  }
}
