/**
 * The membership trust rules (docs/security.md, security.ts), one forgery of issue 12 at a time,
 * on the pure core: a sender that holds no member's private key changes nothing a node believes
 * about another member, about itself or (through claims in records) about the leader; every
 * refusal moves a counter and, rate-limited, a `security` effect; and the incarnation ceiling
 * is refused with a reason, never an assertion.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { ms } from '../../src/base/time.js';
import { incarnation as asIncarnation } from '../../src/base/units.js';
import type { Storage } from '../../src/base/storage.js';
import { membershipConfig } from '../../src/membership/config.js';
import type { Message, Update } from '../../src/membership/messages.js';
import { INCARNATION_FILE, MEMBERSHIP_STORE } from '../../src/membership/protocol.js';
import { INCARNATION_MAX } from '../../src/membership/record.js';
import {
  CLAIM_LABEL,
  SEEN_LABEL,
  TERM_MAX,
  claimLabelsValid,
} from '../../src/election/swim/claim.js';
import type { Input, State, StepContext } from '../../src/membership/types.js';
import { testAccusation, testRecord } from '../helpers/member-keys.js';
import {
  address,
  alive,
  checkedStep,
  ctx,
  dead,
  left,
  memberRecord,
  newState,
  nodeId,
  pushPullFrom,
  receiveGossip,
  sends,
  startedWith,
  suspect,
  type FlatEffect,
} from './helpers.js';

/** What n1 believes about member `i`: every field a forgery could try to change. */
function belief(state: State, i: number): unknown {
  const m = state.members.get(nodeId(i));
  return m === undefined
    ? undefined
    : {
        state: m.state,
        incarnation: m.incarnation,
        name: m.name,
        address: m.address,
        labels: m.labels,
      };
}

function security(effects: FlatEffect[]): { reason: string; suppressed: number }[] {
  return effects.flatMap((e) =>
    e.kind === 'security' ? [{ reason: e.reason, suppressed: e.suppressed }] : [],
  );
}

function receive(now: number, from: number, message: Message): Input {
  return { kind: 'receive', now: ms(now), from: address(from), channel: 'packet', message };
}

/** n1 knowing n2 and n3 (alive@1), with everything it queued at start sent. */
function cluster(): { state: State; context: StepContext } {
  const setup = startedWith(1, [2, 3]);
  setup.state.queue.byMember.clear();
  return setup;
}

