/**
 * Every protocol core passes the contract suite (contract.ts): static, raft-lite, the swim
 * leader and membership, each fed seeded random inputs of every kind it takes.
 */
import { describe } from 'vitest';
import type { Address } from '../../src/base/address.js';
import type { Rng } from '../../src/base/rng.js';
import { epoch, term } from '../../src/base/units.js';
import { ms } from '../../src/base/time.js';
import type { MemberRecord, Message, Update } from '../../src/membership/messages.js';
import type { ElectionMessage } from '../../src/election/messages.js';
import { raftLiteConfig } from '../../src/election/raft-lite/config.js';
import { RAFT_LITE_CORE } from '../../src/election/raft-lite/protocol.js';
import { staticConfig } from '../../src/election/static/config.js';
import { STATIC_CORE } from '../../src/election/static/protocol.js';
import { SWIM_LEADER_CORE } from '../../src/election/swim/protocol.js';
import { liveSetKey, liveViewOf } from '../../src/election/swim/step.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { membershipConfig } from '../../src/membership/config.js';
import { MEMBERSHIP_CORE } from '../../src/membership/protocol.js';
import type { Input as MembershipInput } from '../../src/membership/types.js';
import type { Input as RaftLiteInput } from '../../src/election/raft-lite/types.js';
import type { StaticInput } from '../../src/election/static/types.js';
import type { SwimLeaderInput } from '../../src/election/swim/types.js';
import { protocolContract } from './contract.js';
import { memberRecord } from '../membership/helpers.js';
import { testAccusation, testId, testRecord, testSecurity } from '../helpers/member-keys.js';

const id = (i: number): NodeId => i.toString(16).padStart(32, '0') as NodeId;
/** Membership's members have real keys (its records are signed): NodeIds are their hashes. */
const mid = (i: number): NodeId => testId(i);
const addr = (i: number): Address => `10.0.0.${i}:7946` as Address;
const near = (rng: Rng, value: number): number => Math.max(0, value - 1 + rng.int(4));

describe('static satisfies the protocol contract', () => {
  protocolContract({
    core: STATIC_CORE,
    config: () => ({
      config: staticConfig({}, 3),
      selfId: id(5),
      selfAddress: addr(1),
      peers: [addr(1), addr(2), addr(3)],
    }),
    persisted: () => term(0),
    randomInput: (rng, state, now): StaticInput => {
      const peer = rng.pick([2, 3, 3, 2, 9]);
      // Sometimes a new NodeId at a known address (a peer that got a new identity).
      const from = rng.chance(1, 8) ? id(20 + rng.int(3)) : id(peer);
      const message: ElectionMessage = rng.chance(1, 20)
        ? { type: 'join-cluster', from, fromAddress: addr(peer), configVersion: 0, joining: false }
        : {
            type: 'heartbeat',
            from,
            fromAddress: addr(peer),
            term: term(near(rng, state.term)),
            sentAtMs: rng.int(10_000),
            // Fresh, stale, from the future, or none: the echo decides what a heartbeat proves.
            echoMs: rng.chance(1, 6) ? undefined : Math.max(0, now - rng.int(2_000) + 100),
          };
      return { kind: 'receive', now, message };
    },
    sampleEffects: [
      {
        kind: 'send',
        to: addr(2),
        channel: 'packet',
        message: {
          type: 'heartbeat',
          from: id(5),
          fromAddress: addr(1),
          term: term(1),
          sentAtMs: 0,
          echoMs: undefined,
        },
      },
      { kind: 'leader', leader: id(5), term: term(1) },
      { kind: 'member', type: 'joined', address: addr(2), id: id(2) },
    ],
  });
});

function raftLiteMessage(rng: Rng, current: number, from: number): ElectionMessage {
  const base = { from: id(from), fromAddress: addr(from) };
  const config = { configTerm: term(rng.int(2)), configVersion: rng.int(3) };
  switch (rng.int(8)) {
    case 0:
      return {
        ...base,
        type: 'vote-request',
        term: term(near(rng, current) + 1),
        preVote: true,
        ...config,
      };
    case 1:
      return {
        ...base,
        type: 'vote-request',
        term: term(near(rng, current)),
        preVote: false,
        ...config,
      };
    case 2:
      return {
        ...base,
        type: 'vote-response',
        term: term(near(rng, current) + (rng.chance(1, 2) ? 1 : 0)),
        preVote: rng.chance(1, 2),
        granted: rng.chance(2, 3),
      };
    case 3:
      return {
        ...base,
        type: 'leader-heartbeat',
        term: term(near(rng, current)),
        ...config,
        peers: [addr(1), addr(2), addr(3), ...(rng.chance(1, 4) ? [addr(4)] : [])],
        // Sometimes our own address pinned to another identity (our lost data dir's).
        pins: rng.chance(1, 6) ? [[addr(1), id(20)] as const] : [],
      };
    case 4:
      return { ...base, type: 'heartbeat-ack', term: term(near(rng, current)), ...config };
    case 5:
      return {
        ...base,
        type: 'join-cluster',
        configVersion: rng.int(2),
        joining: rng.chance(1, 2),
      };
    case 6:
      return { ...base, type: 'peer-broadcast', term: term(near(rng, current)), payload: 'hello' };
    default:
      return { ...base, type: 'heartbeat', term: term(current), sentAtMs: 0, echoMs: undefined };
  }
}

