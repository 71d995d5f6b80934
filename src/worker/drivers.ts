/**
 * The one way to build the worker tier's two cores on the generic driver (src/node/driver.ts):
 * production (heartbeats.ts, worker.ts) and the simulator's worker-tier scenarios call these, so
 * the cores run with the same options everywhere and no simulator file builds a driver by hand.
 */
import type { Rng } from '../base/rng.js';
import type { Storage } from '../base/storage.js';
import type { Clock } from '../base/time.js';
import { ProtocolDriver, type OutputOf } from '../node/driver.js';
import { CLIENT_PROTOCOL } from './core/client/protocol.js';
import type { ClientInit, ClientTypes } from './core/client/types.js';
import { LIVENESS_PROTOCOL } from './core/liveness/protocol.js';
import type { LivenessInit, LivenessTypes } from './core/liveness/types.js';

export interface DriverIo {
  clock: Clock;
  rng: Rng;
  storage: Storage;
  checkInvariants?: boolean;
  onTrace?(line: string): void;
}

export function livenessDriver(
  init: LivenessInit,
  io: DriverIo,
  onOutput: (effect: OutputOf<LivenessTypes>) => void,
): ProtocolDriver<LivenessTypes> {
  return new ProtocolDriver<LivenessTypes>({
    protocol: LIVENESS_PROTOCOL,
    config: init,
    clock: io.clock,
    storage: io.storage,
    rng: io.rng,
    onOutput,
    checkInvariants: io.checkInvariants ?? false,
    ...(io.onTrace === undefined ? {} : { onTrace: io.onTrace }),
  });
}

export function clientDriver(
  init: ClientInit,
  io: DriverIo,
  onOutput: (effect: OutputOf<ClientTypes>) => void,
): ProtocolDriver<ClientTypes> {
  return new ProtocolDriver<ClientTypes>({
    protocol: CLIENT_PROTOCOL,
    config: init,
    clock: io.clock,
    storage: io.storage,
    rng: io.rng,
    onOutput,
    // Cheap (no walk over other workers): on in production too.
    checkInvariants: io.checkInvariants ?? true,
    ...(io.onTrace === undefined ? {} : { onTrace: io.onTrace }),
  });
}
