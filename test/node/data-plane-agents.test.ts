/**
 * The data plane across processes over real sockets on 127.0.0.1 (issue 16): three `shoal
 * agent` children and one in-process node form a swim cluster; each advertises an instance of
 * `api` over its HTTP API (`PUT /v1/services/api`), every member lists all four, `shoal resolve
 * api --prefer self` against an agent prints that agent's own instance, and `shoal place` gives
 * the same owners from every agent. `kill -9` of one agent: its instance disappears from every
 * other member's list and resolution once they declare it dead (listed-only-live), and its
 * partition is withdrawn after the local profile's withdrawDelayMs (5 s).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, startNode } from '../agent/nodes.js';
import { shoal } from '../helpers/run-cli.js';
import { agentStarted, exitWithin, killChildren, spawnShoal } from '../helpers/shoal-process.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-dp-agents-'));

afterEach(async () => {
  killChildren();
  await closeAll();
});

interface Instance {
  name: string;
  node: string;
  address: string;
}

async function listed(http: string): Promise<string[]> {
  const res = await fetch(`${http}/v1/services?name=api`);
  const body = (await res.json()) as { instances: Instance[] };
  return body.instances.map((i) => i.address).sort();
}

describe('data plane across agent processes', () => {
  it('four members list each other’s instances, resolve their own, and drop a killed one', async () => {
    const seed = await startNode('dp-seed');
    seed.services.advertise({ name: 'api', address: 'dp-seed:8080', tags: ['v1'] });
    const names = ['dp-a', 'dp-b', 'dp-c'];
    const children = names.map((name) =>
      spawnShoal([
        'agent',
        '--name',
        name,
        '--bind',
        '127.0.0.1:0',
        '--http',
        '127.0.0.1:0',
        '--profile',
        'local',
        '--data-dir',
        join(dataRoot, name),
        '--join',
        seed.address,
      ]),
    );
    const infos = await Promise.all(children.map((c) => agentStarted(c)));
    for (const [i, info] of infos.entries()) {
      const res = await fetch(`${info.http}/v1/services/api`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address: `${names[i]}:8080`, tags: ['v1'] }),
      });
      expect(res.status).toBe(200);
    }
    const all = ['dp-a:8080', 'dp-b:8080', 'dp-c:8080', 'dp-seed:8080'];
    await waitFor(
      () =>
        seed.services
          .list('api')
          .map((i) => i.address)
          .sort()
          .join() === all.join(),
      30_000,
      () => `the seed lists all four (has ${seed.services.list('api').length})`,
    );
    for (const info of infos)
      await waitForAsync(
        async () => (await listed(info.http)).join() === all.join(),
        30_000,
        `${info.http} lists all four`,
      );

    // Resolution prefers the local node; the CLI prints the address alone.
    for (const [i, info] of infos.entries()) {
      const http = info.http.replace('http://', '');
      const resolved = await shoal('resolve', 'api', '--prefer', 'self', '--http', http);
      expect(resolved, resolved.err).toMatchObject({ code: 0, out: `${names[i]}:8080\n` });
    }
    const table = await shoal('services', 'api', '--http', infos[0]!.http.replace('http://', ''));
    expect(table.code, table.err).toBe(0);
    for (const name of ['dp-a', 'dp-b', 'dp-c', 'dp-seed'])
      expect(table.out).toMatch(new RegExp(`api +${name} +${name}:8080 +1 +v1`));
    // Every member places a key on the same owners (one view of the live members).
    const owners = await Promise.all(
      infos.map(async (info) => {
        const out = await shoal(
          'place',
          'user:42',
          '--replicas',
          '2',
          '--json',
          '--http',
          info.http.replace('http://', ''),
        );
        return (JSON.parse(out.out) as { owners: string[] }).owners;
      }),
    );
    expect(owners[0]).toHaveLength(2);
    for (const o of owners) expect(o).toEqual(seed.placement.owners('user:42', { replicas: 2 }));

    // kill -9 of dp-a: gone from every list and resolution once it is declared dead.
    children[0]!.process.kill('SIGKILL');
    expect(await exitWithin(children[0]!, 5_000)).toEqual({ code: null, signal: 'SIGKILL' });
    const left = all.filter((a) => a !== 'dp-a:8080');
    await waitFor(
      () =>
        seed.services
          .list('api')
          .map((i) => i.address)
          .sort()
          .join() === left.join(),
      30_000,
      'the seed no longer lists dp-a',
    );
    expect(seed.members().find((m) => m.name === 'dp-a')?.state).toBe('dead');
    for (const info of infos.slice(1))
      await waitForAsync(
        async () => (await listed(info.http)).join() === left.join(),
        30_000,
        `${info.http} no longer lists dp-a`,
      );
    for (let turn = 0; turn < 8; turn++)
      expect(seed.services.resolve('api')?.address).not.toBe('dp-a:8080');
    // Its partition is withdrawn after withdrawDelayMs (local: 5 s), counted.
    await waitFor(
      () => (seed.stats().dataPlane?.counters['withdrawn'] ?? 0) >= 1,
      30_000,
      'the seed withdraws dp-a’s partition',
    );
  }, 150_000);
});
