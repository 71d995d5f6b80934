/**
 * The etcd compatibility checks (issue 14): what etcdctl and the etcd3 npm client do against a
 * running system, asserted the same way for every system (compat.test.ts runs them against
 * Shoal and against a real etcd 3.4, so a check that passes on both shows equivalence). Each
 * check uses its own key prefix and asserts only what etcd documents or what its tools print,
 * never Shoal's internals. Outputs are compared as etcd's tools print them (`-w json` where the
 * numbers matter).
 */
import { expect } from 'vitest';
import { EtcdLeaseInvalidError, EtcdLockFailedError, type Etcd3 } from 'etcd3';
import { etcd3Client } from '../../bench/lib-etcd.js';
import { until, waitFor } from '../helpers/wait.js';
import { etcdctl, hexId, parseEtcdJson, startEtcdctl, type EtcdctlResult } from './etcdctl.js';

export interface CompatContext {
  readonly endpoints: readonly string[];
  /** A key prefix no other check uses. */
  readonly prefix: string;
}

export interface CompatCheck {
  readonly name: string;
  run(ctx: CompatContext): Promise<void>;
}

/** Bound on waiting for a client-visible effect (an election, a lease expiry). */
const EFFECT_TIMEOUT_MS = 15_000;

interface JsonHeader {
  cluster_id: string;
  member_id: string;
  revision: number;
  raft_term: number;
}
interface JsonKv {
  key: string;
  value?: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease?: number | string;
}
interface JsonEvent {
  /** etcdctl prints Go's enum number, omitted for PUT (0); DELETE is 1. */
  type?: number | string;
  kv: JsonKv;
  prev_kv?: JsonKv;
}

