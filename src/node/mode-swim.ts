/**
 * `swim` mode: SWIM + Lifeguard membership (membership/) and the sticky-HRW leader
 * (election/swim) whose claims travel as membership labels, plus the persisted peer cache.
 */
import { parseAddress, type Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import type { Labels } from '../codec/messages.js';
import { SwimLeaderDriver } from '../election/swim/driver.js';
import { membershipConfig, type ProfileName } from '../membership/config.js';
import { MembershipDriver, readPersistedIncarnation } from '../membership/driver.js';
import { createState } from '../membership/state.js';
import type { MemberView } from '../membership/types.js';
import type { ClusterMode } from './options.js';
import { RESERVED_LABEL_PREFIX } from './options.js';
import { PeerCache } from './peer-cache.js';
import type { Member, ModeRuntime, WiringContext } from './runtime.js';

export type SwimMode = Extract<ClusterMode, { kind: 'swim' }>;

const PROFILE_NAMES: Record<'lan' | 'wan' | 'local', ProfileName> = { lan: 'LAN', wan: 'WAN', local: 'LOCAL' };

/** The user's labels of a view: Shoal's own (`shoal.*`, e.g. leader claims) stay internal. */
function userLabels(labels: Labels): Labels {
  let out: Record<string, string> | undefined;
  for (const key of Object.keys(labels)) {
    if (!key.startsWith(RESERVED_LABEL_PREFIX)) continue;
    out ??= { ...labels };
    delete out[key];
  }
  return out ?? labels;
}

export function toMember(view: MemberView): Member {
  return { id: view.id, name: view.name, address: view.address, state: view.state, incarnation: view.incarnation, labels: userLabels(view.labels) };
}

export function wireSwim(ctx: WiringContext, mode: SwimMode): ModeRuntime & { membership: MembershipDriver; swimLeader: SwimLeaderDriver } {
  const { io, options } = ctx;
  assert(io.transport !== undefined, 'swim mode needs a transport');
  const transport = io.transport;
  const base = membershipConfig(PROFILE_NAMES[options.profile], ctx.internals.membership);
  const config = { ...base, packetEnvelopeBytes: base.packetEnvelopeBytes + (transport.packetOverheadBytes ?? 0) };
  const self = { id: ctx.id, name: options.name, address: transport.localAddress, labels: options.labels };
  const state = createState(config, self, readPersistedIncarnation(io.storage), io.clock.now());
  const peerCache = new PeerCache(io.storage, transport.localAddress);
  const late: { swimLeader?: SwimLeaderDriver } = {};
  const membership = new MembershipDriver({
    state, clock: io.clock, transport, storage: io.storage, clusterId: options.clusterId, rng: io.rng.fork('membership'),
    onEvent: (event) => {
      if (event.type === 'epoch') peerCache.schedule(() => membership.members());
      ctx.publishMember(event);
      late.swimLeader?.observe(event);
    },
  });
  const swimLeader = new SwimLeaderDriver({
    config: { stabilizationMs: mode.stabilizationMs ?? 2 * config.probeIntervalMs, requireQuorum: mode.requireQuorum, minClusterSize: mode.minClusterSize },
    selfId: ctx.id, clock: io.clock, storage: io.storage, membership,
    onLeader: (leader, term) => ctx.publishLeader(leader, term),
  }, options.labels);
  late.swimLeader = swimLeader;
  const stopLoopMonitor = io.loopDelay?.((delayMs) => membership.reportLoopDelay(delayMs));
  swimLeader.poke();
  const seeds: Address[] = [...new Set([...mode.seeds.map((s) => parseAddress(s)), ...peerCache.load()])];
  // Seeds outside the live view are retried by the membership core itself (`retrySeeds`).
  void membership.start(seeds);
  return {
    membership, swimLeader,
    members: () => membership.members().map(toMember),
    leader: () => swimLeader.leader(),
    epoch: () => membership.state.epoch,
    join: (addresses) => membership.join(addresses),
    setLabels: (labels) => membership.updateLabels(swimLeader.withClaim(labels)),
    leave: () => membership.leave(),
    close: () => {
      peerCache.flush();
      stopLoopMonitor?.();
      swimLeader.stop();
      membership.stop();
      return Promise.resolve();
    },
    halt: () => {
      stopLoopMonitor?.();
      swimLeader.stop();
      membership.stop();
    },
    stats: () => ({
      protocol: { ...membership.state.counters, awareness: membership.state.awareness, epoch: membership.state.epoch, peerCacheWriteErrors: peerCache.writeErrors },
      decodeErrors: { ...membership.decodeErrors },
    }),
  };
}
