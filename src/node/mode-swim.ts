/**
 * `swim` mode: SWIM + Lifeguard membership (membership/) and the sticky-HRW leader
 * (election/swim), each a core on its own ProtocolDriver, plus the persisted peer cache.
 *
 * The leader reads the membership: every membership event (a `suspect` too: a quorum counts
 * only members alive and not suspected) schedules one `view-changed` input on the next clock
 * turn, coalesced, built in one pass over the member table (`liveView`). The leader's
 * `publish-claim` becomes the node's labels (the user's plus the claim), set through the
 * membership core, so claims spread by SWIM gossip and push-pull.
 */
import { parseAddress, type Address } from '../base/address.js';
import { assert } from '../base/assert.js';
import { reportDue, type ReportLog } from '../base/report-limit.js';
import { ms, type TimerHandle } from '../base/time.js';
import type { Term } from '../base/units.js';
import type { Labels } from '../membership/messages.js';
import { swimLeaderConfig } from '../election/swim/config.js';
import { claimLabels, SWIM_LEADER_PROTOCOL } from '../election/swim/protocol.js';
import { CLAIM_LABEL, claimLabelsValid, parseClaim, SEEN_LABEL } from '../election/swim/claim.js';
import { memberCrypto, publicKeyHex } from '../identity/member-crypto.js';
import { ShoalError } from '../base/errors.js';
import {
  admissionCheck,
  admissionPolicy,
  ownAdmissionRefusal,
  type AdmissionPolicy,
} from './admission.js';
import type { LiveMember, LiveView, SwimLeaderTypes } from '../election/swim/types.js';
import type { NodeId } from '../identity/node-id.js';
import { membershipConfig, type ProfileName } from '../membership/config.js';
import type { MemberTable } from '../membership/member-table.js';
import { MEMBERSHIP_CORE, MEMBERSHIP_STORE } from '../membership/protocol.js';
import { memberView } from '../membership/state.js';
import type { AdmissionCandidate, MembershipTypes, MemberView } from '../membership/types.js';
import { membershipWire } from '../membership/wire.js';
import { ProtocolDriver } from './driver.js';
import type { ClusterMode } from './options.js';
import { RESERVED_LABEL_PREFIX } from './options.js';
import { PeerCache } from './peer-cache.js';
import { RefusalTap } from './refusal-tap.js';
import type { Member, ModeRuntime, WiringContext } from './runtime.js';
import { SwimJoins } from './swim-joins.js';

export type SwimMode = Extract<ClusterMode, { kind: 'swim' }>;

export const PROFILE_NAMES: Record<'lan' | 'wan' | 'local', ProfileName> = {
  lan: 'LAN',
  wan: 'WAN',
  local: 'LOCAL',
};

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
  return {
    id: view.id,
    name: view.name,
    address: view.address,
    state: view.state,
    incarnation: view.incarnation,
    labels: userLabels(view.labels),
  };
}

/**
 * The leader core's view of the membership table, in one pass over its columns: no member is
 * copied, only the few that carry election labels are parsed.
 */
export function liveView(table: MemberTable): LiveView {
  const labelled: LiveMember[] = [];
  const liveIds: NodeId[] = [];
  let aliveCount = 0;
  for (let slot = 0; slot < table.size; slot++) {
    if (!table.isLive(slot)) continue;
    const id = table.ids[slot] as NodeId;
    liveIds.push(id);
    if (table.isAlive(slot)) aliveCount++;
    const labels = table.labels[slot] as Labels;
    if (labels[CLAIM_LABEL] === undefined && labels[SEEN_LABEL] === undefined) continue;
    labelled.push({ id, claimTerm: parseClaim(labels), seenTerm: parseClaim(labels, SEEN_LABEL) });
  }
  return { size: liveIds.length, aliveCount, labelled, liveIds };
}

/**
 * The node's admission policy and check, or undefined without one. Throws ERR_INVALID_CONFIG
 * when the policy would refuse this very node (it would refuse its own records, and others
 * with the same policy would refuse it): a certificate for another key, none, or expired.
 */
