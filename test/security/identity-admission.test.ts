/**
 * Issue 12 over real sockets: two processes running one identity (a copied data dir) both report
 * it; a cluster with admission refuses a node it does not admit at join, with a reason the
 * refused node reports, and refuses a member made up by an attacker with a key of its own, while
 * the admitted members stay one healthy view.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../src/identity/member-crypto.js';
import { encodeMessage } from '../../src/membership/codec.js';
import { createClusterCa, signNodeCertificate } from '../../src/node/admission.js';
import type { SecurityEvent } from '../../src/node/events.js';
import type { NodeOptions } from '../../src/node/options.js';
import { signRecord } from '../../src/membership/record.js';
import { memberCrypto, publicKeyHex } from '../../src/identity/member-crypto.js';
import { incarnation } from '../../src/base/units.js';
import { waitFor } from '../helpers/wait.js';
import { LoopbackCluster } from './loopback.js';
import { SocketAttacker } from './sockets.js';

const loopback = new LoopbackCluster('sec');
const start = (name: string, dir: string, seeds: string[], extra: Partial<NodeOptions> = {}) =>
  loopback.start(name, seeds, { ...extra, dataDir: dir });
const dataDir = (name: string): string => loopback.dataDir(name);

afterEach(() => loopback.cleanup());

/** The public key (base64) in a data dir's identity file (created by a first start). */
function publicKeyOf(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')) as { publicKey: string })
    .publicKey;
}

describe('two processes with one identity (issue 12)', () => {
  it('both see a record of themselves they did not sign and report identity_conflict', async () => {
    const a = await start('a', dataDir('a'), []);
    const b = await start('b', dataDir('b'), [a.node.address]);
    await waitFor(() => a.node.members().length === 2, 10_000, 'a and b joined');
    // A copy of b's data dir (its identity.json) run as a second process on another port.
    const copy = dataDir('b-copy');
    mkdirSync(copy, { recursive: true });
    copyFileSync(join(b.node.options.dataDir, 'identity.json'), join(copy, 'identity.json'));
    const twin = await start('b', copy, [a.node.address]);
    expect(twin.node.id).toBe(b.node.id);
    const conflict = (s: SecurityEvent[]) => s.some((e) => e.reason === 'identity_conflict');
    await waitFor(
      () => conflict(b.security) && conflict(twin.security),
      15_000,
      () =>
        `b: ${b.security.map((e) => e.reason).join()} twin: ${twin.security.map((e) => e.reason).join()}`,
    );
    expect(b.security.find((e) => e.reason === 'identity_conflict')?.detail).toMatch(
      /another process runs with the same identity/,
    );
  }, 40_000);
});

describe('admission over loopback (issue 12)', () => {
  it('a CA cluster refuses a node without a certificate at join, with a reason it reports, and a made-up member', async () => {
    const ca = createClusterCa();
    const now = Date.now();
    const admitted = async (name: string, seeds: string[]) => {
      const dir = dataDir(name);
      // A first start without admission creates the identity; the operator then certifies its key.
      const probe = await start(name, dir, [], {});
      await loopback.stop(probe.node);
      const certificate = signNodeCertificate(ca.privateKey, {
        clusterId: 'sec',
        publicKey: publicKeyOf(dir),
        notBeforeMs: now - 60_000,
        notAfterMs: now + 3_600_000,
      });
      return start(name, dir, seeds, { admission: { ca: [ca.publicKey], certificate } });
    };
    const a = await admitted('a', []);
    const b = await admitted('b', [a.node.address]);
    await waitFor(
      () => a.node.members().filter((m) => m.state === 'alive').length === 2,
      10_000,
      'a and b',
    );

    const stranger = await start('stranger', dataDir('stranger'), []);
    await expect(stranger.node.join([a.node.address])).rejects.toMatchObject({
      code: 'ERR_JOIN_FAILED',
      message: expect.stringMatching(/not_admitted.*carries no certificate/),
    });
    expect(stranger.security.some((e) => e.reason === 'not_admitted')).toBe(true);
    expect(a.node.members().some((m) => m.id === stranger.node.id)).toBe(false);
    expect(a.node.stats().protocol['admissionRefused']).toBeGreaterThanOrEqual(1);

    // Started with the CA member as its seed, the stranger retries every few hundred ms and is
    // refused each time: it reports not_admitted once per securityLogIntervalMs, not per retry.
    const failures: string[] = [];
    const retrying = await loopback.start(
      'retrying',
      [a.node.address],
      {},
      { securityLogIntervalMs: 60_000, joinTimeoutMs: 300, reconnectIntervalMs: 300 },
    );
    retrying.node.on('join', (e) => failures.push(e.reason ?? 'ok'));
    await waitFor(
      () => failures.length >= 4,
      15_000,
      () => `join failures: ${failures.join()}`,
    );
    expect(failures.every((reason) => reason === 'not_admitted')).toBe(true);
    expect(retrying.security.map((e) => e.reason)).toEqual(['not_admitted']);
    expect(retrying.node.joinStatus()).toMatchObject({ joined: false, reason: 'not_admitted' });

    // An attacker makes up a member with a key of its own and gossips its genuine record.
    const attacker = await SocketAttacker.open(false);
    loopback.attacker = attacker;
    const own = identityFromSeed(new Uint8Array(32).fill(0x3c));
    const record = signRecord(memberCrypto(own), 'sec', 'alive', {
      id: own.nodeId,
      incarnation: incarnation(1),
      name: 'mallory',
      address: attacker.address,
      labels: { 'shoal.leader-term': '99999' },
      publicKey: publicKeyHex(own),
      certificate: undefined,
    });
    const refusedBefore = b.node.stats().protocol['admissionRefused'] ?? 0;
    await attacker.sendPacket(
      b.node.address,
      encodeMessage({ type: 'gossip', from: own.nodeId, updates: [record] }, 'sec'),
    );
    await waitFor(
      () => (b.node.stats().protocol['admissionRefused'] ?? 0) > refusedBefore,
      10_000,
      'b refuses mallory',
    );
    expect(
      b.node
        .members()
        .map((m) => m.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(b.node.leader()?.id).not.toBe(own.nodeId);
  }, 60_000);
});