/** `promise`, or a failure naming `what` after EFFECT_TIMEOUT_MS: no check waits unbounded. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${EFFECT_TIMEOUT_MS} ms waiting for: ${what}`)),
      EFFECT_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const unb64 = (text: string | undefined): string => Buffer.from(text ?? '', 'base64').toString();

function ctl(ctx: CompatContext, args: string[], input?: string): Promise<EtcdctlResult> {
  return etcdctl(ctx.endpoints, args, input === undefined ? {} : { input });
}

/** Runs etcdctl and expects success; returns stdout. */
async function ok(ctx: CompatContext, args: string[], input?: string): Promise<string> {
  const result = await ctl(ctx, args, input);
  expect(result.code, `etcdctl ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

/** Runs etcdctl and expects it to fail with exactly `message` on stderr. */
async function fails(ctx: CompatContext, args: string[], message: string, input?: string) {
  const result = await ctl(ctx, args, input);
  expect(result.code, `etcdctl ${args.join(' ')} should fail`).not.toBe(0);
  expect(result.stderr.trim()).toBe(message);
}

async function json<T>(ctx: CompatContext, args: string[]): Promise<T> {
  return parseEtcdJson<T>(await ok(ctx, [...args, '-w', 'json']));
}

async function putRevision(ctx: CompatContext, key: string, value: string): Promise<number> {
  const out = await json<{ header: JsonHeader }>(ctx, ['put', key, value]);
  return Number(out.header.revision);
}

async function getKvs(ctx: CompatContext, args: string[]) {
  return json<{ header: JsonHeader; kvs?: JsonKv[]; count?: number }>(ctx, ['get', ...args]);
}

const putGetDelete: CompatCheck = {
  name: 'put, get and del print what etcd prints, with consistent revisions and versions',
  async run(ctx) {
    const k = `${ctx.prefix}k`;
    expect(await ok(ctx, ['put', k, 'v1'])).toBe('OK\n');
    let got = await getKvs(ctx, [k]);
    const kv = got.kvs?.[0];
    expect(unb64(kv?.key)).toBe(k);
    expect(unb64(kv?.value)).toBe('v1');
    expect(kv?.version).toBe(1);
    expect(kv?.create_revision).toBe(Number(got.header.revision));
    expect(kv?.mod_revision).toBe(kv?.create_revision);
    const rev2 = await putRevision(ctx, k, 'v2');
    got = await getKvs(ctx, [k]);
    expect(got.kvs?.[0]).toMatchObject({ version: 2, mod_revision: rev2 });
    expect(got.kvs?.[0]?.create_revision).toBe(kv?.create_revision);
    expect(await ok(ctx, ['get', k])).toBe(`${k}\nv2\n`);
    await ok(ctx, ['put', `${ctx.prefix}j`, 'x']);
    expect(await ok(ctx, ['get', ctx.prefix, '--prefix', '--keys-only'])).toBe(
      `${ctx.prefix}j\n\n${k}\n\n`,
    );
    expect((await getKvs(ctx, [ctx.prefix, '--prefix', '--limit', '1'])).count).toBe(2);
    expect(await ok(ctx, ['del', k])).toBe('1\n');
    expect(await ok(ctx, ['get', k])).toBe('');
    expect(await ok(ctx, ['del', ctx.prefix, '--prefix'])).toBe('1\n');
  },
};

const headers: CompatCheck = {
  name: 'every member answers with the cluster id, its own member id and the same revision',
  async run(ctx) {
    const rev = await putRevision(ctx, `${ctx.prefix}h`, 'x');
    const views = await Promise.all(
      ctx.endpoints.map(async (endpoint) => {
        const out = await etcdctl([endpoint], ['get', `${ctx.prefix}h`, '-w', 'json']);
        expect(out.code, out.stderr).toBe(0);
        return parseEtcdJson<{ header: JsonHeader }>(out.stdout).header;
      }),
    );
    expect(new Set(views.map((h) => h.cluster_id)).size).toBe(1);
    expect(new Set(views.map((h) => h.member_id)).size).toBe(ctx.endpoints.length);
    for (const h of views) {
      expect(Number(h.revision)).toBeGreaterThanOrEqual(rev);
      expect(Number(h.raft_term)).toBeGreaterThanOrEqual(1);
    }
    const members = await json<{ members: { ID: string }[] }>(ctx, ['member', 'list']);
    expect(new Set(members.members.map((m) => m.ID))).toEqual(
      new Set(views.map((h) => h.member_id)),
    );
  },
};

const revisions: CompatCheck = {
  name: 'reads at past revisions, compaction, and compacted and future revisions fail as in etcd',
  async run(ctx) {
    const k = `${ctx.prefix}r`;
    const r1 = await putRevision(ctx, k, 'a');
    const r2 = await putRevision(ctx, k, 'b');
    expect(await ok(ctx, ['get', k, '--rev', String(r1)])).toBe(`${k}\na\n`);
    expect(await ok(ctx, ['compact', String(r2)])).toBe(`compacted revision ${r2}\n`);
    await fails(
      ctx,
      ['get', k, '--rev', String(r1)],
      'Error: etcdserver: mvcc: required revision has been compacted',
    );
    await fails(
      ctx,
      ['get', k, '--rev', String(r2 + 1_000_000)],
      'Error: etcdserver: mvcc: required revision is a future revision',
    );
    await fails(
      ctx,
      ['compact', String(r1)],
      'Error: etcdserver: mvcc: required revision has been compacted',
    );
    expect(await ok(ctx, ['get', k, '--rev', String(r2)])).toBe(`${k}\nb\n`);
  },
};

const compactedWatch: CompatCheck = {
  name: 'a watch from a compacted revision is canceled with the compaction, as etcd does',
  async run(ctx) {
    const k = `${ctx.prefix}w`;
    const r1 = await putRevision(ctx, k, 'a');
    const r2 = await putRevision(ctx, k, 'b');
    await ok(ctx, ['compact', String(r2)]);
    const watch = startEtcdctl(ctx.endpoints, ['watch', k, '--rev', String(r1)]);
    expect(await watch.exited()).toBe(5);
    expect(watch.lines).toEqual([]);
    expect(watch.stderr().trim().split('\n')).toEqual([
      'watch was canceled (etcdserver: mvcc: required revision has been compacted)',
      'Error: watch is canceled by the server',
    ]);
  },
};

const txn: CompatCheck = {
  name: 'txn compares, branches and refusals (too many ops, duplicate keys) match etcd',
  async run(ctx) {
    const k = `${ctx.prefix}t`;
    await ok(ctx, ['put', k, 'v1']);
    const success = `value("${k}") = "v1"\n\nput ${k} v2\n\nput ${k} other\n\n`;
    expect(await ok(ctx, ['txn'], success)).toBe('SUCCESS\n\nOK\n');
    const failure = `value("${k}") = "v1"\nmod("${k}") > "0"\n\nput ${k} v3\n\nget ${k}\n\n`;
    expect(await ok(ctx, ['txn'], failure)).toBe(`FAILURE\n\n${k}\nv2\n`);
    const missing = `create("${ctx.prefix}none") = "0"\n\nput ${ctx.prefix}none x\n\n\n`;
    expect(await ok(ctx, ['txn'], missing)).toBe('SUCCESS\n\nOK\n');
    const puts = Array.from({ length: 129 }, (_, i) => `put ${ctx.prefix}many${i} x`).join('\n');
    await fails(
      ctx,
      ['txn'],
      'Error: etcdserver: too many operations in txn request',
      `\n${puts}\n\n\n`,
    );
    await fails(
      ctx,
      ['txn'],
      'Error: etcdserver: duplicate key given in txn request',
      `\nput ${k} a\nput ${k} b\n\n\n`,
    );
    expect(await ok(ctx, ['get', k])).toBe(`${k}\nv2\n`);
  },
};

function watchEvents(lines: readonly string[]): JsonEvent[] {
  return lines.flatMap((line) => parseEtcdJson<{ Events?: JsonEvent[] }>(line).Events ?? []);
}

function eventType(event: JsonEvent): string {
  return event.type === 1 || event.type === 'DELETE' ? 'DELETE' : 'PUT';
}

const watch: CompatCheck = {
  name: 'etcdctl watch on a prefix sees puts and deletes with their previous values',
  async run(ctx) {
    const p = `${ctx.prefix}w/`;
    const start = (await putRevision(ctx, `${ctx.prefix}before`, 'x')) + 1;
    const args = ['watch', p, '--prefix', '--prev-kv', '--rev', String(start), '-w', 'json'];
    const running = startEtcdctl(ctx.endpoints, args);
    try {
      await ok(ctx, ['put', `${p}a`, '1']);
      await ok(ctx, ['put', `${p}a`, '2']);
      await ok(ctx, ['put', `${ctx.prefix}other`, 'no']);
      await ok(ctx, ['del', `${p}a`]);
      await running.until((lines) => watchEvents(lines).length >= 3, '3 events');
      const events = watchEvents(running.lines);
      expect(events.map((e) => [eventType(e), unb64(e.kv.key), unb64(e.kv.value)])).toEqual([
        ['PUT', `${p}a`, '1'],
        ['PUT', `${p}a`, '2'],
        ['DELETE', `${p}a`, ''],
      ]);
      expect(events.map((e) => unb64(e.prev_kv?.value))).toEqual(['', '1', '2']);
      expect(events[2]?.kv.mod_revision).toBeGreaterThan(events[1]?.kv.mod_revision ?? 0);
    } finally {
      running.stop();
    }
  },
};

/** `lease grant N`'s hex id. */
async function grant(ctx: CompatContext, ttlSeconds: number): Promise<string> {
  const out = await ok(ctx, ['lease', 'grant', String(ttlSeconds)]);
  const match = /^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n$/.exec(out);
  expect(match, out).not.toBeNull();
  expect(Number(match?.[2])).toBe(ttlSeconds);
  return match?.[1] ?? '';
}

const leases: CompatCheck = {
  name: 'lease grant, keep-alive, time-to-live, list and revoke print what etcd prints',
  async run(ctx) {
    const k = `${ctx.prefix}l`;
    const id = await grant(ctx, 100);
    expect(await ok(ctx, ['put', `--lease=${id}`, k, 'v'])).toBe('OK\n');
    const ttl = await ok(ctx, ['lease', 'timetolive', id, '--keys']);
    const match =
      /^lease (\w+) granted with TTL\(100s\), remaining\((\d+)s\), attached keys\(\[(.*)\]\)\n$/.exec(
        ttl,
      );
    expect(match, ttl).not.toBeNull();
    expect(match?.[1]).toBe(id);
    expect(Number(match?.[2])).toBeGreaterThanOrEqual(90);
    expect(match?.[3]).toBe(k);
    expect(await ok(ctx, ['lease', 'keep-alive', '--once', id])).toBe(
      `lease ${id} keepalived with TTL(100)\n`,
    );
    expect((await ok(ctx, ['lease', 'list'])).split('\n')).toContain(id);
    const kv = (await getKvs(ctx, [k])).kvs?.[0];
    expect(hexId(String(kv?.lease))).toBe(id);
    expect(await ok(ctx, ['lease', 'revoke', id])).toBe(`lease ${id} revoked\n`);
    expect(await ok(ctx, ['get', k])).toBe('');
    await fails(
      ctx,
      ['lease', 'revoke', id],
      'Error: failed to revoke lease (etcdserver: requested lease not found)',
    );
    expect(await ok(ctx, ['lease', 'timetolive', id])).toBe(`lease ${id} already expired\n`);
    await fails(
      ctx,
      ['lease', 'keep-alive', '--once', id],
      'Error: etcdserver: requested lease not found',
    );
  },
};

const leaseExpiry: CompatCheck = {
  name: 'a kept-alive lease outlives its TTL; once keep-alives stop it expires and takes its keys',
  async run(ctx) {
    const k = `${ctx.prefix}e`;
    const id = await grant(ctx, 3);
    await ok(ctx, ['put', `--lease=${id}`, k, 'v']);
    const keeper = startEtcdctl(ctx.endpoints, ['lease', 'keep-alive', id]);
    try {
      const renewals = (lines: string[]): number =>
        lines.filter((l) => l === `lease ${id} keepalived with TTL(3)`).length;
      // Renewals every TTL/3: six of them span 5 s, well past the 3 s TTL.
      await keeper.until((lines) => renewals(lines) >= 6, '6 keep-alives');
    } finally {
      keeper.stop();
    }
    expect(await ok(ctx, ['get', k])).toBe(`${k}\nv\n`);
    await until(
      async () => ((await ok(ctx, ['get', k])) === '' ? true : undefined),
      EFFECT_TIMEOUT_MS,
      'the lease expires and its key is deleted',
    );
    expect(await ok(ctx, ['lease', 'timetolive', id])).toBe(`lease ${id} already expired\n`);
  },
};

interface JsonStatus {
  Endpoint: string;
  Status: {
    header: JsonHeader;
    version: string;
    dbSize: number;
    leader: string;
    raftIndex: number;
    raftTerm: number;
    raftAppliedIndex: number;
  };
}

const membersAndStatus: CompatCheck = {
  name: 'member list, endpoint status and endpoint health describe one cluster with one leader',
  async run(ctx) {
    const { members } = await json<{
      members: { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }[];
    }>(ctx, ['member', 'list']);
    expect(members).toHaveLength(ctx.endpoints.length);
    const clientUrls = members.flatMap((m) => m.clientURLs).sort();
    expect(clientUrls).toEqual(ctx.endpoints.map((e) => `http://${e}`).sort());
    for (const m of members) {
      expect(m.name).not.toBe('');
      expect(m.peerURLs.length).toBe(1);
    }
    const statuses = await json<JsonStatus[]>(ctx, ['endpoint', 'status']);
    expect(statuses.map((s) => s.Endpoint).sort()).toEqual([...ctx.endpoints].sort());
    const ids = new Set(members.map((m) => m.ID));
    expect(new Set(statuses.map((s) => s.Status.header.member_id))).toEqual(ids);
    expect(new Set(statuses.map((s) => s.Status.leader)).size).toBe(1);
    expect(ids.has(statuses[0]?.Status.leader ?? '')).toBe(true);
    expect(new Set(statuses.map((s) => s.Status.header.cluster_id)).size).toBe(1);
    for (const { Status: s } of statuses) {
      expect(s.version).toMatch(/\S/);
      expect(s.raftTerm).toBeGreaterThanOrEqual(1);
      expect(s.raftIndex).toBeGreaterThanOrEqual(s.raftAppliedIndex > 0 ? 1 : 0);
    }
    // etcdctl 3.4 prints the health lines on stderr.
    const health = await ctl(ctx, ['endpoint', 'health']);
    expect(health.code, health.stderr).toBe(0);
    const lines = health.stderr.trim().split('\n');
    expect(lines).toHaveLength(ctx.endpoints.length);
    for (const line of lines) expect(line).toMatch(/ is healthy: successfully committed proposal/);
  },
};