describe('raft-lite satisfies the protocol contract', () => {
  protocolContract({
    core: RAFT_LITE_CORE,
    config: () => ({
      config: raftLiteConfig({ peersMax: 6 }),
      selfId: id(1),
      selfAddress: addr(1),
      peers: [addr(1), addr(2), addr(3)],
    }),
    persisted: () => ({ term: term(0), votedFor: undefined }),
    randomInput: (rng, state, now): RaftLiteInput => {
      const roll = rng.int(20);
      if (roll === 0) return { kind: 'join', now, address: addr(2 + rng.int(6)) };
      if (roll === 1) return { kind: 'broadcast', now, payload: 'x' };
      const from = rng.pick([2, 3, 2, 3, 4, 7]);
      return {
        kind: 'receive',
        now,
        from: addr(from),
        message: raftLiteMessage(rng, state.term, from),
      };
    },
    sampleEffects: [
      {
        kind: 'send',
        to: addr(2),
        channel: 'packet',
        message: {
          type: 'join-cluster',
          from: id(1),
          fromAddress: addr(1),
          configVersion: 0,
          joining: false,
        },
      },
      { kind: 'leader', leader: id(1), term: term(2), self: true },
      { kind: 'term', oldTerm: term(1), newTerm: term(2) },
      { kind: 'peer-joined', address: addr(2) },
      { kind: 'peer-left', address: addr(2) },
      { kind: 'delivered', from: id(2), fromAddress: addr(2), payload: 'x' },
      { kind: 'rejected', input: 'join', detail: 'known cluster is full' },
    ],
  });
});

describe('the swim leader satisfies the protocol contract', () => {
  protocolContract({
    core: SWIM_LEADER_CORE,
    config: () => ({
      config: {
        stabilizationMs: 100,
        requireQuorum: true,
        minClusterSize: 3,
        leaseMs: 100,
        leaseIntervalMs: 25,
      },
      selfId: id(1),
    }),
    persisted: () => ({ term: term(0), stableSize: 1 }),
    randomInput: (rng, state, now): SwimLeaderInput => {
      const live = [1, 2, 3, 4, 5]
        .filter((i) => i === 1 || rng.chance(3, 4))
        .map((i) => ({
          id: id(i),
          claimTerm:
            i !== 1 && rng.chance(1, 6)
              ? near(rng, state.highestTermSeen) + 1
              : i === 1
                ? state.published?.claim
                : undefined,
          seenTerm: rng.chance(1, 10) ? near(rng, state.highestTermSeen) : undefined,
        }));
      if (rng.chance(1, 3))
        return {
          kind: 'lease-ack',
          now,
          id: id(2 + rng.int(4)),
          sentAtMs: ms(Math.max(0, now - rng.int(150))),
        };
      return { kind: 'view-changed', now, viewKey: liveSetKey(live), view: liveViewOf(live) };
    },
    sampleEffects: [
      { kind: 'publish-claim', claim: term(1), contested: undefined },
      { kind: 'leader', leader: { id: id(1), term: term(1) }, term: term(1) },
      { kind: 'lease-round' },
    ],
  });
});

/** Signed by the member (or accuser) it names, or, one time in eight, by member 9: forged. */
function signer(rng: Rng, owner: number): number {
  return rng.chance(1, 8) ? 9 : owner;
}

function update(rng: Rng, subject: number): Update {
  const incarnation = rng.int(4);
  const options = { signer: signer(rng, subject), address: addr(subject) };
  switch (rng.int(4)) {
    case 0:
      return testRecord('alive', subject, incarnation, {
        ...options,
        labels: rng.chance(1, 4) ? { zone: 'a' } : {},
      });
    case 1:
      return testAccusation('suspect', subject, incarnation, 2, signer(rng, 2));
    case 2:
      return testAccusation('dead', subject, incarnation, 3, signer(rng, 3));
    default:
      return testRecord('left', subject, incarnation, options);
  }
}