describe('forged records change nothing (issue 12)', () => {
  it.each<[string, Update]>([
    ['a forged left at a huge incarnation', left(2, INCARNATION_MAX - 2, { signer: 9 })],
    ['a forged alive that moves n2', alive(2, 2, {}, { signer: 9, address: address(9) })],
    ['a forged alive that renames n2', alive(2, 5, {}, { signer: 3, name: 'evil' })],
    [
      'a forged alive with a leader claim',
      alive(2, 2, { 'shoal.leader-term': '7' }, { signer: 9 }),
    ],
  ])('%s: refused, counted signaturesInvalid, n2 untouched', (_what, forged) => {
    const { state, context } = cluster();
    const before = belief(state, 2);
    const effects = checkedStep(state, receiveGossip(ms(1), 9, [forged]), context);
    expect(belief(state, 2)).toEqual(before);
    expect(state.counters.signaturesInvalid).toBe(1);
    expect(security(effects)).toEqual([{ reason: 'signature_invalid', suppressed: 0 }]);
    expect(state.queue.byMember.size).toBe(0);
  });

  it('a record whose key is not the one its id hashes (a phantom, or a swapped key) is key_mismatch', () => {
    const { state, context } = cluster();
    // n9's own key signs a record that claims n2's id: the key does not hash to it.
    const swapped: Update = { ...testRecord('alive', 9, 3), id: nodeId(2) };
    // A new id whose record carries n9's key: a phantom.
    const phantom: Update = { ...testRecord('alive', 9, 1), id: nodeId(40) };
    checkedStep(state, receiveGossip(ms(1), 9, [swapped]), context);
    checkedStep(state, receiveGossip(ms(2), 9, [phantom]), context);
    expect(state.members.has(nodeId(40))).toBe(false);
    expect(belief(state, 2)).toMatchObject({ incarnation: 1, address: address(2) });
    expect(state.counters.keysMismatched).toBe(2);
  });

  it('a signed record of another cluster does not verify here (the cluster id is signed)', () => {
    const { state, context } = cluster();
    checkedStep(
      state,
      receiveGossip(ms(1), 2, [testRecord('alive', 4, 1, { clusterId: 'elsewhere' })]),
      context,
    );
    expect(state.members.has(nodeId(4))).toBe(false);
    expect(state.counters.signaturesInvalid).toBe(1);
  });

  it('a forged update ends its packet: the updates after it are not even looked at', () => {
    const { state, context } = cluster();
    const checked = state.counters.signaturesChecked;
    checkedStep(
      state,
      receiveGossip(ms(1), 9, [alive(2, 4, {}, { signer: 9 }), alive(4, 1), alive(5, 1)]),
      context,
    );
    expect(state.members.has(nodeId(4))).toBe(false);
    expect(state.counters.signaturesChecked - checked).toBe(1);
    // The same genuine updates alone are applied.
    checkedStep(state, receiveGossip(ms(2), 2, [alive(4, 1), alive(5, 1)]), context);
    expect(state.members.has(nodeId(5))).toBe(true);
  });

  it('a stale or repeated record is ignored before any signature check (verify only on change)', () => {
    const { state, context } = cluster();
    const checked = state.counters.signaturesChecked;
    checkedStep(state, receiveGossip(ms(1), 2, [alive(2, 1), alive(3, 1), alive(2, 0)]), context);
    expect(state.counters.signaturesChecked).toBe(checked);
  });
});

