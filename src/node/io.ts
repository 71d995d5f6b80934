/**
 * What a node runs on: its clock, transport, storage and random stream (`NodeIo`). `buildNode`
 * (node.ts) wires a mode's protocols to whatever it is given; production gives it the real
 * ones (`productionIo`), the simulator its twins (a NodeClock, a MemoryTransport on the
 * SimNetwork, a SimStorage, a forked Rng). One wiring, I/O swapped underneath (TigerBeetle).
 */
import { randomBytes } from 'node:crypto';
import { parseAddress } from '../base/address.js';
import { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import { SystemClock } from '../base/system-clock.js';
import type { Clock } from '../base/time.js';
import type { NodeId } from '../identity/node-id.js';
import { EncryptedTransport } from '../transport/encrypted.js';
import { Keyring } from '../transport/keyring.js';
import { NetTransport, type NetTransportOptions } from '../transport/net.js';
import type { Transport } from '../transport/types.js';
import { FsStorage } from './fs-storage.js';
import { startLoopDelayMonitor } from './loop-delay.js';
import type { ResolvedNodeOptions } from './options.js';

/** Subscribes to the process's event-loop delay samples; returns a function that unsubscribes. */
export type LoopDelaySource = (report: (delayMs: number) => void) => () => void;

export interface NodeIo {
  clock: Clock;
  /** Absent only in `single` mode, which has no peers to talk to. */
  transport?: Transport | undefined;
  storage: Storage;
  /** The node's own stream; each protocol forks its own from it. */
  rng: Rng;
  /** The event loop's delay, fed to Lifeguard's local health; absent where there is no real loop (the simulator). */
  loopDelay?: LoopDelaySource;
}

/**
 * A per-process seed: the NodeId's first 48 bits plus 48 bits of OS entropy, so two lives of one
 * node never draw the same stream. (The start time alone repeated: the clock is monotonic from
 * process start, so a restart that booted in the same millisecond redrew its last life's
 * election timeouts, probe order and ids.)
 */
export function seedFrom(id: NodeId, entropy48: number): number {
  return (Number.parseInt(id.slice(0, 12), 16) + entropy48) % Number.MAX_SAFE_INTEGER;
}

async function bindTransport(
  options: ResolvedNodeOptions,
  limits: NetTransportOptions,
): Promise<Transport> {
  const net = await NetTransport.bind(options.bind, {
    ...limits,
    ...(options.advertise === undefined
      ? {}
      : { advertiseAddress: parseAddress(options.advertise) }),
  });
  if (options.keyring === undefined) return net;
  try {
    return new EncryptedTransport(net, Keyring.parse(options.keyring));
  } catch (err) {
    await net.close();
    throw err;
  }
}

/**
 * The real I/O for `options`, keeping whatever `given` already supplies (a test's clock, say);
 * `limits` overrides the transport's stream limits (tests).
 */
export async function productionIo(
  options: ResolvedNodeOptions,
  id: NodeId,
  given: Partial<NodeIo> = {},
  limits: NetTransportOptions = {},
): Promise<NodeIo> {
  const clock = given.clock ?? new SystemClock();
  return {
    clock,
    transport:
      given.transport ??
      // A worker talks gRPC to its servers only: no cluster transport.
      (options.mode.kind === 'single' || options.mode.kind === 'worker'
        ? undefined
        : await bindTransport(options, limits)),
    storage:
      given.storage ?? new FsStorage(options.dataDir, { fsyncDelayMs: options.fsyncDelayMs }),
    rng: given.rng ?? new Rng(seedFrom(id, randomBytes(6).readUIntBE(0, 6))),
    loopDelay: given.loopDelay ?? startLoopDelayMonitor,
  };
}
