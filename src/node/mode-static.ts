/**
 * `static` mode: a fixed peer list, heartbeats, lowest healthy NodeId leads (election/static).
 * One ProtocolDriver runs the static core over the node's transport.
 */
import { parseAddress } from '../base/address.js';
import { assert } from '../base/assert.js';
import { staticConfig } from '../election/static/config.js';
import { staticProtocol } from '../election/static/protocol.js';
import type { StaticTypes } from '../election/static/types.js';
import { ProtocolDriver } from './driver.js';
import type { ClusterMode } from './options.js';
import { driverOnlyRuntime, type Member, type ModeRuntime, type WiringContext } from './runtime.js';

export type StaticMode = Extract<ClusterMode, { kind: 'static' }>;

export function wireStatic(
  ctx: WiringContext,
  mode: StaticMode,
): ModeRuntime & { driver: ProtocolDriver<StaticTypes> } {
  const { io, options } = ctx;
  assert(io.transport !== undefined, 'static mode needs a transport');
  const transport = io.transport;
  const peers = mode.peers.map((p) => parseAddress(p));
  const config = staticConfig(mode, new Set(peers).size);
  const driver = new ProtocolDriver<StaticTypes>({
    protocol: staticProtocol(options.clusterId),
    config: { config, selfId: ctx.id, selfAddress: transport.localAddress, peers },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('static'),
    transport,
    checkInvariants: true,
    onOutput: (effect) => {
      if (effect.kind === 'leader')
        ctx.publishLeader(
          effect.leader === undefined ? undefined : { id: effect.leader, term: effect.term },
          effect.term,
        );
    },
    onFatal: (error) => ctx.fail(error),
    ...(ctx.internals.onTrace === undefined
      ? {}
      : { onTrace: (line: string) => ctx.internals.onTrace?.('static', line) }),
  });
  driver.start();
  driver.input({ kind: 'tick', now: io.clock.now() });
  const { self, ...lifecycle } = driverOnlyRuntime(driver, {
    id: ctx.id,
    name: options.name,
    address: transport.localAddress,
    labels: options.labels,
  });
  return {
    driver,
    members: () => [
      self(),
      ...[...driver.state.heard].map(([id, r]): Member => ({
        id,
        name: r.address,
        address: r.address,
        state: r.healthy ? 'alive' : 'dead',
        incarnation: 1,
        labels: {},
      })),
    ],
    leader: () => {
      const s = driver.state;
      return driver.isStopped || s.leader === undefined
        ? undefined
        : { id: s.leader, term: s.term };
    },
    ...lifecycle,
    stats: () => ({
      protocol: {
        strangerMessages: driver.state.strangerMessages,
        staleHeartbeats: driver.state.staleHeartbeats,
      },
      decodeErrors: { ...driver.decodeErrors },
      drivers: { static: driver.stats() },
    }),
  };
}
