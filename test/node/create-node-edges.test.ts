/**
 * `createNode` refuses what it cannot run with, with one clear error and nothing left behind:
 * a listen address that is not an IP literal, a peer name that does not resolve, a `__proto__`
 * key, a corrupt `membership/incarnation` file (empty, garbage, negative, unsafe, a directory),
 * a data dir this user cannot write. After each refusal the cluster port is free again (no
 * socket bound, no timer left to fail later).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { NetTransport } from '../../src/transport/net.js';
import { NOBODY_ID, runUnprivileged } from '../helpers/unprivileged.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-create-edges-'));
const open: ShoalNode[] = [];
let made = 0;

afterEach(async () => {
  await Promise.all(open.splice(0).map((node) => node.close()));
});

function options(extra: Partial<NodeOptions> = {}): NodeOptions {
  made++;
  return {
    name: `e${made}`,
    dataDir: join(dataRoot, `e${made}`),
    bind: '127.0.0.1:0',
    mode: { kind: 'swim', seeds: [] },
    profile: 'local',
    ...extra,
  };
}

async function refusal(input: NodeOptions): Promise<{ code?: string; message: string }> {
  try {
    open.push(await createNode(input));
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('createNode did not refuse');
}

/** Proves nothing holds `address`: a transport binds it (then lets go). */
async function expectFree(address: string): Promise<void> {
  const probe = await NetTransport.bind(address);
  await probe.close();
}

describe('addresses', () => {
  it.each([
    ['999.1.1.1:1', 'not a valid IPv4 address'],
    ['1.2.3:4', 'not a valid IPv4 address'],
    ['localhost:0', 'not an IP address'],
    ['no-port', 'must be host:port'],
  ])('bind %s is ERR_INVALID_CONFIG naming bind', async (bind, why) => {
    const err = await refusal(options({ bind }));
    expect(err.code).toBe('ERR_INVALID_CONFIG');
    expect(err.message).toMatch(
      new RegExp(
        `^invalid node option bind \\(${JSON.stringify(bind).replace(/[.()[\]]/g, '\\$&')}\\)`,
      ),
    );
    expect(err.message).toContain(why);
  });

  it('a seed that is not an IP or a resolvable name is refused naming it, before any port is bound', async () => {
    const [bind] = (await freeClusterAddresses(1)) as [string];
    const bad = await refusal(options({ bind, mode: { kind: 'swim', seeds: ['999.1.1.1:7946'] } }));
    expect(bad).toMatchObject({ code: 'ERR_INVALID_CONFIG' });
    expect(bad.message).toContain('not a valid IPv4 address');
    const unknown = await refusal(
      options({
        bind,
        mode: { kind: 'swim', seeds: ['127.0.0.1:7946', 'no-such-host.invalid:7946'] },
      }),
    );
    expect(unknown.code).toBe('ERR_INVALID_CONFIG');
    expect(unknown.message).toMatch(/mode\.seeds\[1\] "no-such-host\.invalid:7946": the name/);
    await expectFree(bind);
  });

  it('a __proto__ label is refused (it would vanish or set a prototype in validation)', async () => {
    const labels = JSON.parse('{"zone":"a","__proto__":{"polluted":"yes"}}') as Record<
      string,
      string
    >;
    const err = await refusal(options({ labels }));
    expect(err).toMatchObject({ code: 'ERR_INVALID_CONFIG' });
    expect(err.message).toContain('labels.__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('a bad membership/incarnation file is one error, and the port is released', () => {
  it.each([
    ['empty', ''],
    ['garbage', 'xyz\n'],
    ['negative', '-5\n'],
    ['unsafe', '99999999999999999999\n'],
    ['a directory', undefined],
  ])('%s', async (_what, content) => {
    const [bind] = (await freeClusterAddresses(1)) as [string];
    const input = options({ bind });
    mkdirSync(join(input.dataDir, 'membership'), { recursive: true });
    const file = join(input.dataDir, 'membership', 'incarnation');
    if (content === undefined) mkdirSync(file);
    else writeFileSync(file, content);
    const err = await refusal(input);
    expect(['ERR_STORAGE_CORRUPT', 'ERR_STORAGE_IO']).toContain(err.code);
    expect(err.message).toContain('membership/incarnation');
    expect(err.message.split('\n')).toHaveLength(1);
    await expectFree(bind);
  });
});

describe('a data dir this user cannot write', () => {
  it('is ERR_STORAGE_IO naming the directory, before any port is bound', async () => {
    const [bind] = (await freeClusterAddresses(1)) as [string];
    const dir = mkdtempSync(join(tmpdir(), 'shoal-readonly-'));
    chmodSync(dir, 0o755);
    // An identity the unprivileged user made, then a directory under it made read-only.
    const data = join(dir, 'data');
    mkdirSync(join(data, 'membership'), { recursive: true });
    if (process.getuid?.() === 0) {
      chownSync(data, NOBODY_ID, NOBODY_ID);
      chownSync(join(data, 'membership'), NOBODY_ID, NOBODY_ID);
    }
    const result = (await runUnprivileged(
      ['src/identity/identity.ts', 'src/node/node.ts'],
      `
      const dir = ${JSON.stringify(data)};
      m0.loadOrCreateIdentitySync(dir);
      return { made: true };
      `,
    )) as { made: boolean };
    expect(result.made).toBe(true);
    chmodSync(join(data, 'membership'), 0o555);
    const refused = (await runUnprivileged(
      ['src/node/node.ts'],
      `
      try {
        const node = await m0.createNode({ name: 'ro', dataDir: ${JSON.stringify(data)}, bind: ${JSON.stringify(bind)}, mode: { kind: 'swim', seeds: [] } });
        await node.close();
        return { code: 'started', message: '' };
      } catch (e) {
        return { code: e.code, message: e.message };
      }
      `,
    )) as { code: string; message: string };
    expect(refused.code).toBe('ERR_STORAGE_IO');
    expect(refused.message).toContain(join(data, 'membership'));
    expect(refused.message).toContain('not writable');
    await expectFree(bind);
  });
});
