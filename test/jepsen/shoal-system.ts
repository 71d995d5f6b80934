/**
 * Shoal as a JepsenSystem: three `shoal agent --mode raft` processes started by
 * bench/lib-shoal.ts's ShoalCluster, each in its member's namespace on its own address at fixed
 * ports (the cluster protocol on SHOAL_CLUSTER_PORT, UDP and TCP; the HTTP API on
 * SHOAL_HTTP_PORT; the etcd v3-compatible gRPC endpoint, `--grpc`, on SHOAL_GRPC_PORT for the
 * harness's etcd3 clients), through `ip netns exec`, at etcd's default timings (heartbeat 100 ms,
 * election timeout 1,000 ms). Leadership comes from each member's `GET /v1/leader` (the leader
 * it follows), mapped to member indexes by `GET /v1/self`.
 *
 * `unavailable()` reads the agent's own mode list and flags, so a checkout without raft mode or
 * `--grpc` is refused with ERR_JEPSEN_UNAVAILABLE before anything starts. Everything but the
 * key-value clients also runs in `raft-lite` mode, which the harness's own tests use to show that
 * the network cuts Shoal's traffic (UDP heartbeats and votes included) and that kill, restart,
 * pause and leader views work on Shoal's processes.
 */
import {
  SHOAL_CLUSTER_PORT,
  SHOAL_GRPC_PORT,
  SHOAL_HTTP_PORT,
  SHOAL_READY_TIMEOUT_MS,
  ShoalCluster,
} from '../../bench/lib-shoal.js';
import { AGENT_MODE_KINDS } from '../../src/agent/config.js';
import { buildProgram } from '../../src/cli/main.js';
import type { JepsenSystem, MemberNetwork } from './system.js';

export { SHOAL_CLUSTER_PORT, SHOAL_GRPC_PORT, SHOAL_HTTP_PORT, SHOAL_READY_TIMEOUT_MS };

export const SHOAL_HEARTBEAT_MS = 100;
export const SHOAL_ELECTION_MS = 1_000;

export type ShoalJepsenMode = 'raft' | 'raft-lite';

/** Why this checkout's agent cannot serve the harness in `mode`, or undefined. */
export function shoalAgentGaps(mode: ShoalJepsenMode): string | undefined {
  const gaps: string[] = [];
  if (!(AGENT_MODE_KINDS as readonly string[]).includes(mode))
    gaps.push(`\`shoal agent\` has no --mode ${mode} (it has ${AGENT_MODE_KINDS.join(', ')})`);
  const agent = buildProgram(() => undefined).commands.find((c) => c.name() === 'agent');
  if (mode === 'raft' && !(agent?.options.some((o) => o.long === '--grpc') ?? false))
    gaps.push('no --grpc flag (the etcd v3 gRPC endpoint the clients use)');
  if (gaps.length === 0) return undefined;
  return `${mode} mode not available yet: ${gaps.join('; ')}.`;
}

/** Shoal's JepsenSystem; `raft-lite` serves no key-value API (endpoints() throws) and exists for the harness's tests. */
export function shoalJepsenSystem(mode: ShoalJepsenMode = 'raft', members = 3): JepsenSystem {
  let cluster: ShoalCluster | undefined;
  const running = (): ShoalCluster => {
    if (cluster === undefined) throw new Error('shoal: start() first');
    return cluster;
  };
  return {
    name: `shoal ${mode}`,
    unavailable: () => shoalAgentGaps(mode),
    peerPort: SHOAL_CLUSTER_PORT,
    async start(network: MemberNetwork) {
      cluster = new ShoalCluster({
        members,
        heartbeatMs: SHOAL_HEARTBEAT_MS,
        electionMs: SHOAL_ELECTION_MS,
        mode,
        profile: 'lan',
        clusterId: 'jepsen',
        placement: { hosts: network.hosts, command: (i) => network.command(i) },
      });
      try {
        await cluster.start();
      } catch (err) {
        await cluster.stop();
        cluster = undefined;
        throw err;
      }
    },
    async stop() {
      await cluster?.stop();
      cluster = undefined;
    },
    endpoints() {
      const c = running();
      if (mode !== 'raft') throw new Error(`shoal ${mode} serves no key-value API`);
      return Array.from({ length: c.size }, (_, i) => c.endpoint(i));
    },
    pids: () => running().pids(),
    leaderViews: () => running().leaderViews(),
    kill: (index) => running().kill(index),
    restart: (index) => running().restart(index),
    signal: (index, signal) => running().signal(index, signal),
  };
}
