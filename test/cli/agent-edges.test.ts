/**
 * `shoal agent` refusals as an operator sees them, run in-process through `main`: a bad value
 * is exit 2 with one line naming the field (a bind that is not an IP, a join name that does not
 * resolve, a config with an alias cycle); a corrupt incarnation file or a data dir this user
 * cannot write is exit 1 with one line, never a stack trace and never a process left running
 * with its ports bound.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { NetTransport } from '../../src/transport/net.js';
import { NOBODY_ID, runUnprivileged } from '../helpers/unprivileged.js';
import { shoal } from '../helpers/run-cli.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-cli-edges-'));

function agentArgs(name: string, bind = '127.0.0.1:0'): string[] {
  return ['agent', '--name', name, '--bind', bind, '--http', '127.0.0.1:0', '--profile', 'local'];
}

describe('exit 2 with one line naming the field', () => {
  it.each([
    ['--bind 999.1.1.1:1', ['--bind', '999.1.1.1:1'], /bind \(from --bind\) "999\.1\.1\.1:1"/],
    ['--join 999.1.1.1:1', ['--join', '999.1.1.1:1'], /join\.0 \(from --join\) "999\.1\.1\.1:1"/],
    [
      '--join no-such-host.invalid:1',
      ['--join', 'no-such-host.invalid:1'],
      /join \(from --join\) "no-such-host\.invalid:1": the name "no-such-host\.invalid" does not resolve/,
    ],
  ])('%s', async (_what, extra, message) => {
    const { code, err } = await shoal(
      ...agentArgs('bad'),
      '--data-dir',
      join(dataRoot, 'bad'),
      ...extra,
    );
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('a config file with an alias cycle', async () => {
    const file = join(dataRoot, 'cycle.yaml');
    writeFileSync(file, 'name: a\nlabels: &l\n  x: *l\n');
    const { code, err } = await shoal('agent', '--config', file);
    expect(code).toBe(2);
    expect(err).toMatch(/alias cycle: labels\.x/);
  });
});

describe('exit 1 with one line, the port released', () => {
  it('a garbage membership/incarnation file', async () => {
    const [bind] = (await freeClusterAddresses(1)) as [string];
    const dataDir = join(dataRoot, 'garbage');
    mkdirSync(join(dataDir, 'membership'), { recursive: true });
    writeFileSync(join(dataDir, 'membership', 'incarnation'), 'garbage\n');
    const { code, err } = await shoal(...agentArgs('garbage', bind), '--data-dir', dataDir);
    expect(code).toBe(1);
    expect(err).toMatch(/^shoal: membership\/incarnation holds "garbage\\n", not a safe/);
    expect(err.trim().split('\n')).toHaveLength(1);
    await (await NetTransport.bind(bind)).close();
  });

  it('a data dir this user cannot write', async () => {
    const [bind] = (await freeClusterAddresses(1)) as [string];
    const root = mkdtempSync(join(tmpdir(), 'shoal-cli-ro-'));
    chmodSync(root, 0o755);
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    if (process.getuid?.() === 0) chownSync(dataDir, NOBODY_ID, NOBODY_ID);
    await runUnprivileged(
      ['src/identity/identity.ts'],
      `m0.loadOrCreateIdentitySync(${JSON.stringify(dataDir)});`,
    );
    chmodSync(dataDir, 0o555);
    const result = (await runUnprivileged(
      ['src/cli/main.ts'],
      `
      let err = '';
      process.stderr.write = (chunk) => { err += String(chunk); return true; };
      const code = await m0.main(['node', 'shoal', ${agentArgs('ro', bind)
        .map((a) => JSON.stringify(a))
        .join(', ')}, '--data-dir', ${JSON.stringify(dataDir)}]);
      return { code, err };
      `,
    )) as { code: number; err: string };
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(`^shoal: data dir ${dataDir} is not writable \\(EACCES\\)`),
    );
    expect(result.err.trim().split('\n')).toHaveLength(1);
    await (await NetTransport.bind(bind)).close();
  });
});
