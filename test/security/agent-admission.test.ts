/**
 * Admission over real `shoal agent` processes, as an operator sets it up (docs/security.md,
 * "Admission"): `shoal ca create`, `shoal ca sign --data-dir` for two nodes, both started with
 * `--admission-ca` and `--admission-cert`; they form a cluster. A third node without a
 * certificate is refused at join: it is not joined (`/v1/health` 503 `not_admitted`, no leader),
 * it logs why once, and the member that refused it logs and counts `admission_refused` on
 * `/metrics`. An outsider never enters the members' view.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateIdentitySync } from '../../src/identity/identity.js';
import { shoal } from '../helpers/run-cli.js';
import { until, waitFor } from '../helpers/wait.js';
import {
  converged,
  getJson,
  members,
  metrics,
  securityLines,
  startAgents,
  stopAgents,
  tempDir,
} from './agents.js';

afterEach(() => stopAgents());

describe('admission with real agents (issue 12)', () => {
  it('two certified agents form a cluster; an agent without a certificate is refused and says why', async () => {
    const caDir = tempDir('ca');
    expect((await shoal('ca', 'create', '--dir', caDir)).code).toBe(0);
    const certified = ['a', 'b'].map((name) => {
      const dataDir = tempDir(name);
      loadOrCreateIdentitySync(dataDir);
      return { name, dataDir, cert: `${dataDir}.cert` };
    });
    for (const { dataDir, cert } of certified) {
      const signed = await shoal(
        ...['ca', 'sign', '--ca-key', `${caDir}/ca.key`, '--data-dir', dataDir],
        ...['--cluster-id', 'adm', '--valid-for', '1h', '--out', cert],
      );
      expect(signed.code, signed.err).toBe(0);
    }
    const admitted = ({ name, dataDir, cert }: (typeof certified)[number]) => ({
      name,
      dataDir,
      args: ['--cluster-id', 'adm', '--admission-ca', `${caDir}/ca.pub`, '--admission-cert', cert],
    });
    const [first, second] = certified as [(typeof certified)[number], (typeof certified)[number]];
    const [a, b, outsider] = await startAgents([
      admitted(first),
      { ...admitted(second), join: ['a'] },
      { name: 'outsider', args: ['--cluster-id', 'adm'], join: ['a'] },
    ]);
    if (a === undefined || b === undefined || outsider === undefined) throw new Error('3 agents');
    await converged([a, b]);

    const health = await until(
      async () => {
        const res = await fetch(`${outsider.http}/v1/health`);
        const body = (await res.json()) as { status: string; reason?: string; detail?: string };
        return body.reason === 'not_admitted' ? { status: res.status, body } : undefined;
      },
      20_000,
      'the outsider reports not_admitted',
    );
    expect(health.status).toBe(503);
    expect(health.body.detail).toMatch(/does not admit .*carries no certificate/);
    expect(await getJson(outsider, '/v1/leader')).toMatchObject({ leader: null });
    await waitFor(
      () => securityLines(outsider, 'not_admitted').length > 0,
      10_000,
      'the outsider logs not_admitted',
    );
    expect(securityLines(outsider, 'not_admitted')[0]).toMatchObject({
      level: 40,
      msg: expect.stringMatching(/^security: refused \(not_admitted\): .*carries no certificate/),
    });
    await waitFor(
      () => securityLines(a, 'admission_refused').length > 0,
      10_000,
      'a logs admission_refused',
    );
    expect((await metrics(a)).get('shoal_admission_refused_total')).toBeGreaterThanOrEqual(1);
    expect((await metrics(outsider)).get('shoal_joined')).toBe(0);
    for (const member of [a, b])
      expect((await members(member)).map((m) => m.name).sort()).toEqual(['a', 'b']);
  }, 90_000);
});
