/**
 * Joining, as a user of a swim node sees it, over real loopback sockets (LOCAL profile):
 * a node started with seeds is not joined until another member enters its view and reports no
 * leader until then (node/swim-joins.ts); every attempt is a `join` event whose failure says why
 * (a wrong key, a full inbound limit, another cluster); `node.join` counts the addresses that
 * answered, one attempt each; names are resolved at the edge. Every wait is bounded.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { JoinEvent } from '../../src/node/events.js';
import type { NodeOptions } from '../../src/node/options.js';
import type { NodeInternals } from '../../src/node/runtime.js';
import { generateKey } from '../../src/transport/keyring.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { waitFor } from '../helpers/wait.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-join-status-'));
const open: ShoalNode[] = [];
let made = 0;

async function start(
  seeds: string[],
  extra: Partial<NodeOptions> = {},
  internals: NodeInternals = {},
): Promise<ShoalNode> {
  const node = await createNode(
    {
      name: `j${++made}`,
      dataDir: join(dataRoot, `j${made}`),
      bind: '127.0.0.1:0',
      mode: { kind: 'swim', seeds },
      profile: 'local',
      ...extra,
    },
    {},
    internals,
  );
  open.push(node);
  return node;
}

function joinEvents(node: ShoalNode): JoinEvent[] {
  const events: JoinEvent[] = [];
  node.on('join', (e) => events.push(e));
  return events;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((node) => node.close()));
});
afterAll(() => undefined);

describe('not joined: no leader of a one-node cluster', () => {
  it('a node whose seed does not answer reports no leader, says why, and leads once the seed comes', async () => {
    const [seedAddress] = await freeClusterAddresses(1);
    const lonely = await start([seedAddress as string]);
    const events = joinEvents(lonely);
    const leaders: unknown[] = [];
    lonely.on('leader', (e) => leaders.push(e));
    await waitFor(() => events.length >= 1, 10_000, 'the first join fails');
    // The lonely node is alive in a view of one since its first join failed. A control node
    // started now, alone by design, leads itself after the same stabilization window, so by
    // then the lonely node would have claimed too, were it not held back.
    const control = await start([]);
    await waitFor(() => control.leader()?.id === control.id, 10_000, 'the control leads itself');
    await waitFor(() => events.length >= 2, 10_000, 'a retry fails too');
    expect(events[0]).toMatchObject({ by: 'start', ok: false, reason: 'unreachable' });
    expect(events[1]).toMatchObject({ by: 'retry', ok: false });
    expect(lonely.joinStatus()).toMatchObject({ joined: false, reason: 'unreachable' });
    expect((lonely.joinStatus() as { detail: string }).detail).toContain(seedAddress);
    expect(lonely.leader()).toBeUndefined();
    expect(leaders).toEqual([]);
    const seed = await createNode({
      name: 'seed',
      dataDir: join(dataRoot, 'seed'),
      bind: seedAddress as string,
      mode: { kind: 'swim', seeds: [] },
      profile: 'local',
    });
    open.push(seed);
    await waitFor(() => lonely.joinStatus().joined, 15_000, 'the retry reaches the seed');
    await waitFor(
      () => lonely.leader() !== undefined && lonely.leader()?.id === seed.leader()?.id,
      15_000,
      'both agree on a leader',
    );
  });

  it('a node without seeds is a cluster of one from the start, and leads it', async () => {
    const alone = await start([]);
    expect(alone.joinStatus()).toEqual({ joined: true });
    await waitFor(() => alone.leader()?.id === alone.id, 10_000, 'it leads itself');
  });

  it('a node whose only seed is its own address is joined (nothing else to reach)', async () => {
    const [address] = await freeClusterAddresses(1);
    const self = await start([address as string], { bind: address as string });
    expect(self.joinStatus()).toEqual({ joined: true });
  });
});

describe('join refusals say why', () => {
  it('another gossip key: the seed refuses our connection (auth_failed) and counts it', async () => {
    const seed = await start([], { keyring: [generateKey()] });
    await waitFor(() => seed.leader() !== undefined, 10_000, 'the seed leads itself');
    const stranger = await start([seed.address], { keyring: [generateKey()] });
    await waitFor(
      () => JSON.stringify(stranger.joinStatus()).includes('auth_failed'),
      15_000,
      () => `the refusal reaches the stranger: ${JSON.stringify(stranger.joinStatus())}`,
    );
    expect(stranger.leader()).toBeUndefined();
    expect(seed.stats().transport?.dropped['auth_failed'] ?? 0).toBeGreaterThan(0);
    expect(stranger.stats().transport?.dropped['refused_by_peer'] ?? 0).toBeGreaterThan(0);
    expect(seed.members()).toHaveLength(1);
  });

  it('no key against a seed with one: refused the same way', async () => {
    const seed = await start([], { keyring: [generateKey()] });
    const plain = await start([seed.address]);
    await waitFor(
      () => JSON.stringify(plain.joinStatus()).includes('auth_failed'),
      15_000,
      () => `the refusal reaches the plain node: ${JSON.stringify(plain.joinStatus())}`,
    );
    expect(seed.stats().transport?.dropped['bad_encryption_version'] ?? 0).toBeGreaterThan(0);
  });

  it('another cluster id: wrong_cluster', async () => {
    const seed = await start([]);
    const other = await start([seed.address], { clusterId: 'other' });
    await waitFor(
      () =>
        !other.joinStatus().joined && JSON.stringify(other.joinStatus()).includes('wrong_cluster'),
      15_000,
      () => `the reject reaches the joiner: ${JSON.stringify(other.joinStatus())}`,
    );
  });

  it("a seed whose inbound limit is full of members: the joiner's request fails with inbound_limit", async () => {
    const seed = await start([], {}, { transport: { inboundConnectionsMax: 1 } });
    const member = await start([seed.address]);
    await waitFor(() => member.joinStatus().joined, 10_000, 'the member joins');
    await waitFor(
      () => (seed.stats().transport?.streams?.inbound ?? 0) === 1,
      10_000,
      'the member holds the one inbound slot',
    );
    const late = await start([]);
    await expect(late.join([seed.address])).rejects.toThrow(/inbound_limit/);
    expect(seed.stats().transport?.dropped['inbound_limit'] ?? 0).toBeGreaterThan(0);
  });
});

describe('node.join', () => {
  it('answers how many of the given addresses answered, not the member count', async () => {
    const a = await start([]);
    const b = await start([a.address]);
    const c = await start([a.address]);
    await waitFor(() => a.members().length === 3, 10_000, 'a, b and c form a cluster');
    const [nobody] = await freeClusterAddresses(1);
    const d = await start([]);
    expect(await d.join([a.address, b.address, nobody as string])).toBe(2);
    expect(await d.join([c.address])).toBe(1);
    const events = joinEvents(d);
    await expect(d.join([nobody as string])).rejects.toMatchObject({ code: 'ERR_JOIN_FAILED' });
    expect(events).toEqual([
      expect.objectContaining({ by: 'request', ok: false, addresses: [nobody] }),
    ]);
  });

  it('resolves names to the bind family, and refuses one that does not resolve, naming it', async () => {
    const a = await start([]);
    const port = a.address.slice(a.address.lastIndexOf(':') + 1);
    const b = await start([]);
    expect(await b.join([`localhost:${port}`])).toBe(1);
    await expect(b.join([a.address, 'no-such-host.invalid:7946'])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(/addresses\[1\] "no-such-host\.invalid:7946": the name/),
    });
    await expect(b.join(['999.1.1.1:1'])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringContaining('not a valid IPv4 address'),
    });
  });

  it('seeds given as names are resolved at start, so the seed is found in the view', async () => {
    const a = await start([]);
    const port = a.address.slice(a.address.lastIndexOf(':') + 1);
    const b = await start([`localhost:${port}`]);
    expect(b.mode).toMatchObject({ seeds: [`127.0.0.1:${port}`] });
    await waitFor(() => b.joinStatus().joined, 10_000, 'b joins through the name');
  });
});