describe('accusations (issue 12)', () => {
  it('a suspect or dead from a stranger (no live member here) is refused; the subject is untouched', () => {
    const { state, context } = cluster();
    const before = belief(state, 2);
    checkedStep(state, receiveGossip(ms(1), 9, [dead(2, 1, 9), suspect(2, 1, 9)]), context);
    expect(belief(state, 2)).toEqual(before);
    expect(state.counters.accusationsRefused).toBe(2);
  });

  it('an accusation in a member’s name but not signed by it is refused as forged', () => {
    const { state, context } = cluster();
    checkedStep(state, receiveGossip(ms(1), 9, [testAccusation('dead', 2, 1, 3, 9)]), context);
    expect(state.members.get(nodeId(2))?.state).toBe('alive');
    expect(state.counters.signaturesInvalid).toBe(1);
  });

  it('an accusation never moves an incarnation: above the held one it is refused, and the subject is probed next', () => {
    const { state, context } = cluster();
    checkedStep(state, receiveGossip(ms(1), 3, [suspect(2, 7, 3)]), context);
    expect(belief(state, 2)).toMatchObject({ state: 'alive', incarnation: 1 });
    expect(state.counters.accusationsRefused).toBe(1);
    expect(state.probeOrder.urgent).toContain(nodeId(2));
  });

  it('about ourselves: a forged accusation costs no refutation; a genuine one costs exactly one', () => {
    const { state, context } = cluster();
    checkedStep(state, receiveGossip(ms(1), 9, [testAccusation('dead', 1, 1, 2, 9)]), context);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(1);
    checkedStep(state, receiveGossip(ms(2), 2, [dead(1, 1, 2)]), context);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(2);
    // Replaying it changes nothing more: it names an incarnation we already refuted.
    checkedStep(state, receiveGossip(ms(3), 9, [dead(1, 1, 2)]), context);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(2);
    expect(state.counters.refutes).toBe(1);
  });

  it('after a partition, an accusation of us by a member we hold dead, or forgot, is still refuted (election-swim-lone-minority)', () => {
    const { state, context } = cluster();
    // Each side declared the other dead: we hold n2 dead, n2 tells us we are dead.
    checkedStep(state, receiveGossip(ms(1), 3, [dead(2, 1, 3)]), context);
    expect(state.members.get(nodeId(2))?.state).toBe('dead');
    checkedStep(state, receiveGossip(ms(2), 2, [dead(1, 1, 2)]), context);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(2);
    // Longer than deadReclaimMs: n2 is forgotten (a tombstone keeps its key).
    checkedStep(state, { kind: 'tick', now: ms(10 + 2 * state.config.deadReclaimMs) }, context);
    expect(state.members.has(nodeId(2))).toBe(false);
    checkedStep(
      state,
      receiveGossip(ms(20 + 2 * state.config.deadReclaimMs), 2, [dead(1, 2, 2)]),
      context,
    );
    expect(state.members.get(nodeId(1))?.incarnation).toBe(3);
    // But about a third party, only a live member's word counts.
    checkedStep(
      state,
      receiveGossip(ms(30 + 2 * state.config.deadReclaimMs), 2, [dead(3, 1, 2)]),
      context,
    );
    expect(state.members.get(nodeId(3))?.state).toBe('alive');
  });

  it('a left is the member’s own word: no one else can make a member leave', () => {
    const { state, context } = cluster();
    checkedStep(state, receiveGossip(ms(1), 3, [left(2, 1, { signer: 3 })]), context);
    expect(state.members.get(nodeId(2))?.state).toBe('alive');
    checkedStep(state, receiveGossip(ms(2), 3, [left(2, 1)]), context);
    expect(state.members.get(nodeId(2))?.state).toBe('left');
  });

  it('a forged left about ourselves makes us refute nothing (issue 12: the 2^53 eviction)', () => {
    const { state, context } = cluster();
    checkedStep(
      state,
      receiveGossip(ms(1), 9, [
        left(1, 2 ** 53 - 3, { signer: 9 }),
        left(1, INCARNATION_MAX, { signer: 9 }),
      ]),
      context,
    );
    expect(state.members.get(nodeId(1))).toMatchObject({ state: 'alive', incarnation: 1 });
    expect(state.counters.refutes).toBe(0);
  });
});

describe('leader claims in records (issue 12: the phantom leader)', () => {
  /** Member 4, unknown to n1, self-certified, claiming issue 12's term 999999999999999. */
  const phantom = (): Update =>
    alive(4, 1, { [CLAIM_LABEL]: '999999999999999', [SEEN_LABEL]: '999999999999999' });

  it('a claim above TERM_MAX refuses the whole record, counted and reported; one within is taken', () => {
    const { state, context } = cluster();
    state.security.labelsValid = claimLabelsValid;
    const effects = checkedStep(state, receiveGossip(ms(1), 2, [phantom()]), context);
    expect(state.members.has(nodeId(4))).toBe(false);
    expect(state.counters.labelsRejected).toBe(1);
    expect(security(effects)).toEqual([{ reason: 'labels_refused', suppressed: 0 }]);
    checkedStep(
      state,
      receiveGossip(ms(2), 2, [alive(5, 1, { [CLAIM_LABEL]: String(TERM_MAX) })]),
      context,
    );
    expect(state.members.get(nodeId(5))?.labels[CLAIM_LABEL]).toBe(String(TERM_MAX));
  });

  it('without the claim check the phantom leader is believed (the check is what refuses it)', () => {
    const { state, context } = cluster();
    state.security.labelsValid = undefined;
    checkedStep(state, receiveGossip(ms(1), 2, [phantom()]), context);
    expect(state.members.get(nodeId(4))?.labels[CLAIM_LABEL]).toBe('999999999999999');
    expect(state.counters.labelsRejected).toBe(0);
  });
});

