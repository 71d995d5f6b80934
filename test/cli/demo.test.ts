/**
 * Integration: `shoal demo --nodes 3` as a real process tree (the demo plus three `shoal agent`
 * children on 127.0.0.1). Kill one agent with SIGKILL: the others see it suspect or dead; pause
 * one: reads fail over and it resumes; restart the killed one: the same NodeId is alive again
 * with a higher incarnation (it refuted). SIGTERM to the demo stops every agent and exits 0.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { DemoProcess, pidAlive, type Member } from './demo-process.js';

const PROTOCOL_TIMEOUT_MS = 45_000;

function byName(members: Member[], name: string): Member | undefined {
  return members.find((m) => m.name === name);
}

describe('shoal demo with 3 agent processes', () => {
  let demo: DemoProcess | undefined;

  afterAll(() => demo?.killEverything());

  it('starts, kills, pauses, restarts and stops only its own processes', async () => {
    const d = (demo = await DemoProcess.start(3));
    const nodes = await d.nodes();
    expect(nodes.map((n) => [n.name, n.state])).toEqual([
      ['node-1', 'running'],
      ['node-2', 'running'],
      ['node-3', 'running'],
    ]);
    for (const n of nodes) expect(pidAlive(n.pid ?? -1)).toBe(true);
    await until(
      async () =>
        (await d.members()).filter((m) => m.state === 'alive').length === 3 ? true : undefined,
      PROTOCOL_TIMEOUT_MS,
      '3 alive members',
    );
    const before = byName(await d.members(), 'node-3');
    const victimPid = nodes[2]?.pid ?? -1;

    const killed = await d.json<{ node: { state: string } }>('/demo/nodes/node-3/kill', 'POST');
    expect([killed.status, killed.body.node.state]).toEqual([200, 'killed']);
    await until(
      async () => (pidAlive(victimPid) ? undefined : true),
      10_000,
      'the killed agent to exit',
    );
    await until(
      async () =>
        ['suspect', 'dead'].includes(byName(await d.members(), 'node-3')?.state ?? '')
          ? true
          : undefined,
      PROTOCOL_TIMEOUT_MS,
      'node-3 suspect or dead',
    );

    const paused = await d.json<{ node: { state: string } }>(
      '/demo/nodes/node-2/pause?ms=2000',
      'POST',
    );
    expect(paused.body.node.state).toBe('paused');
    expect((await d.members()).length).toBeGreaterThan(0);
    await until(
      async () => ((await d.nodes())[1]?.state === 'running' ? true : undefined),
      10_000,
      'node-2 to resume',
    );

    const restarted = await d.json<{ node: { state: string; pid: number } }>(
      '/demo/nodes/node-3/restart',
      'POST',
    );
    expect([restarted.status, restarted.body.node.state]).toEqual([200, 'running']);
    expect(restarted.body.node.pid).not.toBe(victimPid);
    const back = await until(
      async () => {
        const m = byName(await d.members(), 'node-3');
        return m?.state === 'alive' && m.incarnation > (before?.incarnation ?? 0) ? m : undefined;
      },
      PROTOCOL_TIMEOUT_MS,
      'node-3 alive again with a higher incarnation',
    );
    expect(back.id).toBe(before?.id);

    const pids = (await d.nodes()).map((n) => n.pid ?? -1);
    expect(await d.stop('SIGTERM', 30_000)).toBe(0);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(d.output).toContain('stopped.');
  }, 300_000);
});
