/**
 * Admission (node/admission.ts, docs/security.md): allowlists of NodeIds or keys, a cluster CA's
 * node certificates with their validity at limit-1/limit/limit+1, revocation; options refused
 * with a message naming the field; and, on the membership core, a refused member's records and
 * join refused with a reason the joiner reports.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateIdentitySync } from '../../src/identity/identity.js';
import { createNode } from '../../src/node/node.js';
import { ms } from '../../src/base/time.js';
import { publicKeyHex } from '../../src/identity/member-crypto.js';
import type { Certificate } from '../../src/membership/messages.js';
import {
  admissionCheck,
  admissionEntryId,
  admissionPolicy,
  createClusterCa,
  ownAdmissionRefusal,
  parseNodeCertificate,
  signNodeCertificate,
} from '../../src/node/admission.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import { createState } from '../../src/membership/state.js';
import { membershipConfig } from '../../src/membership/config.js';
import { TEST_CLUSTER_ID, testIdentity, testSecurity } from '../helpers/member-keys.js';
import {
  address,
  checkedStep,
  ctx,
  memberRecord,
  nodeId,
  pushPullFrom,
  receiveGossip,
  alive,
  sends,
  startedWith,
} from '../membership/helpers.js';

const base64Key = (i: number): string => Buffer.from(testIdentity(i).publicKey).toString('base64');
const NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;

function certificateFor(
  ca: { privateKey: string },
  i: number,
  notBeforeMs = NOW - DAY,
  notAfterMs = NOW + DAY,
  clusterId = TEST_CLUSTER_ID,
): string {
  return signNodeCertificate(ca.privateKey, {
    clusterId,
    publicKey: base64Key(i),
    notBeforeMs,
    notAfterMs,
  });
}

/** The certificate as records carry it. */
function wire(text: string): Certificate {
  const { notBeforeMs, notAfterMs, signature } = parseNodeCertificate(text);
  return { notBeforeMs, notAfterMs, signature };
}

const candidate = (i: number, certificate?: Certificate) => ({
  id: nodeId(i),
  publicKey: publicKeyHex(testIdentity(i)),
  certificate,
});