function clients(ctx: CompatContext, n: number): Etcd3[] {
  return Array.from({ length: n }, (_, i) =>
    etcd3Client([`http://${ctx.endpoints[i % ctx.endpoints.length] ?? ''}`]),
  );
}

const election: CompatCheck = {
  name: 'etcd3 election: one leader at a time, the next candidate takes over on resign, observers follow',
  async run(ctx) {
    const [c1, c2, c3] = clients(ctx, 3) as [Etcd3, Etcd3, Etcd3];
    try {
      const name = `${ctx.prefix}election`;
      const observer = await c3.election(name).observe();
      const first = c1.election(name).campaign('a');
      await within(first.wait(), 'a is elected');
      // (The etcd3 observer takes the last put of a batch as the leader: let it see `a` first.)
      await waitFor(() => observer.leader() === 'a', EFFECT_TIMEOUT_MS, 'the observer sees a');
      let secondElected = false;
      const second = c2.election(name).campaign('b');
      // Listen before anything can elect it: 'elected' is an event, not a state.
      const secondWins = second.wait().then(() => (secondElected = true));
      await until(
        async () =>
          (await c3.getAll().prefix(`election/${name}/`).keys()).length === 2 ? true : undefined,
        EFFECT_TIMEOUT_MS,
        'both candidates have their key',
      );
      expect(secondElected).toBe(false);
      expect(observer.leader()).toBe('a');
      await within(first.resign(), 'a resigns');
      await within(secondWins, 'b is elected');
      await waitFor(() => observer.leader() === 'b', EFFECT_TIMEOUT_MS, 'the observer sees b');
      await within(second.resign(), 'b resigns');
      await within(observer.cancel(), 'the observer stops');
    } finally {
      for (const c of [c1, c2, c3]) c.close();
    }
  },
};

