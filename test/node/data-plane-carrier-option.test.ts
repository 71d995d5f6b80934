/**
 * `gossipCarrier` as a user setting (issue 16): a NodeOptions field (default `own`, as measured:
 * docs/design/data-plane.md, "Piggyback carrier"), validated, reaching the registry core; and
 * the agent's `gossipCarrier` config field, `--gossip-carrier` flag and `SHOAL_GOSSIP_CARRIER`
 * variable, a bad value refused naming the field.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../src/agent/config-layers.js';
import { hasErrorCode } from '../../src/base/errors.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';

const dirs: string[] = [];
const nodes: ShoalNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(gossipCarrier?: 'own' | 'piggyback'): Promise<ShoalNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shoal-carrier-option-'));
  dirs.push(dataDir);
  const node = await createNode({
    name: 'c',
    dataDir,
    bind: '127.0.0.1:0',
    mode: { kind: 'swim', seeds: [] },
    profile: 'local',
    ...(gossipCarrier === undefined ? {} : { gossipCarrier }),
  });
  nodes.push(node);
  return node;
}

describe('gossipCarrier', () => {
  it('defaults to own, takes piggyback, and refuses anything else', async () => {
    expect((await start()).internals.registry?.state.config.gossipCarrier).toBe('own');
    expect((await start('piggyback')).internals.registry?.state.config.gossipCarrier).toBe(
      'piggyback',
    );
    await expect(start('pigeon' as 'own')).rejects.toSatisfy(
      (e) => hasErrorCode(e, 'ERR_INVALID_CONFIG') && /gossipCarrier/.test((e as Error).message),
    );
  });

  it('is an agent setting: config field, --gossip-carrier, SHOAL_GOSSIP_CARRIER', () => {
    expect(resolveAgentConfig({ name: 'n' }, {}).node.gossipCarrier).toBe('own');
    expect(
      resolveAgentConfig({ name: 'n', gossipCarrier: 'piggyback' }, {}).node.gossipCarrier,
    ).toBe('piggyback');
    expect(
      resolveAgentConfig({ name: 'n' }, { SHOAL_GOSSIP_CARRIER: 'piggyback' }).node.gossipCarrier,
    ).toBe('piggyback');
    expect(() => resolveAgentConfig({ name: 'n', gossipCarrier: 'udp' }, {})).toThrow(
      /gossipCarrier/,
    );
  });
});
