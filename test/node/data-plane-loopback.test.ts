/**
 * The data plane over real UDP/TCP sockets on 127.0.0.1 (issue 16): four `swim` nodes in this
 * process advertise a service each, every node lists all four and resolves the local instance
 * when it prefers itself; a node that stops without leaving disappears from every list and
 * resolution once the others declare it dead, and its partition is withdrawn after the
 * withdrawal delay; a node that leaves disappears at once. The registry shares each node's one
 * cluster port with membership (port-split.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MembershipConfig } from '../../src/membership/config.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { ServiceEvent } from '../../src/node/data-plane-api.js';
import { waitFor } from '../helpers/wait.js';

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
const WITHDRAW_DELAY_MS = 1000;

const dirs: string[] = [];
const nodes: ShoalNode[] = [];

async function start(name: string, seeds: string[]): Promise<ShoalNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `shoal-dp-${name}-`));
  dirs.push(dataDir);
  const node = await createNode(
    {
      name,
      dataDir,
      bind: '127.0.0.1:0',
      mode: { kind: 'swim', seeds },
      clusterId: 'dp',
      profile: 'local',
    },
    {},
    {
      membership: FAST,
      checkInvariants: true,
      registry: {
        gossipIntervalMs: 50,
        pushPullIntervalMs: 500,
        withdrawDelayMs: WITHDRAW_DELAY_MS,
      },
    },
  );
  nodes.push(node);
  return node;
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const names = (node: ShoalNode): string[] =>
  node.services
    .list('api')
    .map((i) => i.address)
    .sort();

describe('the data plane over loopback', () => {
  it('four nodes advertise and resolve; a crashed node disappears, then is withdrawn; a leaver at once', async () => {
    const seed = await start('a', []);
    const others = await Promise.all(['b', 'c', 'd'].map((n) => start(n, [seed.address])));
    const all = [seed, ...others];
    await waitFor(
      () => all.every((n) => n.members().filter((m) => m.state === 'alive').length === 4),
      15_000,
      'every node sees 4 alive',
    );
    all.forEach((n, i) =>
      n.services.advertise({ name: 'api', address: `10.0.0.${i}:8080`, tags: ['v2'] }),
    );
    const everyAddress = ['10.0.0.0:8080', '10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'];
    await waitFor(
      () => all.every((n) => JSON.stringify(names(n)) === JSON.stringify(everyAddress)),
      15_000,
      () => `every node lists 4 instances: ${all.map((n) => names(n).length).join(', ')}`,
    );
    for (const [i, n] of all.entries())
      expect(n.services.resolve('api', { prefer: n.id })?.address, 'the local instance').toBe(
        `10.0.0.${i}:8080`,
      );
    const stats = seed.stats().dataPlane;
    expect(stats?.counters['signaturesChecked']).toBeGreaterThan(0);
    expect(stats?.counters['signaturesInvalid']).toBe(0);
    expect(stats?.transport?.packetsSent).toBeGreaterThan(0);

    const [b, c, d] = others as [ShoalNode, ShoalNode, ShoalNode];
    const watch = new AbortController();
    const seen: ServiceEvent[] = [];
    const reading = (async () => {
      for await (const e of seed.services.watch('api', { signal: watch.signal })) seen.push(e);
    })();
    await waitFor(() => seen.length === 4, 5_000, 'the watch starts with the 4 instances');

    await d.close(); // crash: no leave
    const survivors = [seed, b, c];
    await waitFor(
      () => survivors.every((n) => !names(n).includes('10.0.0.3:8080')),
      15_000,
      'the crashed node is listed nowhere',
    );
    for (const n of survivors) {
      expect(n.members().find((m) => m.id === d.id)?.state).toBe('dead');
      for (let t = 0; t < 6; t++) expect(n.services.resolve('api')?.node).not.toBe(d.id);
    }
    await waitFor(
      () => survivors.every((n) => n.internals.registry?.state.partitions.has(d.id) === false),
      15_000,
      'its partition is withdrawn after the delay',
    );
    await waitFor(
      () => seen.some((e) => e.type === 'removed' && e.instance.node === d.id),
      5_000,
      'the watcher saw it removed',
    );

    await c.leave();
    await waitFor(
      () => [seed, b].every((n) => !names(n).includes('10.0.0.2:8080')),
      15_000,
      'the leaver is listed nowhere',
    );
    watch.abort();
    await reading;
    expect(names(seed)).toEqual(['10.0.0.0:8080', '10.0.0.1:8080']);
  }, 60_000);

  it('a single node serves its own registry; a static node refuses the API with ERR_MODE_UNSUPPORTED', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-dp-single-'));
    dirs.push(dataDir);
    const single = await createNode({ name: 's', dataDir, mode: { kind: 'single' } });
    nodes.push(single);
    single.services.advertise({ name: 'db', address: 'h:5432' });
    expect(single.services.resolve('db')?.node).toBe(single.id);
    expect(single.placement.owners('k', { replicas: 3 })).toEqual([single.id]);
    single.processes.advertise({ pid: 'w1', type: 'worker', load: 0.5 });
    expect(single.processes.leastLoadedNode({ type: 'worker' })).toBe(single.id);

    const staticDir = mkdtempSync(join(tmpdir(), 'shoal-dp-static-'));
    dirs.push(staticDir);
    const fixed = await createNode({
      name: 'f',
      dataDir: staticDir,
      bind: '127.0.0.1:0',
      mode: { kind: 'static', peers: ['127.0.0.1:1'] },
    });
    nodes.push(fixed);
    expect(() => fixed.services.list()).toThrow(
      expect.objectContaining({ code: 'ERR_MODE_UNSUPPORTED' }),
    );
    expect(() => fixed.placement).toThrow(/modes swim and single/);
    await single.close();
    expect(() => single.services.advertise({ name: 'x', address: 'y' })).toThrow(
      expect.objectContaining({ code: 'ERR_TRANSPORT_CLOSED' }),
    );
  });
});