const lock: CompatCheck = {
  name: 'etcd3 lock: a held lock refuses a second client until released or its holder dies',
  async run(ctx) {
    const [c1, c2, c3] = clients(ctx, 3) as [Etcd3, Etcd3, Etcd3];
    try {
      const name = `${ctx.prefix}lock`;
      const held = await c1.lock(name).ttl(3).acquire();
      await expect(c2.lock(name).acquire()).rejects.toBeInstanceOf(EtcdLockFailedError);
      await held.release();
      const dying = await c2.lock(name).ttl(2).acquire();
      // The holder dies without releasing: its lease is no longer kept alive and expires.
      // (Lease.close stops the keep-alives and revokes nothing, as a crash would.)
      (dying as unknown as { lease: { close(): void } }).lease.close();
      await until(
        () =>
          c3
            .lock(name)
            .acquire()
            .then(
              (l) => l,
              (err: unknown) => {
                if (err instanceof EtcdLockFailedError) return undefined;
                throw err;
              },
            ),
        EFFECT_TIMEOUT_MS,
        'the dead holder lease expires and the lock is free',
      ).then((l) => l.release());
    } finally {
      for (const c of [c1, c2, c3]) c.close();
    }
  },
};

const lockedCounter: CompatCheck = {
  name: 'etcd3 lock: three clients incrementing a counter under the lock lose no update',
  async run(ctx) {
    const cs = clients(ctx, 3);
    const counter = `${ctx.prefix}counter`;
    const rounds = 4;
    try {
      await cs[0]?.put(counter).value('0');
      await Promise.all(
        cs.map(async (c) => {
          for (let i = 0; i < rounds; i++) {
            const held = await until(
              () =>
                c
                  .lock(`${ctx.prefix}counter-lock`)
                  .acquire()
                  .catch((err: unknown) => {
                    if (err instanceof EtcdLockFailedError) return undefined;
                    throw err;
                  }),
              EFFECT_TIMEOUT_MS,
              'the counter lock',
            );
            const value = Number(await c.get(counter).string());
            await c.put(counter).value(String(value + 1));
            await held.release();
          }
        }),
      );
      expect(await cs[0]?.get(counter).string()).toBe(String(rounds * cs.length));
    } finally {
      for (const c of cs) c.close();
    }
  },
};

