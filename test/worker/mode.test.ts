/** The `worker` and `worker-server` modes of createNode (INTERFACE.md, "Modes"). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode } from '../../src/node/node.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import { waitFor } from '../helpers/wait.js';
import { Tier } from './harness.js';

let tier: Tier | undefined;
afterEach(async () => {
  await tier?.close();
  tier = undefined;
});

const peers = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];

describe('mode options', () => {
  it.each([
    [{ kind: 'worker-server', peers: peers.slice(0, 2) }, 'mode.peers'],
    [
      { kind: 'worker-server', peers, minHeartbeatTtlMs: 700_000 },
      'minHeartbeatTtlMs (700000) must be below maxHeartbeatTtlMs (600000)',
    ],
    [
      { kind: 'worker-server', peers, failoverHeartbeatTtlMs: 1_000 },
      'failoverHeartbeatTtlMs (1000) must be at least 10 × minHeartbeatTtlMs (100000)',
    ],
    [{ kind: 'worker', servers: [] }, 'mode.servers'],
  ])('%j is refused naming the field', (mode, message) => {
    expect(() => resolveNodeOptions({ name: 'a', dataDir: '/tmp/x', mode })).toThrow(message);
  });

  it('worker-server waits for raft mode: createNode refuses it clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-ws-'));
    try {
      await expect(
        createNode({
          name: 's',
          dataDir: dir,
          bind: '127.0.0.1:0',
          mode: { kind: 'worker-server', peers },
        }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('worker mode', () => {
  it('registers with the token file and yields its assignments through node.assignments()', async () => {
    const t = (tier = new Tier());
    await t.addServer();
    t.setLeader(0);
    await waitFor(() => t.servers[0]!.view.caPems.size === 1, 5_000, 'CA published');
    const tokenFile = join(t.dir, 'token');
    writeFileSync(tokenFile, `${t.servers[0]!.createToken({ maxUses: 1 }).token}\n`);
    const node = await createNode({
      name: 'w1',
      dataDir: join(t.dir, 'node'),
      mode: { kind: 'worker', servers: [t.servers[0]!.address], tokenFile },
      labels: { zone: 'a' },
    });
    try {
      await waitFor(() => t.servers[0]!.view.workers.size === 1, 10_000, 'registered');
      await t.servers[0]!.scale('api', 2, {
        spec: { image: 'api:1' },
        placement: { servers: false },
      });
      const seen: string[] = [];
      let sets = 0;
      const signal = AbortSignal.timeout(10_000);
      // The scale may land before or after the stream opens: in the snapshot or in a batch.
      for await (const update of node.assignments({ signal })) {
        seen.push(update.kind);
        sets +=
          update.kind === 'snapshot'
            ? update.assignments.length
            : update.events.filter((e) => e.type === 'set').length;
        if (sets > 0) break;
      }
      expect(seen[0]).toBe('snapshot');
      expect(sets).toBeGreaterThan(0);
      expect([...t.servers[0]!.view.workers.values()][0]?.labels).toEqual({ zone: 'a' });
      expect(node.stats().protocol['workerRegistered']).toBe(1);
    } finally {
      await node.close();
    }
  });
});