describe('incarnation ceiling (INCARNATION_MAX = 2^48 - 1)', () => {
  it('a node at the ceiling cannot refute: refused with a reason and counted, never an assertion', () => {
    const config = membershipConfig('SIM_MIN');
    const state = newState(1, config, INCARNATION_MAX - 1);
    const context = ctx(1);
    checkedStep(state, { kind: 'start', now: ms(0), seeds: [] }, context);
    checkedStep(state, receiveGossip(ms(0), 2, [alive(2, 1)]), context);
    expect(state.members.get(nodeId(1))?.incarnation).toBe(INCARNATION_MAX);
    const effects = checkedStep(
      state,
      receiveGossip(ms(1), 2, [suspect(1, INCARNATION_MAX, 2)]),
      context,
    );
    expect(state.members.get(nodeId(1))?.incarnation).toBe(INCARNATION_MAX);
    expect(state.counters.incarnationsRefused).toBe(1);
    expect(security(effects)).toEqual([{ reason: 'incarnation_refused', suppressed: 0 }]);
    const labels = checkedStep(
      state,
      { kind: 'update-labels', now: ms(2), labels: { a: 'b' } },
      context,
    );
    expect(labels.find((e) => e.kind === 'rejected')).toMatchObject({
      detail: expect.stringMatching(/INCARNATION_MAX/),
    });
  });

  it.each([
    [INCARNATION_MAX - 2, 'ok'],
    [INCARNATION_MAX - 1, 'ok'],
    [INCARNATION_MAX, 'ERR_INCARNATION_EXHAUSTED'],
  ])('a persisted incarnation of %i loads: %s', (persisted, outcome) => {
    const storage = {
      read: (path: string) =>
        path === INCARNATION_FILE ? new TextEncoder().encode(`${persisted}\n`) : undefined,
      fsyncDir: () => undefined,
    } as unknown as Storage;
    let code = 'ok';
    try {
      expect(MEMBERSHIP_STORE.load(storage)).toBe(persisted);
    } catch (err) {
      code = (err as { code?: string }).code ?? String(err);
      expect((err as Error).message).toContain('new identity');
    }
    expect(code).toBe(outcome);
  });
});