const clientErrors: CompatCheck = {
  name: 'the etcd3 client gets etcd errors: too large request, unknown lease, compacted watch',
  async run(ctx) {
    const [c] = clients(ctx, 1) as [Etcd3];
    try {
      const big = Buffer.alloc(1.6 * 1024 * 1024, 'x');
      await expect(c.put(`${ctx.prefix}big`).value(big)).rejects.toThrow(
        'etcdserver: request is too large',
      );
      const lease = c.lease(60);
      const id = await lease.grant();
      await lease.revoke();
      await expect(c.leaseClient.leaseRevoke({ ID: id })).rejects.toBeInstanceOf(
        EtcdLeaseInvalidError,
      );
      const k = `${ctx.prefix}cw`;
      const r1 = Number((await c.put(k).value('a').exec()).header.revision);
      const r2 = Number((await c.put(k).value('b').exec()).header.revision);
      await c.kv.compact({ revision: String(r2), physical: true });
      const watcher = await within(
        c.watch().key(k).startRevision(String(r1)).create(),
        'the watch is created',
      );
      const error = await within(
        new Promise<Error>((resolve) => watcher.on('error', resolve)),
        'the watcher reports the compaction',
      );
      expect(error.message).toMatch(/^Watcher canceled/);
    } finally {
      c.close();
    }
  },
};

