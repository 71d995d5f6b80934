/**
 * The data plane's settings as user options (issue 16: "eagerPushesMax and the chain's pull
 * interval through public options, not only internals"): `NodeOptions.eagerPushesMax` and
 * `NodeOptions.chain` (`pullIntervalMs`, `payloadBytesMax`, `entriesKeptMax`) reach the registry
 * core and the chain service; out-of-range values are refused with ERR_INVALID_CONFIG naming the
 * field; the agent takes them as config fields, flags and `SHOAL_*` variables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';
import { hasErrorCode } from '../../src/base/errors.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';

const dirs: string[] = [];
const nodes: ShoalNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(extra: Partial<NodeOptions>): Promise<ShoalNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-settings-option-'));
  dirs.push(dataDir);
  const node = await createNode({
    name: 's',
    dataDir,
    bind: '127.0.0.1:0',
    mode: { kind: 'swim', seeds: [] },
    profile: 'local',
    ...extra,
  });
  nodes.push(node);
  return node;
}

function refusedNaming(field: RegExp): (e: unknown) => boolean {
  return (e) => hasErrorCode(e, 'ERR_INVALID_CONFIG') && field.test((e as Error).message);
}

describe('data plane settings as NodeOptions', () => {
  it('defaults, takes eagerPushesMax and chain settings, and refuses bad values by name', async () => {
    const plain = await start({});
    expect(plain.internals.registry?.state.config.eagerPushesMax).toBe(4);
    expect(plain.internals.chain?.settings()).toMatchObject({
      pullIntervalMs: 1000,
      payloadBytesMax: 65_536,
      entriesKeptMax: 4096,
    });
    const set = await start({
      eagerPushesMax: 0,
      chain: { pullIntervalMs: 250, payloadBytesMax: 1024, entriesKeptMax: 100_000 },
    });
    expect(set.internals.registry?.state.config.eagerPushesMax).toBe(0);
    expect(set.internals.chain?.settings()).toMatchObject({
      pullIntervalMs: 250,
      payloadBytesMax: 1024,
      entriesKeptMax: 100_000,
      // Raised to cover the entries kept.
      hashesKeptMax: 100_000,
    });
    // The payload bound is enforced on append.
    expect(() => set.chain.append(new Uint8Array(1025))).toThrow();
    await expect(start({ eagerPushesMax: -1 })).rejects.toSatisfy(refusedNaming(/eagerPushesMax/));
    await expect(start({ chain: { pullIntervalMs: 0 } })).rejects.toSatisfy(
      refusedNaming(/chain\.pullIntervalMs/),
    );
    await expect(start({ chain: { payloadBytesMax: 2_000_000 } })).rejects.toSatisfy(
      refusedNaming(/chain\.payloadBytesMax/),
    );
    await expect(
      start({ chain: { pullIntervalMs: 100, pullEveryMs: 5 } as NodeOptions['chain'] }),
    ).rejects.toSatisfy(refusedNaming(/pullEveryMs/));
  });

  it('are agent settings: config fields, flags and SHOAL_* variables', () => {
    const plain = resolveAgentConfig({ name: 'n' }, {}).node;
    expect(plain.eagerPushesMax).toBeUndefined();
    expect(plain.chain).toBeUndefined();
    const flags = resolveAgentConfig(
      {
        name: 'n',
        eagerPushesMax: '2',
        chainPullIntervalMs: '500',
        chainPayloadBytesMax: '4096',
        chainEntriesKeptMax: '8192',
      },
      {},
    ).node;
    expect(flags.eagerPushesMax).toBe(2);
    expect(flags.chain).toEqual({
      pullIntervalMs: 500,
      payloadBytesMax: 4096,
      entriesKeptMax: 8192,
    });
    const env = resolveAgentConfig(
      { name: 'n' },
      { SHOAL_CHAIN_PULL_INTERVAL_MS: '2000', SHOAL_EAGER_PUSHES_MAX: '8' },
    ).node;
    expect(env.chain).toEqual({ pullIntervalMs: 2000 });
    expect(env.eagerPushesMax).toBe(8);
    expect(() => resolveAgentConfig({ name: 'n', chainPullIntervalMs: '5' }, {})).toThrow(
      /chainPullIntervalMs \(from --chain-pull-interval-ms\)/,
    );
    expect(() => resolveAgentConfig({ name: 'n' }, { SHOAL_EAGER_PUSHES_MAX: 'lots' })).toThrow(
      /eagerPushesMax \(from SHOAL_EAGER_PUSHES_MAX\)/,
    );
  });
});