describe('probing and anti-entropy are no reflector (issue 12)', () => {
  it('a ping-req from a non-member, or about one, is refused: nothing is sent', () => {
    const { state, context } = cluster();
    const req = (from: number, target: number): Message => ({
      type: 'ping-req',
      seq: 5,
      from: nodeId(from),
      target: nodeId(target),
      nack: true,
      updates: [],
    });
    for (const [from, target] of [
      [9, 2],
      [2, 9],
      [2, 2],
      [2, 1],
    ] as const) {
      const effects = checkedStep(state, receive(1, 9, req(from, target)), context);
      expect(sends(effects)).toEqual([]);
    }
    expect(state.counters.pingReqsRefused).toBe(4);
    // From a member about a member: the probe goes to our record of the target, the nack to our record of the requester.
    const effects = checkedStep(state, receive(2, 9, req(2, 3)), context);
    expect(sends(effects).map((s) => s.to)).toEqual([address(3)]);
    const nack = checkedStep(state, { kind: 'tick', now: ms(100) }, context);
    expect(
      sends(nack)
        .filter((s) => s.message.type === 'nack')
        .map((s) => s.to),
    ).toEqual([address(2)]);
  });

  it('a ping from anyone but a member at its own address is answered without piggybacked updates (at most our record of the id it claims)', () => {
    const { state, context } = cluster();
    checkedStep(state, receiveGossip(ms(1), 2, [alive(4, 1)]), context);
    const ping = (from: number): Message => ({
      type: 'ping',
      seq: 3,
      from: nodeId(from),
      fromAddress: address(from),
      target: nodeId(1),
      updates: [],
    });
    const stranger = sends(checkedStep(state, receive(2, 9, ping(9)), context));
    expect(stranger).toMatchObject([{ to: address(9), message: { type: 'ack', updates: [] } }]);
    // A member's id from another address: only our record of that member (one update, signed
    // by it, naming its own address), never the queue.
    const spoofed = sends(checkedStep(state, receive(2, 9, ping(2)), context));
    expect(spoofed).toMatchObject([
      { to: address(9), message: { type: 'ack', updates: [alive(2, 1)] } },
    ]);
    const genuine = sends(checkedStep(state, receive(3, 2, ping(2)), context));
    expect(genuine[0]?.message.type === 'ack' && genuine[0].message.updates.length).toBeGreaterThan(
      0,
    );
  });

  it('probe sequence numbers are random 32-bit values: a guessed ack does not complete a probe', () => {
    const { state, context } = cluster();
    checkedStep(state, { kind: 'tick', now: state.nextProbeAtMs }, context);
    const probe = state.probe!;
    expect(probe.seq).toBeGreaterThan(1000);
    for (let seq = 0; seq < 50; seq++)
      checkedStep(
        state,
        receive(state.nextProbeAtMs, 9, { type: 'ack', seq, from: probe.target, updates: [] }),
        context,
      );
    expect(state.probe).toBe(probe);
  });

  it('a push-pull without its sender’s own signed record at the claimed address is dropped, unanswered', () => {
    const { state, context } = cluster();
    const input = pushPullFrom(ms(1), 2, state.fingerprint, [memberRecord(4, 1)], { reply: true });
    if (input.kind !== 'receive' || input.message.type !== 'push-pull')
      throw new Error('push-pull');
    const message = input.message;
    for (const members of [
      message.members.slice(1),
      [memberRecord(2, 1, 'alive', { address: address(9) }), memberRecord(4, 1)],
      [memberRecord(2, 1, 'alive', { signer: 9 }), memberRecord(4, 1)],
    ]) {
      const effects = checkedStep(
        state,
        { ...input, message: { ...message, fromAddress: address(2), members } },
        context,
      );
      expect(sends(effects)).toEqual([]);
    }
    expect(state.members.has(nodeId(4))).toBe(false);
    expect(state.counters.pushPullsRefused).toBe(2);
    expect(state.counters.signaturesInvalid).toBe(1);
    const answered = checkedStep(state, input, context);
    expect(sends(answered).map((s) => s.to)).toEqual([address(2)]);
    expect(state.members.has(nodeId(4))).toBe(true);
  });

  it('a push-pull digest counts only from a live member at its own address', () => {
    const { state, context } = cluster();
    const digest = (from: number, at: Address): Message => ({
      type: 'push-pull-digest',
      from: nodeId(from),
      fromAddress: at,
      reply: true,
      configDigest: state.fingerprintDigest,
      viewDigest: '0000000000000000',
    });
    expect(sends(checkedStep(state, receive(1, 9, digest(9, address(9))), context))).toEqual([]);
    expect(sends(checkedStep(state, receive(1, 9, digest(2, address(9))), context))).toEqual([]);
    expect(state.counters.pushPullsRefused).toBe(2);
    const answer = sends(checkedStep(state, receive(1, 2, digest(2, address(2))), context));
    expect(answer.map((s) => s.to)).toEqual([address(2)]);
  });
});