describe('admission policy', () => {
  it('no policy admits everyone; deny alone refuses only the revoked', () => {
    const open = admissionCheck(admissionPolicy({}, TEST_CLUSTER_ID), TEST_CLUSTER_ID, () => NOW);
    expect(open(candidate(2))).toBeUndefined();
    const deny = admissionCheck(
      admissionPolicy({ deny: [nodeId(3)] }, TEST_CLUSTER_ID),
      TEST_CLUSTER_ID,
      () => NOW,
    );
    expect(deny(candidate(2))).toBeUndefined();
    expect(deny(candidate(3))).toMatch(/revoked \(admission.deny\)/);
  });

  it('allow admits by NodeId or by base64 public key, and nobody else; deny wins over allow', () => {
    expect(admissionEntryId(base64Key(4))).toBe(nodeId(4));
    const policy = admissionPolicy(
      { allow: [nodeId(2), base64Key(4)], deny: [base64Key(2)] },
      TEST_CLUSTER_ID,
    );
    const admit = admissionCheck(policy, TEST_CLUSTER_ID, () => NOW);
    expect(admit(candidate(4))).toBeUndefined();
    expect(admit(candidate(3))).toMatch(/not in admission.allow/);
    expect(admit(candidate(2))).toMatch(/revoked/);
  });

  it('a CA certificate admits its key in its cluster while valid: not-before and not-after at limit - 1, limit, limit + 1', () => {
    const ca = createClusterCa();
    const text = certificateFor(ca, 2, NOW - DAY, NOW + DAY);
    expect(parseNodeCertificate(text)).toMatchObject({
      clusterId: TEST_CLUSTER_ID,
      publicKey: publicKeyHex(testIdentity(2)),
      notBeforeMs: NOW - DAY,
      notAfterMs: NOW + DAY,
    });
    const policy = admissionPolicy({ ca: [ca.publicKey] }, TEST_CLUSTER_ID);
    for (const [at, admitted] of [
      [NOW - DAY - 1, false],
      [NOW - DAY, true],
      [NOW + DAY, true],
      [NOW + DAY + 1, false],
    ] as const) {
      const refusal = admissionCheck(policy, TEST_CLUSTER_ID, () => at)(candidate(2, wire(text)));
      expect(refusal === undefined, `at ${at}: ${refusal}`).toBe(admitted);
    }
    const late = admissionCheck(policy, TEST_CLUSTER_ID, () => NOW + 2 * DAY);
    expect(late(candidate(2, wire(text)))).toMatch(/expired at 2026-06-02T00:00:00.000Z/);
  });

  it('refuses a certificate of another CA, of another key, of another cluster, or none', () => {
    const ca = createClusterCa();
    const other = createClusterCa();
    const admit = admissionCheck(
      admissionPolicy({ ca: [ca.publicKey] }, TEST_CLUSTER_ID),
      TEST_CLUSTER_ID,
      () => NOW,
    );
    expect(admit(candidate(2))).toMatch(/carries no certificate/);
    expect(admit(candidate(2, wire(certificateFor(other, 2))))).toMatch(/no CA key/);
    expect(admit(candidate(3, wire(certificateFor(ca, 2))))).toMatch(/no CA key/);
    expect(admit(candidate(2, wire(certificateFor(ca, 2, NOW - DAY, NOW + DAY, 'x'))))).toMatch(
      /no CA key/,
    );
    // Rotation: both CA keys configured, either admits.
    const both = admissionCheck(
      admissionPolicy({ ca: [ca.publicKey, other.publicKey] }, TEST_CLUSTER_ID),
      TEST_CLUSTER_ID,
      () => NOW,
    );
    expect(both(candidate(2, wire(certificateFor(other, 2))))).toBeUndefined();
  });

  it('a policy that refuses the node it runs on names the option to fix', () => {
    const ca = createClusterCa();
    const self = { id: nodeId(2), publicKey: publicKeyHex(testIdentity(2)) };
    const own = (options: Parameters<typeof admissionPolicy>[0], at = NOW) => {
      const policy = admissionPolicy(options, TEST_CLUSTER_ID);
      return ownAdmissionRefusal(
        policy,
        admissionCheck(policy, TEST_CLUSTER_ID, () => at),
        self,
      );
    };
    expect(own({})).toBeUndefined();
    expect(own({ allow: [nodeId(2)] })).toBeUndefined();
    expect(own({ ca: [ca.publicKey], certificate: certificateFor(ca, 2) })).toBeUndefined();
    expect(own({ allow: [nodeId(3)] })).toMatchObject({ field: 'allow' });
    expect(own({ ca: [ca.publicKey] })).toMatchObject({
      field: 'certificate',
      reason: expect.stringMatching(/carries no certificate/),
    });
    expect(own({ ca: [ca.publicKey], certificate: certificateFor(ca, 3) })).toMatchObject({
      field: 'certificate',
      reason: expect.stringMatching(/certifies another key/),
    });
    expect(
      own({ ca: [ca.publicKey], certificate: certificateFor(ca, 2) }, NOW + 2 * DAY),
    ).toMatchObject({
      field: 'certificate',
      reason: expect.stringMatching(/expired/),
    });
    expect(own({ allow: [nodeId(2)], deny: [nodeId(2)] })).toMatchObject({ field: 'deny' });
  });

  it('createNode refuses a policy that refuses the node itself, naming the option, before binding', async () => {
    const ca = createClusterCa();
    const dir = mkdtempSync(join(tmpdir(), 'shoal-own-admission-'));
    const identity = loadOrCreateIdentitySync(dir);
    const start = (admission: Parameters<typeof admissionPolicy>[0]) =>
      createNode({
        name: 'self',
        dataDir: dir,
        bind: '127.0.0.1:0',
        mode: { kind: 'swim', seeds: [] },
        clusterId: TEST_CLUSTER_ID,
        admission,
      });
    await expect(start({ ca: [ca.publicKey], certificate: certificateFor(ca, 3) })).rejects.toThrow(
      `invalid node option admission.certificate: it certifies another key than this node's (${identity.nodeId})`,
    );
    await expect(start({ allow: [nodeId(3)] })).rejects.toThrow(
      /admission\.allow: this node's own policy refuses it \(node \w+ is not in admission.allow\)/,
    );
    const own = signNodeCertificate(ca.privateKey, {
      clusterId: TEST_CLUSTER_ID,
      publicKey: Buffer.from(identity.publicKey).toString('base64'),
      notBeforeMs: Date.now() - DAY,
      notAfterMs: Date.now() + DAY,
    });
    const node = await start({ ca: [ca.publicKey], certificate: own });
    await node.close();
  });

  it('options: a bad entry, a bad certificate, or admission outside swim and raft modes is ERR_INVALID_CONFIG naming the field', () => {
    const options =
      (admission: unknown, mode: unknown = { kind: 'swim', seeds: [] }) =>
      () =>
        resolveNodeOptions({ name: 'a', dataDir: '/tmp/x', mode, admission });
    expect(options({ allow: ['not-an-id'] })).toThrow(/allow entry "not-an-id"/);
    expect(options({ certificate: 'AAAA' })).toThrow(/certificate/);
    expect(options({ ca: ['short'] })).toThrow(/admission\.ca/);
    expect(options({ allow: [] }, { kind: 'static', peers: ['127.0.0.1:1'] })).toThrow(
      /applies to swim and raft modes/,
    );
    const ca = createClusterCa();
    expect(options({ certificate: certificateFor(ca, 2, NOW, NOW + 1, 'elsewhere') })).toThrow(
      /for cluster "elsewhere"/,
    );
    expect(options({ allow: [nodeId(2)], ca: [ca.publicKey] })).not.toThrow();
  });
});