function record(rng: Rng, subject: number): MemberRecord {
  const state = rng.pick(['alive', 'alive', 'suspect', 'dead', 'left'] as const);
  return memberRecord(subject, rng.int(4), state, {
    signer: signer(rng, subject),
    address: addr(subject),
    accuser: 2,
    accuserSigner: signer(rng, 2),
  });
}

function membershipMessage(rng: Rng, fingerprint: string, seq: number): Message {
  const from = 2 + rng.int(5);
  const updates = Array.from({ length: rng.int(3) }, () => update(rng, 1 + rng.int(7)));
  switch (rng.int(8)) {
    case 0:
      return {
        type: 'ping',
        seq,
        from: mid(from),
        fromAddress: addr(from),
        target: mid(1),
        updates,
      };
    case 1:
      return { type: 'ack', seq, from: mid(from), updates };
    case 2:
      return { type: 'nack', seq, from: mid(from) };
    case 3:
      return {
        type: 'ping-req',
        seq,
        from: mid(from),
        target: mid(1 + rng.int(7)),
        nack: rng.chance(1, 2),
        updates,
      };
    case 4:
      return {
        type: 'push-pull',
        from: mid(from),
        fromAddress: addr(from),
        join: rng.chance(1, 3),
        reply: rng.chance(1, 2),
        configFingerprint: rng.chance(9, 10) ? fingerprint : 'other',
        members: [
          ...(rng.chance(7, 8) ? [record(rng, from)] : []),
          ...Array.from({ length: rng.int(4) }, () => record(rng, 1 + rng.int(7))),
        ],
      };
    case 5:
      return {
        type: 'push-pull-digest',
        from: mid(from),
        fromAddress: addr(from),
        reply: rng.chance(1, 2),
        configDigest: '00000000000000aa',
        viewDigest: '0123456789abcdef',
      };
    case 6:
      return { type: 'reject', from: mid(from), reason: 'config_mismatch', detail: 'x' };
    default:
      return { type: 'gossip', from: mid(from), updates };
  }
}

describe('membership satisfies the protocol contract', () => {
  protocolContract({
    core: MEMBERSHIP_CORE,
    config: () => ({
      config: membershipConfig('SIM_MIN'),
      self: { id: mid(1), name: 'n1', address: addr(1), labels: {} },
      security: testSecurity(1),
    }),
    persisted: () => 0,
    steps: 600,
    randomInput: (rng, state, now): MembershipInput => {
      if (state.phase === 'idle')
        return { kind: 'start', now, seeds: rng.chance(1, 2) ? [addr(2)] : [] };
      const roll = rng.int(40);
      if (roll === 0) return { kind: 'join', now, addresses: [addr(2 + rng.int(5))] };
      if (roll === 1) return { kind: 'update-labels', now, labels: { zone: rng.pick(['a', 'b']) } };
      if (roll === 2) return { kind: 'loop-delay', now, delayMs: rng.int(500) };
      if (roll === 3)
        return { kind: 'send-failed', now, to: addr(2 + rng.int(5)), channel: 'stream' };
      if (roll === 4)
        return { kind: 'refused', now, from: addr(2), reason: 'bad_version', detail: 'x' };
      if (roll === 5 && rng.chance(1, 10)) return { kind: 'leave', now };
      if (roll === 6) return { kind: 'lease-round', now };
      const channel = rng.chance(1, 4) ? 'stream' : 'packet';
      return {
        kind: 'receive',
        now,
        from: addr(2 + rng.int(5)),
        channel,
        // Now and then the seq of the probe in flight, so acks and nacks can land.
        message: membershipMessage(
          rng,
          state.fingerprint,
          state.probe !== undefined && rng.chance(1, 2) ? state.probe.seq : rng.int(1000),
        ),
      };
    },
    sampleEffects: [
      {
        kind: 'send',
        to: addr(2),
        channel: 'packet',
        message: { type: 'nack', seq: 1, from: mid(1) },
      },
      { kind: 'emit', event: { type: 'epoch', epoch: epoch(2) } },
      { kind: 'join-result', ok: true, contacted: 1 },
      { kind: 'left-done' },
      { kind: 'lease-ack', id: mid(2), sentAtMs: ms(5) },
      { kind: 'rejected', input: 'leave', detail: 'already leaving' },
      { kind: 'security', reason: 'signature_invalid', detail: 'x', suppressed: 2 },
    ],
  });
});