describe('two processes with one identity (issue 12)', () => {
  it('each sees a record of itself it did not sign, reports identity_conflict and refutes', () => {
    // Both run n1's key: one at 10.0.0.1, one (a copied data dir) at 10.0.0.7.
    const a = startedWith(1, [2]);
    const b = startedWith(1, [2]);
    const bRecord = testRecord('alive', 1, 1, { address: address(7) });
    const aEffects = checkedStep(a.state, receiveGossip(ms(1), 2, [bRecord]), a.context);
    expect(security(aEffects).map((e) => e.reason)).toEqual(['identity_conflict']);
    expect(a.state.members.get(nodeId(1))?.incarnation).toBe(2);
    // a's refutation reaches b: a record of b's id above b's incarnation that b did not sign.
    const refutation = a.state.queue.byMember.get(nodeId(1))!.update;
    const bEffects = checkedStep(b.state, receiveGossip(ms(2), 2, [refutation]), b.context);
    expect(security(bEffects).map((e) => e.reason)).toEqual(['identity_conflict']);
    expect(b.state.counters.identityConflicts).toBe(1);
    expect(b.state.members.get(nodeId(1))?.incarnation).toBe(3);
  });

  it('the twin the seed does not hold hears of the other in the ack to its own ping', () => {
    // n1's key twice: at 10.0.0.1 (refuted to incarnation 2: the seed n2 holds it) and, a copied
    // data dir, at 10.0.0.7 (incarnation 1). The seed gossips, probes and push-pulls only to
    // 10.0.0.1, and refuses the twin's digests (not n1's address here): the twin's own pings
    // are all it hears from the seed.
    const seed = startedWith(2, [3]);
    checkedStep(seed.state, receiveGossip(ms(1), 1, [alive(1, 2)]), seed.context);
    seed.state.queue.byMember.clear();
    const twin = startedWith(1, [2]); // its own address plays no part in what it decides here
    const ack = sends(
      checkedStep(
        seed.state,
        receive(2, 7, {
          type: 'ping',
          seq: 5,
          from: nodeId(1),
          fromAddress: address(7),
          target: nodeId(2),
          updates: [],
        }),
        seed.context,
      ),
    );
    expect(ack).toMatchObject([
      { to: address(7), message: { type: 'ack', updates: [alive(1, 2)] } },
    ]);
    const message = ack[0]!.message;
    const effects = checkedStep(
      twin.state,
      { kind: 'receive', now: ms(3), from: address(2), channel: 'packet', message },
      twin.context,
    );
    expect(security(effects).map((e) => e.reason)).toEqual(['identity_conflict']);
    expect(twin.state.members.get(nodeId(1))?.incarnation).toBe(3);
  });

  it('our own record coming back is no conflict', () => {
    const { state, context } = cluster();
    const own = testRecord('alive', 1, 1, { address: address(1) });
    checkedStep(state, receiveGossip(ms(1), 2, [own]), context);
    expect(state.counters.identityConflicts).toBe(0);
    expect(state.counters.refutes).toBe(0);
  });
});

describe('security effects are rate-limited (securityLogIntervalMs)', () => {
  it('one per reason per interval, carrying the number suppressed since the last', () => {
    const { state, context } = cluster();
    const interval = state.config.securityLogIntervalMs;
    const forged = (t: number): FlatEffect[] =>
      checkedStep(state, receiveGossip(ms(t), 9, [alive(2, 3 + t, {}, { signer: 9 })]), context);
    expect(security(forged(1))).toEqual([{ reason: 'signature_invalid', suppressed: 0 }]);
    for (let t = 2; t < 2 + 5; t++) expect(security(forged(t))).toEqual([]);
    expect(security(forged(1 + interval))).toEqual([
      { reason: 'signature_invalid', suppressed: 5 },
    ]);
    expect(state.counters.signaturesInvalid).toBe(7);
    // Another reason has its own budget.
    const other = checkedStep(state, receiveGossip(ms(2 + interval), 9, [dead(2, 1, 9)]), context);
    expect(security(other)).toEqual([{ reason: 'accusation_refused', suppressed: 0 }]);
  });
});

describe('incarnations in range', () => {
  it('refuses a genuine record above INCARNATION_MAX, accepts one at it', () => {
    const { state, context } = cluster();
    checkedStep(state, receiveGossip(ms(1), 2, [alive(2, INCARNATION_MAX + 1)]), context);
    expect(state.members.get(nodeId(2))?.incarnation).toBe(asIncarnation(1));
    checkedStep(state, receiveGossip(ms(2), 2, [alive(2, INCARNATION_MAX)]), context);
    expect(state.members.get(nodeId(2))?.incarnation).toBe(INCARNATION_MAX);
  });
});
