/**
 * Shoal's JepsenSystem on real processes, before raft mode exists: `raft` is refused with the
 * reason ("raft mode not available yet") while the agent lacks it, and in `raft-lite` mode
 * everything the nemesis does works on Shoal's agents in namespaces: a leader cut off from the
 * others (its UDP heartbeats and votes included) is replaced by a new leader of the majority, a
 * healed cluster agrees again, a paused member stops answering, a killed member comes back on
 * its data dir. Skipped, with the reason, without root.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_MODE_KINDS } from '../../src/agent/config.js';
import { until } from '../helpers/wait.js';
import { isolate } from './grudge.js';
import { NetnsNetwork, netnsUnsupported } from './netns.js';
import { shoalAgentGaps, shoalJepsenSystem } from './shoal-system.js';
import { majorityLeader } from './system.js';

describe('shoalAgentGaps', () => {
  it('names what the agent lacks for raft mode, and nothing for raft-lite', () => {
    expect(shoalAgentGaps('raft-lite')).toBeUndefined();
    const gaps = shoalAgentGaps('raft');
    if ((AGENT_MODE_KINDS as readonly string[]).includes('raft')) return; // landed: nothing to say
    expect(gaps).toMatch(/^raft mode not available yet: `shoal agent` has no --mode raft/);
  });
});

const unsupported = netnsUnsupported();

describe.skipIf(unsupported !== undefined)(
  `Shoal agents under the nemesis (raft-lite)${unsupported === undefined ? '' : ` (skipped: ${unsupported})`}`,
  () => {
    const system = shoalJepsenSystem('raft-lite');
    let network: NetnsNetwork | undefined;
    afterAll(async () => {
      await system.stop();
      await network?.destroy();
    });

    it('a cut-off leader is replaced, pause silences a member, a killed member comes back', async () => {
      network = await NetnsNetwork.create(3);
      await system.start(network);
      expect(system.pids()).toHaveLength(3);
      const leader = majorityLeader(await system.leaderViews()) as number;
      expect(leader).toBeTypeOf('number');

      for (const [a, b] of isolate(leader, 3)) await network.cut(a, b);
      await network.verify(system.peerPort);
      const others = [0, 1, 2].filter((i) => i !== leader);
      const next = await until(
        async () => {
          const views = await system.leaderViews();
          const seen = others.map((i) => views[i]);
          return seen[0] !== undefined && seen[0] !== leader && seen[0] === seen[1]
            ? seen[0]
            : undefined;
        },
        30_000,
        'the majority elects a leader other than the cut-off one',
      );
      await network.healAll();
      await network.verify(system.peerPort);
      await until(
        async () => ((await system.leaderViews()).every((v) => v === next) ? true : undefined),
        30_000,
        'every member follows the majority leader after the heal',
      );

      const paused = others[0] as number;
      system.signal(paused, 'SIGSTOP');
      expect((await system.leaderViews())[paused]).toBeUndefined();
      system.signal(paused, 'SIGCONT');

      const victim = others[1] as number;
      const pid = system.pids()[victim];
      await system.kill(victim);
      expect(system.pids()).not.toContain(pid);
      await system.restart(victim);
      expect(system.pids()).toHaveLength(3);
      expect((await system.leaderViews())[victim]).toBeTypeOf('number');
    });
  },
);
