/**
 * `shoal agent --mode raft` as real processes on loopback (bench/lib-shoal.ts), driven through
 * the CLI (`shoal kv ...`, `shoal raft ...`) and the HTTP API (docs/http-api.md, "Replicated
 * store"): any member answers, a follower forwards; raw and non-UTF-8 values; txn, leases,
 * watches as SSE and as `shoal kv watch`; the Raft status; a kill -9 of the leader; 503
 * ERR_NO_LEADER with Retry-After once a majority is gone; a member that joins with --join.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShoalCluster } from '../../bench/lib-shoal.js';
import { killNow, track } from '../../bench/lib-tracked-process.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { shoal } from '../helpers/run-cli.js';
import { until } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
let cluster: ShoalCluster;
let leader: number;
let follower: number;

async function http(i: number, method: string, path: string, body?: string | Uint8Array) {
  const response = await fetch(`http://${cluster.http(i)}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
    ...(typeof body === 'string' && body.startsWith('{')
      ? { headers: { 'content-type': 'application/json' } }
      : {}),
    signal: AbortSignal.timeout(15_000),
  });
  return {
    status: response.status,
    headers: response.headers,
    bytes: new Uint8Array(await response.arrayBuffer()),
  };
}

async function json(i: number, method: string, path: string, body?: string | Uint8Array) {
  const answer = await http(i, method, path, body);
  return {
    status: answer.status,
    headers: answer.headers,
    body: JSON.parse(new TextDecoder().decode(answer.bytes)) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  cluster = new ShoalCluster({
    members: 3,
    heartbeatMs: 50,
    electionMs: 300,
    profile: 'local',
    clusterId: 'cli-raft',
  });
  await cluster.start();
  leader = (await cluster.leader()) as number;
  follower = (leader + 1) % 3;
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('shoal kv and shoal raft against raft agents', () => {
  it('put on a follower, get from every member, CAS, prefix table, delete', async () => {
    const put = await shoal('kv', 'put', 'app/a', 'one', '--http', cluster.http(follower));
    expect(put.code).toBe(0);
    const revision = Number(put.out.trim());
    expect(revision).toBeGreaterThan(1);
    for (let i = 0; i < 3; i++)
      expect((await shoal('kv', 'get', 'app/a', '--http', cluster.http(i))).out).toBe('one\n');
    const cas = await shoal(
      'kv',
      'put',
      'app/a',
      'two',
      '--prev-revision',
      String(revision - 1),
      '--http',
      cluster.http(follower),
    );
    expect(cas.code).toBe(1);
    expect(cas.err).toMatch(/ERR_CAS_FAILED|compare-and-swap failed/);
    expect(
      (
        await shoal(
          'kv',
          'put',
          'app/a',
          'two',
          '--prev-revision',
          String(revision),
          '--http',
          cluster.http(leader),
        )
      ).code,
    ).toBe(0);
    await shoal('kv', 'put', 'app/b', 'three', '--http', cluster.http(leader));
    const table = await shoal('kv', 'get', 'app/', '--prefix', '--http', cluster.http(follower));
    expect(table.out.split('\n')[0]).toMatch(/^KEY\s+VALUE\s+REVISION\s+VERSION\s+LEASE$/);
    expect(table.out).toMatch(/app\/a\s+two/);
    expect((await shoal('kv', 'get', 'missing', '--http', cluster.http(follower))).code).toBe(1);
    expect(
      (
        await shoal(
          'kv',
          'get',
          'app/a',
          '--serializable',
          '--json',
          '--http',
          cluster.http(follower),
        )
      ).out,
    ).toMatch(/"value":"two"/);
    expect(
      (await shoal('kv', 'del', 'app/', '--prefix', '--http', cluster.http(follower))).out,
    ).toBe('2\n');
  }, 60_000);

  it('HTTP: raw bytes, base64 for non-UTF-8, 404, txn, leases and the status', async () => {
    const bytes = Uint8Array.of(0xff, 0x00, 0x41);
    expect((await json(follower, 'PUT', '/v1/kv/bin%2Fkey', bytes)).status).toBe(200);
    const got = await json(leader, 'GET', '/v1/kv/bin%2Fkey');
    expect(got.body).toMatchObject({
      key: 'bin/key',
      value: Buffer.from(bytes).toString('base64'),
      encoding: 'base64',
      version: 1,
    });
    expect((await http(follower, 'GET', '/v1/kv/bin%2Fkey?raw')).bytes).toEqual(bytes);
    const absent = await json(follower, 'GET', '/v1/kv/nope');
    expect(absent.status).toBe(404);
    expect(absent.body).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } });
    const txn = await json(
      follower,
      'POST',
      '/v1/txn',
      JSON.stringify({
        compare: [{ key: 't', target: 'version', op: '=', value: 0 }],
        success: [{ op: 'put', key: 't', value: 'created' }],
        failure: [{ op: 'get', key: 't' }],
      }),
    );
    expect(txn.body).toMatchObject({ succeeded: true, results: [{ op: 'put' }] });
    const again = await json(
      leader,
      'POST',
      '/v1/txn',
      JSON.stringify({
        compare: [{ key: 't', target: 'version', op: '=', value: 0 }],
        failure: [{ op: 'get', key: 't' }],
      }),
    );
    expect(again.body).toMatchObject({
      succeeded: false,
      results: [{ op: 'get', kvs: [{ key: 't', value: 'created' }] }],
    });
    const lease = await json(follower, 'POST', '/v1/leases', JSON.stringify({ ttlMs: 5000 }));
    const id = lease.body['id'] as number;
    expect(lease.body).toMatchObject({ ttlMs: 5000 });
    expect((await json(follower, 'PUT', `/v1/kv/leased?lease=${id}`, 'x')).status).toBe(200);
    expect((await json(follower, 'POST', `/v1/leases/${id}/keepalive`)).body).toMatchObject({
      id,
      ttlMs: 5000,
    });
    expect((await json(leader, 'GET', `/v1/leases/${id}`)).body).toMatchObject({
      id,
      keys: ['leased'],
    });
    expect((await json(follower, 'DELETE', `/v1/leases/${id}`)).body).toMatchObject({
      revoked: true,
    });
    expect((await json(leader, 'GET', '/v1/kv/leased')).status).toBe(404);
    expect((await json(follower, 'POST', `/v1/leases/${id}/keepalive`)).body).toMatchObject({
      error: { code: 'ERR_LEASE_NOT_FOUND' },
    });
    const status = await shoal('raft', 'status', '--http', cluster.http(follower));
    expect(status.out).toMatch(/^role follower {2}term \d+ {2}leader n\d \([0-9a-f]{32}\)/);
    expect(status.out.split('\n').filter((l) => /^n\d\s/.test(l))).toHaveLength(3);
    const leaderAnswer = await json(follower, 'GET', '/v1/leader');
    expect(leaderAnswer.body['mode']).toBe('raft');
    expect(typeof leaderAnswer.body['leader']).toBe('string');
    expect((await json(follower, 'GET', '/v1/health')).body).toEqual({ status: 'ok' });
  }, 60_000);

  it('watch: SSE on a follower and `shoal kv watch` see a put and a delete', async () => {
    const start = Number(
      JSON.parse(new TextDecoder().decode((await http(leader, 'PUT', '/v1/kv/w%2F1', 'a')).bytes))
        .revision,
    );
    await http(leader, 'DELETE', '/v1/kv/w%2F1');
    const controller = new AbortController();
    const response = await fetch(
      `http://${cluster.http(follower)}/v1/watch/w/?prefix&fromRevision=${start}`,
      { signal: controller.signal },
    );
    const reader = response.body?.getReader();
    let text = '';
    while (!(text.includes('event: put') && text.includes('event: delete'))) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    controller.abort();
    expect(text).toMatch(
      new RegExp(
        `event: put\\ndata: \\{"type":"put","kv":\\{"key":"w/1","value":"a"[^\\n]*"revision":${start}\\}`,
      ),
    );
    expect(text).toMatch(new RegExp(`event: delete\\ndata: [^\\n]*"revision":${start + 1}`));

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/shoal.ts',
        'kv',
        'watch',
        'w/',
        '--prefix',
        '--http',
        cluster.http(follower),
      ],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    track(child);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      // The watch starts after now: wait until it is attached, then write.
      await until(
        async () => {
          await http(leader, 'PUT', '/v1/kv/w%2F2', 'b');
          return out.includes('put w/2 b') ? true : undefined;
        },
        60_000,
        '`shoal kv watch` prints the put',
      );
      expect(out).toMatch(/^put w\/2 b revision=\d+$/m);
    } finally {
      await killNow(child);
    }
  }, 90_000);

  it('a transfer from the CLI, then kill -9 of the leader: a new leader serves the data', async () => {
    // Fresh: under load an election may have moved leadership since beforeAll.
    leader = (await cluster.leader()) as number;
    follower = (leader + 1) % 3;
    const target = [0, 1, 2].find((i) => i !== leader && i !== follower) as number;
    const targetId = (await json(target, 'GET', '/v1/self')).body['id'] as string;
    expect((await shoal('raft', 'transfer', targetId, '--http', cluster.http(follower))).code).toBe(
      0,
    );
    await cluster.waitServing([0, 1, 2]);
    expect(await cluster.leader()).toBe(target);
    await shoal('kv', 'put', 'durable', 'yes', '--http', cluster.http(follower));
    await cluster.kill(target);
    const next = await until(
      async () => {
        const views = await cluster.leaderViews();
        const [a, b] = [0, 1, 2].filter((i) => i !== target).map((i) => views[i]);
        return a !== undefined && a !== target && a === b ? a : undefined;
      },
      30_000,
      'the two survivors elect a leader',
    );
    expect(next).not.toBe(target);
    expect((await shoal('kv', 'get', 'durable', '--http', cluster.http(follower))).out).toBe(
      'yes\n',
    );
    await cluster.restart(target);
  }, 120_000);

  it('503 ERR_NO_LEADER with Retry-After once a majority is down, then it serves again', async () => {
    const survivor = follower;
    const others = [0, 1, 2].filter((i) => i !== survivor);
    for (const i of others) await cluster.kill(i);
    const refused = await until(
      async () => {
        const answer = await json(survivor, 'PUT', '/v1/kv/x', 'y');
        return answer.status === 503 ? answer : undefined;
      },
      30_000,
      'a write is refused with 503 once the leader is gone',
    );
    expect(refused.body).toMatchObject({ error: { code: 'ERR_NO_LEADER' } });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await json(survivor, 'GET', '/v1/health')).status).toBe(503);
    for (const i of others) await cluster.spawn(i);
    await cluster.waitServing([0, 1, 2]);
    expect((await json(survivor, 'PUT', '/v1/kv/x', 'y')).status).toBe(200);
    leader = (await cluster.leader()) as number;
  }, 120_000);

  it('a fourth agent joins with --join, catches up, and is removed with `shoal raft remove`', async () => {
    // Its own data: it must not depend on an earlier test's put having happened.
    expect(
      (await shoal('kv', 'put', 'joined/data', 'here', '--http', cluster.http(follower))).code,
    ).toBe(0);
    const [address] = await freeClusterAddresses(1);
    const dir = mkdtempSync(join(tmpdir(), 'shoal-join-'));
    const httpPort = (await freeClusterAddresses(1))[0] as string;
    const child = spawn(
      process.execPath,
      [
        ...[
          '--import',
          'tsx',
          'src/cli/shoal.ts',
          'agent',
          '--mode',
          'raft',
          '--name',
          'n4',
          '--profile',
          'local',
        ],
        ...[
          '--data-dir',
          dir,
          '--bind',
          address as string,
          '--http',
          httpPort,
          '--cluster-id',
          'cli-raft',
        ],
        ...['--log-level', 'warn', '--join', cluster.clusterAddress(follower)],
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    track(child);
    try {
      const joined = await until(
        async () => {
          const status = (await json(leader, 'GET', '/v1/raft')).body as {
            members: { id: string | null; address: string; voter: boolean }[];
          };
          const m = status.members.find((x) => x.address === address);
          return m?.voter === true && m.id !== null ? m.id : undefined;
        },
        60_000,
        'the joining agent becomes a voter',
      );
      const value = await until(
        async () => {
          const r = await fetch(
            `http://${httpPort}/v1/kv/joined/data?consistency=serializable`,
          ).catch(() => undefined);
          return r?.status === 200 ? ((await r.json()) as { value: string }).value : undefined;
        },
        30_000,
        'the new member has the data',
      );
      expect(value).toBe('here');
      expect((await shoal('raft', 'remove', joined, '--http', cluster.http(follower))).code).toBe(
        0,
      );
      await until(
        async () => {
          const status = (await json(leader, 'GET', '/v1/raft')).body as {
            members: { address: string }[];
          };
          return status.members.some((m) => m.address === address) ? undefined : true;
        },
        30_000,
        'the member is gone from the configuration',
      );
    } finally {
      await killNow(child);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
