/**
 * `node.kv` and `node.raft` on a 3-node `raft` cluster over real loopback sockets and disks
 * (INTERFACE.md, "Replicated store"): writes from any member apply once and are read back from
 * every member, linearizable reads see every acknowledged write, compare-and-swap, txns, watches,
 * leases that expire on the leader's clock, and errors with stable codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasErrorCode } from '../../src/base/errors.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { until, waitFor } from '../helpers/wait.js';
import { startRaftCluster, type RaftCluster } from './raft-cluster.js';

const text = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

let cluster: RaftCluster;
let leader: ShoalNode;
let follower: ShoalNode;

beforeAll(async () => {
  cluster = await startRaftCluster(3);
  leader = await cluster.leader();
  follower = cluster.nodes.find((n) => n !== leader) as ShoalNode;
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('raft mode: the replicated store', () => {
  it('a write on a follower is forwarded to the leader and read back from every member', async () => {
    const put = await follower.kv.put('config/a', 'v1');
    expect(put.revision).toBeGreaterThan(1);
    for (const node of cluster.nodes) {
      const kv = await node.kv.get('config/a');
      expect(text(kv?.value)).toBe('v1');
      expect(kv?.modRevision).toBe(put.revision);
      expect(kv?.version).toBe(1);
    }
    // Serializable: this replica at once; it already applied the write (answered on apply here).
    expect(text((await follower.kv.get('config/a', { consistency: 'serializable' }))?.value)).toBe(
      'v1',
    );
  });

  it('range, delete and compare-and-swap', async () => {
    await leader.kv.put('r/1', 'a');
    await follower.kv.put('r/2', 'b');
    const r = await follower.kv.range({ prefix: 'r/' });
    expect(r.kvs.map((kv) => kv.key)).toEqual(['r/1', 'r/2']);
    const limited = await leader.kv.range({ prefix: 'r/' }, { limit: 1 });
    expect(limited.more).toBe(true);
    const current = (await leader.kv.get('r/1'))?.modRevision as number;
    await expect(follower.kv.put('r/1', 'x', { prevRevision: current - 1 })).rejects.toMatchObject({
      code: 'ERR_CAS_FAILED',
    });
    const swapped = await follower.kv.put('r/1', 'x', { prevRevision: current });
    expect(text((await leader.kv.get('r/1'))?.value)).toBe('x');
    expect((await leader.kv.get('r/1'))?.modRevision).toBe(swapped.revision);
    await expect(leader.kv.put('r/1', 'y', { prevRevision: 0 })).rejects.toMatchObject({
      code: 'ERR_CAS_FAILED',
    });
    const deleted = await follower.kv.delete({ prefix: 'r/' });
    expect(deleted.deleted).toBe(2);
    expect(await leader.kv.get('r/1')).toBeUndefined();
  });

  it('txn: compares, branches, and a read-only txn served as a read', async () => {
    await follower.kv.put('t/k', 'one');
    const ok = await follower.kv.txn({
      compare: [{ key: 't/k', target: 'value', op: '=', value: 'one' }],
      success: [
        { op: 'put', key: 't/k', value: 'two' },
        { op: 'get', key: 't/k' },
      ],
      failure: [{ op: 'get', key: 't/k' }],
    });
    expect(ok.succeeded).toBe(true);
    const read = ok.results[1];
    expect(read?.op === 'get' ? text(read.kvs[0]?.value) : undefined).toBe('two');
    const ro = await follower.kv.txn({
      compare: [{ key: 't/k', target: 'version', op: '>', value: 5 }],
      success: [{ op: 'get', key: 't/k' }],
      failure: [{ op: 'get', key: 't/k' }],
    });
    expect(ro.succeeded).toBe(false);
    expect(ro.revision).toBe(ok.revision);
  });

  it('watch from a revision sees puts and deletes in order', async () => {
    const start = (await leader.kv.put('w/a', '1')).revision;
    await follower.kv.put('w/b', '2');
    await leader.kv.delete('w/a');
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const e of follower.kv.watch(
      { prefix: 'w/' },
      { fromRevision: start, signal: controller.signal },
    )) {
      seen.push(`${e.type} ${e.kv.key} ${e.revision}`);
      if (seen.length === 3) controller.abort();
    }
    expect(seen).toEqual([`put w/a ${start}`, `put w/b ${start + 1}`, `delete w/a ${start + 2}`]);
  });

  it('leases: keys go when a lease expires unless kept alive, and when revoked', async () => {
    const lease = await follower.kv.leases.grant(2_000);
    expect(lease.ttlMs).toBe(2_000);
    await follower.kv.put('l/kept', 'x', { lease: lease.id });
    const short = await follower.kv.leases.grant(2_000);
    await leader.kv.put('l/gone', 'y', { lease: short.id });
    // Keep one lease alive on every poll until the other one's key is gone.
    await until(
      async () => {
        await follower.kv.leases.keepAlive(lease.id);
        return (await follower.kv.get('l/gone')) === undefined ? true : undefined;
      },
      15_000,
      'the lease not kept alive expires and takes its key',
    );
    expect(await follower.kv.get('l/gone')).toBeUndefined();
    expect(text((await follower.kv.get('l/kept'))?.value)).toBe('x');
    await expect(follower.kv.leases.keepAlive(short.id)).rejects.toMatchObject({
      code: 'ERR_LEASE_NOT_FOUND',
    });
    const ttl = await follower.kv.leases.timeToLive(lease.id);
    expect(ttl.remainingMs).toBeGreaterThan(0);
    expect(ttl.keys).toEqual(['l/kept']);
    await follower.kv.leases.revoke(lease.id);
    expect(await leader.kv.get('l/kept')).toBeUndefined();
  }, 20_000);

  it('status, members and stable error codes', async () => {
    const status = follower.raft.status();
    expect(status.role).toBe('follower');
    expect(status.leader).toBe(leader.id);
    expect(status.members).toHaveLength(3);
    await waitFor(
      () => follower.members().filter((m) => m.state === 'alive').length === 3,
      10_000,
      'every member says hello',
    );
    expect(
      follower
        .members()
        .map((m) => m.name)
        .sort(),
    ).toEqual(['r0', 'r1', 'r2']);
    await expect(follower.kv.put('', 'x')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(follower.kv.get('k', { revision: 10_000_000 })).rejects.toMatchObject({
      code: 'ERR_FUTURE_REVISION',
    });
    await expect(follower.kv.put('big', new Uint8Array(2 * 1024 * 1024))).rejects.toMatchObject({
      code: 'ERR_TOO_LARGE',
    });
    const err = await follower.kv.leases.keepAlive(123456).catch((e: unknown) => e);
    expect(hasErrorCode(err, 'ERR_LEASE_NOT_FOUND')).toBe(true);
  });

  it('a learner added from a follower catches up, is promoted, then removed', async () => {
    const [address] = await freeClusterAddresses(1);
    const dir = mkdtempSync(join(tmpdir(), 'shoal-learner-'));
    const learner = await createNode({
      name: 'r9',
      dataDir: dir,
      bind: address as string,
      mode: { kind: 'raft', peers: [] },
      clusterId: 'raft-test',
      profile: 'local',
    });
    try {
      // Not in any configuration yet: it lists itself as joining and has no leader.
      expect(learner.members()).toMatchObject([{ id: learner.id, state: 'joining' }]);
      await expect(learner.kv.put('x', 'y')).rejects.toMatchObject({ code: 'ERR_NO_LEADER' });
      await follower.raft.addLearner(address as string);
      await waitFor(
        () => learner.raft.status().appliedIndex >= leader.raft.status().commitIndex,
        15_000,
        'the learner catches up',
      );
      expect(text((await learner.kv.get('config/a', { consistency: 'serializable' }))?.value)).toBe(
        'v1',
      );
      const row = () => leader.raft.status().members.find((m) => m.address === address);
      expect(row()?.voter).toBe(false);
      await follower.raft.promote(learner.id);
      await waitFor(() => row()?.voter === true, 15_000, 'the learner becomes a voter');
      // A write through the new voter, read back on the leader.
      const put = await learner.kv.put('via/new-voter', '1');
      expect((await leader.kv.get('via/new-voter'))?.modRevision).toBe(put.revision);
      await expect(follower.raft.addMember(address as string)).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_(INVALID_ARGUMENT|CHANGE_PENDING)$/),
      });
      await leader.raft.removeMember(learner.id);
      await waitFor(() => row() === undefined, 15_000, 'the member is removed');
    } finally {
      await learner.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('leadership transfer from a follower moves the leader', async () => {
    const target = cluster.nodes.find((n) => n !== leader && n !== follower) as ShoalNode;
    await follower.raft.transferLeadership(target.id);
    await waitFor(
      () => cluster.nodes.every((n) => n.leader()?.id === target.id),
      10_000,
      'all follow the new leader',
    );
    leader = target;
    expect(text((await follower.kv.get('config/a'))?.value)).toBe('v1');
  }, 20_000);

  it('a transfer to the member that already leads succeeds with nothing moved', async () => {
    const current = cluster.nodes.find((n) => n.raft.status().role === 'leader') as ShoalNode;
    const other = cluster.nodes.find((n) => n !== current) as ShoalNode;
    // Was ERR_INVALID_ARGUMENT ("already the leader"): `shoal raft transfer` exited 2.
    await current.raft.transferLeadership(current.id);
    await other.raft.transferLeadership(current.id);
    expect(current.raft.status().role).toBe('leader');
  }, 20_000);
});