describe('admission in the membership core', () => {
  /** n1, started, admitting only members `allowed` (by name). */
  const admittingOnly = (...allowed: number[]) => {
    const state = createState(
      membershipConfig('SIM_MIN'),
      { id: nodeId(1), name: 'n1', address: address(1), labels: {} },
      0,
      ms(0),
      testSecurity(1, {
        admit: ({ id }) =>
          allowed.some((i) => nodeId(i) === id)
            ? undefined
            : `node ${id} is not in admission.allow`,
      }),
    );
    const context = ctx(1);
    checkedStep(state, { kind: 'start', now: ms(0), seeds: [] }, context);
    return { state, context };
  };

  it('a verified record of a member not admitted is refused and counted; an admitted one is taken', () => {
    const { state, context } = admittingOnly(1, 2);
    const effects = checkedStep(
      state,
      receiveGossip(ms(1), 2, [alive(2, 1), alive(3, 1)]),
      context,
    );
    expect(state.members.has(nodeId(2))).toBe(true);
    expect(state.members.has(nodeId(3))).toBe(false);
    expect(state.counters.admissionRefused).toBe(1);
    expect(effects.find((e) => e.kind === 'security')).toMatchObject({
      reason: 'admission_refused',
      detail: expect.stringMatching(/not in admission.allow/),
    });
  });

  it('a join by a node not admitted is answered with not_admitted and a reason; the joiner reports it', () => {
    const { state: seed, context: seedCtx } = admittingOnly(1);
    const joiner = startedWith(2, []);
    const join = sends(
      checkedStep(
        joiner.state,
        { kind: 'join', now: ms(1), addresses: [address(1)] },
        joiner.context,
      ),
    )[0]!;
    const answer = sends(
      checkedStep(
        seed,
        { kind: 'receive', now: ms(2), from: address(2), channel: 'stream', message: join.message },
        seedCtx,
      ),
    );
    expect(answer).toMatchObject([
      { to: address(2), message: { type: 'reject', reason: 'not_admitted' } },
    ]);
    expect(seed.members.has(nodeId(2))).toBe(false);
    const result = checkedStep(
      joiner.state,
      {
        kind: 'receive',
        now: ms(3),
        from: address(1),
        channel: 'stream',
        message: answer[0]!.message,
      },
      joiner.context,
    );
    expect(result.find((e) => e.kind === 'join-result')).toMatchObject({
      ok: false,
      reason: 'not_admitted',
      detail: expect.stringMatching(/does not admit .* not in admission.allow/),
    });
  });

  it('a push-pull view cannot smuggle in a member the policy refuses', () => {
    const { state, context } = admittingOnly(1, 2);
    checkedStep(state, pushPullFrom(ms(1), 2, state.fingerprint, [memberRecord(5, 1)]), context);
    expect(state.members.has(nodeId(2))).toBe(true);
    expect(state.members.has(nodeId(5))).toBe(false);
    expect(state.counters.admissionRefused).toBe(1);
  });
});
