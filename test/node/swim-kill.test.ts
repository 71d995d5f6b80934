/**
 * SWIM over real sockets with nodes in separate processes (SWIM §3, §4.2): two `shoal agent`
 * children and two in-process nodes form one cluster; `kill -9` of one child is seen as `dead`
 * by every other member (the other child included, read over its HTTP API), and a SIGTERM of
 * the other child is seen as `left`, not `dead`. Local profile timing: detection takes seconds.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, startNode } from '../agent/nodes.js';
import { agentStarted, exitWithin, killChildren, spawnShoal } from '../helpers/shoal-process.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-kill-'));

afterEach(async () => {
  killChildren();
  await closeAll();
});

async function membersOver(http: string): Promise<Array<{ name: string; state: string }>> {
  const body = (await (await fetch(`${http}/v1/members`)).json()) as {
    members: Array<{ name: string; state: string }>;
  };
  return body.members;
}

describe('swim across processes', () => {
  it('kill -9 of a child is seen dead by every other member; SIGTERM of another is seen left', async () => {
    const a = await startNode('kill-a');
    const b = await startNode('kill-b', [a.address]);
    const spawnAgent = (name: string) =>
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
        a.address,
      ]);
    const victim = spawnAgent('kill-victim');
    const leaver = spawnAgent('kill-leaver');
    const [, leaverInfo] = await Promise.all([agentStarted(victim), agentStarted(leaver)]);
    await waitFor(
      () => [a, b].every((n) => n.members().filter((m) => m.state === 'alive').length === 4),
      20_000,
      'in-process nodes see 4 alive',
    );

    victim.process.kill('SIGKILL');
    expect(await exitWithin(victim, 5_000)).toEqual({ code: null, signal: 'SIGKILL' });
    const stateIn = (node: typeof a, name: string) =>
      node.members().find((m) => m.name === name)?.state;
    await waitFor(
      () => stateIn(a, 'kill-victim') === 'dead' && stateIn(b, 'kill-victim') === 'dead',
      30_000,
      'a and b see the victim dead',
    );
    await waitForAsync(
      async () =>
        (await membersOver(leaverInfo.http)).find((m) => m.name === 'kill-victim')?.state ===
        'dead',
      15_000,
      'the other child sees the victim dead (over its HTTP API)',
    );

    leaver.process.kill('SIGTERM');
    expect(await exitWithin(leaver, 10_000)).toEqual({ code: 0, signal: null });
    await waitFor(
      () => stateIn(a, 'kill-leaver') === 'left' && stateIn(b, 'kill-leaver') === 'left',
      10_000,
      'a and b see the leaver left',
    );
  }, 90_000);
});