const watchClient: CompatCheck = {
  name: 'etcd3 watchers on one stream each get their own events in order',
  async run(ctx) {
    const [c] = clients(ctx, 1) as [Etcd3];
    try {
      const seen: Record<string, string[]> = { a: [], b: [] };
      const watchers = await Promise.all(
        ['a', 'b'].map(async (name) => {
          const w = await c.watch().prefix(`${ctx.prefix}${name}/`).create();
          w.on('put', (kv) => seen[name]?.push(`put ${kv.value.toString()}`));
          w.on('delete', (kv) => seen[name]?.push(`del ${kv.key.toString()}`));
          return w;
        }),
      );
      for (let i = 0; i < 5; i++) {
        await c.put(`${ctx.prefix}a/${i}`).value(`a${i}`);
        await c.put(`${ctx.prefix}b/${i}`).value(`b${i}`);
      }
      await c.delete().prefix(`${ctx.prefix}a/`);
      await waitFor(
        () => (seen['a']?.length ?? 0) === 10 && (seen['b']?.length ?? 0) === 5,
        EFFECT_TIMEOUT_MS,
        () => `all events: ${JSON.stringify(seen)}`,
      );
      expect(seen['b']).toEqual([0, 1, 2, 3, 4].map((i) => `put b${i}`));
      expect(seen['a']?.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map((i) => `put a${i}`));
      expect(seen['a']?.slice(5)).toEqual([0, 1, 2, 3, 4].map((i) => `del ${ctx.prefix}a/${i}`));
      await within(Promise.all(watchers.map((w) => w.cancel())), 'the watchers stop');
    } finally {
      c.close();
    }
  },
};

export const CHECKS = {
  putGetDelete,
  headers,
  txn,
  watch,
  leases,
  membersAndStatus,
  watchClient,
  election,
  lock,
  lockedCounter,
  leaseExpiry,
  revisions,
  compactedWatch,
  clientErrors,
} as const satisfies Record<string, CompatCheck>;

/** In run order; revisions and compaction only move forward, so no check undoes another's. */
export const COMPAT_CHECKS: readonly CompatCheck[] = Object.values(CHECKS);
