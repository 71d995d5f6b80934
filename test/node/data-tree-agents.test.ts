/**
 * Shared trees over real sockets between `shoal agent` processes (issue 16, "Merkle-tree sync of
 * shared trees"): three agents on 127.0.0.1 with a bearer token. `shoal tree set` on one (a PUT
 * without the token is refused, 401); the others learn the tree and reach the same root; a
 * proof fetched from the second agent verifies against the first agent's root (`shoal tree proof
 * --verify --root-from`), and against any other root it fails (exit 1); a delete on the third
 * reaches the first; the first is killed with SIGKILL and restarted from its data dir: it holds
 * nothing on disk and takes the tree back from its peers (same root, entries taken counted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shoal } from '../helpers/run-cli.js';
import { agentStarted, killChildren, spawnShoal, type Child } from '../helpers/shoal-process.js';
import { waitForAsync } from '../helpers/wait.js';

const TOKEN = 'tree-agents-token-0123456789';
const CONVERGE_MS = 60_000;
const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-tree-agents-'));

afterAll(() => {
  killChildren();
  rmSync(dataRoot, { recursive: true, force: true });
});

interface TreeAgent {
  name: string;
  child: Child;
  http: string;
  address: string;
  id: string;
}

async function launch(name: string, seed?: TreeAgent): Promise<TreeAgent> {
  const flags: Record<string, string> = {
    name,
    bind: '127.0.0.1:0',
    http: '127.0.0.1:0',
    'http-token': TOKEN,
    profile: 'local',
    'cluster-id': 'trees',
    'data-dir': join(dataRoot, name),
    ...(seed === undefined ? {} : { join: seed.address }),
  };
  const child = spawnShoal(['agent', ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])]);
  const up = (await agentStarted(child)) as { http: string; id: string; address: string };
  return { name, child, http: up.http.replace('http://', ''), address: up.address, id: up.id };
}

async function treeOf(agent: TreeAgent, name: string): Promise<{ root: string; size: number }> {
  const res = await fetch(`http://${agent.http}/v1/trees/${name}`);
  if (res.status === 404) {
    await res.arrayBuffer();
    return { root: '', size: -1 };
  }
  return (await res.json()) as { root: string; size: number };
}

async function counter(agent: TreeAgent, event: string): Promise<number> {
  const text = await (await fetch(`http://${agent.http}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`shoal_tree_events_total{event="${event}"} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

/** `shoal tree ARGS` against `agent`; the writes carry the token. */
const cli = (agent: TreeAgent, ...args: string[]) =>
  shoal(
    'tree',
    ...args,
    '--http',
    agent.http,
    ...(args[0] === 'set' || args[0] === 'delete' ? ['--http-token', TOKEN] : []),
  );

describe('shared trees between agent processes', () => {
  it('set on one, proof verified from another root; delete; kill -9 and re-sync', async () => {
    const one = await launch('tree-1');
    const two = await launch('tree-2', one);
    const three = await launch('tree-3', one);

    for (const [key, value] of [
      ['color', 'blue'],
      ['size', '42'],
      ['a/b c', 'slashes and spaces'],
    ] as const) {
      const out = await cli(one, 'set', 'cfg', key, value);
      expect(out.code, out.err).toBe(0);
      expect(out.out).toMatch(new RegExp(`^set ${key} at \\d+\\.\\d+; root [0-9a-f]{64}\\n$`));
    }
    const refused = await fetch(`http://${one.http}/v1/trees/cfg/evil`, {
      method: 'PUT',
      body: 'x',
    });
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    const first = await treeOf(one, 'cfg');
    expect(first.size).toBe(3);

    for (const agent of [two, three])
      await waitForAsync(
        async () => (await treeOf(agent, 'cfg')).root === first.root,
        CONVERGE_MS,
        `${agent.name} holds tree cfg at tree-1's root`,
      );

    const verified = await cli(two, 'proof', 'cfg', 'a/b c', '--verify', '--root-from', one.http);
    expect(verified.code, verified.err).toBe(0);
    expect(verified.out).toContain('verified: a/b c = "slashes and spaces"');
    const absent = await cli(two, 'proof', 'cfg', 'missing', '--verify', '--root-from', one.http);
    expect(absent.code, absent.err).toBe(0);
    expect(absent.out).toContain('missing: absent from tree cfg');
    const wrong = await cli(two, 'proof', 'cfg', 'color', '--verify', '--root', 'ab'.repeat(32));
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain('NOT verified');

    const deleted = await cli(three, 'delete', 'cfg', 'color');
    expect(deleted.code, deleted.err).toBe(0);
    expect(deleted.out).toMatch(/^deleted color; root/);
    await waitForAsync(
      async () => (await treeOf(one, 'cfg')).size === 2,
      CONVERGE_MS,
      'the delete on tree-3 reaches tree-1',
    );
    const shown = await cli(one, 'proof', 'cfg', 'color', '--verify');
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/color: deleted at \d+\.\d+ by [0-9a-f]{32}/);

    one.child.process.kill('SIGKILL');
    await one.child.exit;
    const again = await launch('tree-1', two);
    expect(again.id).toBe(one.id);
    const target = (await treeOf(two, 'cfg')).root;
    await waitForAsync(
      async () => (await treeOf(again, 'cfg')).root === target,
      CONVERGE_MS,
      'the restarted tree-1 takes tree cfg back from its peers',
    );
    expect(await counter(again, 'entriesTaken')).toBeGreaterThanOrEqual(3);
    const listed = await shoal('tree', 'show', '--http', again.http);
    expect(listed.out).toMatch(/cfg +2 +3 +2 /);
  }, 180_000);
});
