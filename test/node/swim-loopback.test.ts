/**
 * createNode in `swim` mode over real UDP/TCP sockets on 127.0.0.1: join through one seed,
 * detect a node that stops without leaving as dead, and a graceful leave as left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { MembershipConfig } from '../../src/membership/config.js';
import { waitFor } from '../helpers/wait.js';

/** Fast protocol timing so the test finishes in seconds; still real sockets and real timers. */
const FAST: Partial<MembershipConfig> = {
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 50,
  suspicionMult: 2,
  suspicionMaxTimeoutMult: 3,
  pushPullIntervalMs: 2000,
  joinTimeoutMs: 1000,
  leavePropagateMs: 500,
  reconnectIntervalMs: 2000,
};

const dirs: string[] = [];
const nodes: ShoalNode[] = [];

async function startAt(
  name: string,
  bind: string,
  seeds: string[],
  clusterId = 'test',
  labels: Record<string, string> = {},
): Promise<ShoalNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `shoal-${name}-`));
  dirs.push(dataDir);
  const node = await createNode(
    { name, dataDir, bind, mode: { kind: 'swim', seeds }, clusterId, profile: 'local', labels },
    {},
    { membership: FAST },
  );
  nodes.push(node);
  return node;
}

function start(
  name: string,
  seeds: string[],
  clusterId = 'test',
  labels: Record<string, string> = {},
): Promise<ShoalNode> {
  return startAt(name, '127.0.0.1:0', seeds, clusterId, labels);
}

function stateOf(observer: ShoalNode, target: ShoalNode): string | undefined {
  return observer.members().find((m) => m.id === target.id)?.state;
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('swim mode over loopback', () => {
  it('joins through one seed, sees a closed node dead and a leaving node left', async () => {
    const seed = await start('seed', []);
    const others = await Promise.all(['b', 'c', 'd'].map((name) => start(name, [seed.address])));
    const all = [seed, ...others];
    await waitFor(
      () => all.every((n) => n.members().filter((m) => m.state === 'alive').length === 4),
      10_000,
      'every node sees 4 alive',
    );

    const [b, c, d] = others as [ShoalNode, ShoalNode, ShoalNode];
    await d.close();
    await waitFor(
      () => [seed, b, c].every((n) => stateOf(n, d) === 'dead'),
      15_000,
      'survivors see d dead',
    );

    await c.leave();
    await waitFor(
      () => [seed, b].every((n) => stateOf(n, c) === 'left'),
      10_000,
      'survivors see c left',
    );
    expect(stateOf(seed, b)).toBe('alive');
    expect(seed.epoch).toBeGreaterThan(1);
  }, 60_000);

  it('emits member events through on() and events()', async () => {
    const seed = await start('seed2', []);
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of seed.events({ signal: controller.signal })) {
        if (event.kind === 'member') seen.push(`${event.type}:${event.member.name}`);
      }
    })();
    const joinedVia: string[] = [];
    seed.on('member', (e) => joinedVia.push(`${e.type}:${e.member.name}`));
    await start('e', [seed.address]);
    await waitFor(
      () => seen.includes('joined:e') && joinedVia.includes('joined:e'),
      10_000,
      'joined event for e',
    );
    controller.abort();
    await reading;
  }, 30_000);

  it('refuses a join from another cluster with a readable reason, counted on both sides', async () => {
    const seed = await start('seed3', []);
    const stranger = await start('stranger', [], 'other');
    await expect(stranger.join([seed.address])).rejects.toMatchObject({
      code: 'ERR_JOIN_FAILED',
      message: expect.stringMatching(/wrong_cluster.*belongs to cluster "test", not "other"/),
    });
    expect(seed.stats().decodeErrors['ERR_DECODE_WRONG_CLUSTER']).toBeGreaterThan(0);
    expect(stranger.stats().protocol['rejectsReceived']).toBe(1);
    expect(seed.members().map((m) => m.name)).toEqual(['seed3']);
  }, 30_000);

  it('two groups that formed apart merge once a configured seed answers', async () => {
    // Reserve b's address, so a can be configured with it before b exists.
    const probe = await start('probe', []);
    const bAddress = probe.address;
    await probe.close();
    const a = await start('group-a', [bAddress]);
    const c = await start('group-c', [a.address]);
    await waitFor(
      () => a.members().filter((m) => m.state === 'alive').length === 2,
      10_000,
      'a and c form a group',
    );
    const b = await startAt('group-b', bAddress, []);
    const d = await start('group-d', [b.address]);
    await waitFor(
      () => [a, b, c, d].every((n) => n.members().filter((m) => m.state === 'alive').length === 4),
      20_000,
      'the two groups merge into one view of 4',
    );
  }, 40_000);

  it('a node restarted without seeds rejoins through its persisted peer cache', async () => {
    const a = await start('cache-a', []);
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-cache-b-'));
    dirs.push(dataDir);
    const options = (seeds: string[]) => ({
      name: 'cache-b',
      dataDir,
      bind: '127.0.0.1:0',
      mode: { kind: 'swim' as const, seeds },
      clusterId: 'test',
      profile: 'local' as const,
    });
    const first = await createNode(options([a.address]), {}, { membership: FAST });
    nodes.push(first);
    await waitFor(
      () => first.members().filter((m) => m.state === 'alive').length === 2,
      10_000,
      'b joins a',
    );
    await first.close();
    // No seeds this time: only the cache (written at close at the latest) knows where a is.
    const second = await createNode(options([]), {}, { membership: FAST });
    nodes.push(second);
    expect(second.id).toBe(first.id);
    await waitFor(
      () => second.members().filter((m) => m.state === 'alive').length === 2,
      10_000,
      'restarted b rejoins a from its peer cache',
    );
    await waitFor(() => stateOf(a, second) === 'alive', 10_000, 'a sees b alive again');
  });

  it('join and leave honour an AbortSignal: ERR_ABORTED at once, nothing else changes', async () => {
    // A TCP listener that accepts and never answers: the join would wait for joinTimeoutMs.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const node = await start('abort', []);
      const { port } = silent.address() as AddressInfo;
      const controller = new AbortController();
      const pending = node.join([`127.0.0.1:${port}`], { signal: controller.signal });
      controller.abort(new Error('operator gave up'));
      await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'join aborted' });
      await expect(
        node.join(['127.0.0.1:1'], { signal: AbortSignal.abort() }),
      ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      await expect(node.leave({ signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'ERR_ABORTED',
        message: 'leave aborted',
      });
      // An aborted call changed nothing: the node still runs alone and alive.
      expect(node.members().map((m) => m.state)).toEqual(['alive']);
    } finally {
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('hides Shoal-reserved labels and refuses them from users', async () => {
    await expect(
      start('bad-labels', [], 'test', { 'shoal.leader-term': '9' }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
    const node = await start('labels', [], 'test', { zone: 'a' });
    expect(() => node.setLabels({ 'shoal.x': '1' })).toThrow(/reserved/);
    expect(node.members()[0]?.labels).toEqual({ zone: 'a' });
  });
});