export function admissionOf(
  ctx: WiringContext,
):
  | { policy: AdmissionPolicy; admit: (candidate: AdmissionCandidate) => string | undefined }
  | undefined {
  const { options, internals } = ctx;
  if (options.admission === undefined) return undefined;
  const policy = admissionPolicy(options.admission, options.clusterId);
  const admit = admissionCheck(policy, options.clusterId, internals.wallClockMs ?? Date.now);
  const refusal = ownAdmissionRefusal(policy, admit, {
    id: ctx.id,
    publicKey: publicKeyHex(ctx.identity),
  });
  if (refusal !== undefined)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid node option admission.${refusal.field}: ${refusal.reason}; add this node's NodeId to admission.allow or give it a valid admission.certificate for its public key`,
    );
  return { policy, admit };
}

/** Leave requests waiting for the membership core's answer, as promises. */
class Leaves {
  private readonly waiting: (() => void)[] = [];

  expect(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The leave spread (or the node stopped): every waiter gets its answer now. */
  left(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

export function wireSwim(
  ctx: WiringContext,
  mode: SwimMode,
): ModeRuntime & {
  membership: ProtocolDriver<MembershipTypes>;
  swimLeader: ProtocolDriver<SwimLeaderTypes>;
} {
  const { io, options, internals } = ctx;
  assert(io.transport !== undefined, 'swim mode needs a transport');
  const transport = io.transport;
  const base = membershipConfig(
    internals.membershipProfile ?? PROFILE_NAMES[options.profile],
    internals.membership,
  );
  const config = {
    ...base,
    packetEnvelopeBytes: base.packetEnvelopeBytes + (transport.packetOverheadBytes ?? 0),
  };
  const admission = admissionOf(ctx);
  const peerCache = new PeerCache(io.storage, io.clock, transport.localAddress);
  const leaves = new Leaves();
  const joins = new SwimJoins(
    {
      selfId: ctx.id,
      coreBusy: () => membership.isStopped || membership.state.join !== undefined,
      startAttempt: (addresses) =>
        void membership.input({ kind: 'join', now: io.clock.now(), addresses }),
      later: (fn) => void io.clock.setTimer(ms(0), fn),
      publish: (event) => ctx.publishJoin(event),
      onJoined: () => scheduleView(),
    },
    mode.seeds.map((s) => parseAddress(s)).filter((a) => a !== transport.localAddress),
  );
  const trace = (protocol: string) =>
    internals.onTrace === undefined
      ? {}
      : { onTrace: (line: string) => internals.onTrace?.(protocol, line) };
  let labels = options.labels;
  let claim: { claim: Term | undefined; contested: Term | undefined } = {
    claim: undefined,
    contested: undefined,
  };
  let viewTimer: TimerHandle | undefined;
  const securityReports = new Map<'not_admitted', ReportLog>();

  const membership = new ProtocolDriver<MembershipTypes>({
    protocol: {
      core: MEMBERSHIP_CORE,
      wire: membershipWire({
        clusterId: options.clusterId,
        selfId: ctx.id,
        localAddress: transport.localAddress,
      }),
      store: MEMBERSHIP_STORE,
    },
    config: {
      config,
      self: { id: ctx.id, name: options.name, address: transport.localAddress, labels },
      security: {
        clusterId: options.clusterId,
        crypto: memberCrypto(ctx.identity),
        publicKey: publicKeyHex(ctx.identity),
        certificate: admission?.policy.certificate,
        admit: admission?.admit,
        labelsValid: claimLabelsValid,
        verifySignatures: internals.unsafeSkipVerification !== true,
      },
    },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('membership'),
    transport: new RefusalTap(transport, (to, refusal) => joins.noteRefusal(to, refusal)),
    checkInvariants: internals.checkInvariants ?? false,
    onOutput: (effect) => {
      switch (effect.kind) {
        case 'emit':
          if (effect.event.type === 'epoch') peerCache.schedule(members);
          joins.onMember(effect.event);
          ctx.publishMember(effect.event);
          // Every event, suspect included: a quorum counts only members not suspected.
          scheduleView();
          return;
        case 'join-result':
          // A refused node is told why (docs/security.md): say it even when nobody awaits the
          // join, rate-limited like the core's reports (seed retries come every second or so).
          if (!effect.ok && effect.reason === 'not_admitted') {
            const suppressed = reportDue(
              securityReports,
              'not_admitted',
              io.clock.now(),
              config.securityLogIntervalMs,
            );
            if (suppressed !== undefined)
              ctx.publishSecurity({ reason: 'not_admitted', detail: effect.detail, suppressed });
          }
          return joins.onResult(
            effect.ok
              ? { ok: true, contacted: effect.contacted }
              : { ok: false, reason: effect.reason, detail: effect.detail },
          );
        case 'left-done':
          return leaves.left();
        case 'lease-ack':
          return void leader.input({
            kind: 'lease-ack',
            now: io.clock.now(),
            id: effect.id,
            sentAtMs: effect.sentAtMs,
          });
        case 'rejected':
          // A refused join ends that request; others are returned to the caller by the input.
          if (effect.input === 'join') joins.onRejected(effect.detail);
          return;
        case 'security':
          return ctx.publishSecurity({
            reason: effect.reason,
            detail: effect.detail,
            suppressed: effect.suppressed,
          });
      }
    },
    onFatal: (error) => ctx.fail(error),
    ...trace('membership'),
  });
  const members = (): MemberView[] => [...membership.state.members.values()].map(memberView);
  const setLabels = (next: Labels): string | undefined => {
    const effects = membership.input({
      kind: 'update-labels',
      now: io.clock.now(),
      labels: claimLabels(next, claim.claim, claim.contested),
    });
    for (const effect of effects) if (effect.kind === 'rejected') return effect.detail;
    return undefined;
  };

  const leader = new ProtocolDriver<SwimLeaderTypes>({
    protocol: SWIM_LEADER_PROTOCOL,
    config: { config: swimLeaderConfig(mode, config.probeIntervalMs), selfId: ctx.id },
    clock: io.clock,
    storage: io.storage,
    rng: io.rng.fork('swim-leader'),
    checkInvariants: true,
    onOutput: (effect) => {
      if (effect.kind === 'leader') return ctx.publishLeader(effect.leader, effect.term);
      if (effect.kind === 'lease-round')
        return void membership.input({ kind: 'lease-round', now: io.clock.now() });
      claim = { claim: effect.claim, contested: effect.contested };
      setLabels(labels);
    },
    onFatal: (error) => ctx.fail(error),
    ...trace('swim-leader'),
  });
  /**
   * On the next clock turn: membership events arrive mid-step, and the leader's labels go back
   * into membership. Not before the node joined (swim-joins.ts): a leader core that never saw a
   * view makes no claim and reports no leader.
   */
  function scheduleView(): void {
    if (viewTimer !== undefined || leader.isStopped || !joins.status().joined) return;
    viewTimer = io.clock.setTimer(ms(0), () => {
      viewTimer = undefined;
      leader.input({
        kind: 'view-changed',
        now: io.clock.now(),
        viewKey: `epoch ${membership.state.epoch}`,
        view: liveView(membership.state.members),
      });
    });
  }

  const stopLoopMonitor = io.loopDelay?.(
    (delayMs) =>
      void membership.input({
        kind: 'loop-delay',
        now: io.clock.now(),
        delayMs: Math.max(0, Math.round(delayMs)),
      }),
  );
  const seeds: Address[] = [
    ...new Set([...mode.seeds.map((s) => parseAddress(s)), ...peerCache.load()]),
  ];
  const halt = (): void => {
    stopLoopMonitor?.();
    viewTimer?.cancel();
    viewTimer = undefined;
    leader.stop();
    membership.stop();
    leaves.left();
    joins.end();
  };
  membership.start();
  leader.start();
  // Seeds outside the live view are retried by the membership core itself (`retrySeeds`).
  membership.input({ kind: 'start', now: io.clock.now(), seeds });
  scheduleView();
  return {
    membership,
    swimLeader: leader,
    members: () => members().map(toMember),
    leader: () => (leader.isStopped ? undefined : leader.state.leader),
    epoch: () => membership.state.epoch,
    join: (addresses) => joins.request(addresses),
    joinStatus: () => joins.status(),
    setLabels: (next) => {
      labels = next;
      return setLabels(next);
    },
    leave: () => {
      if (membership.isStopped || membership.state.phase === 'stopped') return Promise.resolve();
      const done = leaves.expect();
      membership.input({ kind: 'leave', now: io.clock.now() });
      return done;
    },
    close: async () => {
      const flushed = peerCache.flush();
      halt();
      await flushed;
    },
    halt: () => {
      peerCache.cancel();
      halt();
    },
    stats: () => ({
      protocol: {
        ...membership.state.counters,
        awareness: membership.state.awareness,
        epoch: membership.state.epoch,
        swimTermExhausted: leader.state.termExhausted ? 1 : 0,
        peerCacheWriteErrors: peerCache.writeErrors,
      },
      decodeErrors: { ...membership.decodeErrors },
      drivers: { membership: membership.stats(), 'swim-leader': leader.stats() },
    }),
  };
}
