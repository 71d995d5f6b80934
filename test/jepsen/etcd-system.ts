/**
 * etcd 3.4 as a JepsenSystem: three members started by bench/lib-etcd.ts's EtcdCluster, each on
 * its namespace's address at etcd's default ports (2379 for clients, 2380 for peers) through
 * `ip netns exec`, with etcd's default timings (heartbeat 100 ms, election 1000 ms).
 */
import { ETCD_PEER_PORT, EtcdCluster, etcdVersion } from '../../bench/lib-etcd.js';
import type { JepsenSystem, MemberNetwork } from './system.js';

export const ETCD_HEARTBEAT_MS = 100;
export const ETCD_ELECTION_MS = 1_000;

export function etcdJepsenSystem(members = 3): JepsenSystem {
  const version = etcdVersion();
  let cluster: EtcdCluster | undefined;
  const running = (): EtcdCluster => {
    if (cluster === undefined) throw new Error('etcd: start() first');
    return cluster;
  };
  return {
    name: `etcd ${version ?? '(not installed)'}`,
    unavailable: () =>
      version === undefined
        ? 'etcd is not installed (Debian: apt-get install etcd-server)'
        : undefined,
    peerPort: ETCD_PEER_PORT,
    async start(network: MemberNetwork) {
      cluster = new EtcdCluster(
        { members, heartbeatMs: ETCD_HEARTBEAT_MS, electionMs: ETCD_ELECTION_MS },
        { hosts: network.hosts, command: (i) => network.command(i) },
      );
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
    endpoints: () => Array.from({ length: members }, (_, i) => running().endpoint(i)),
    pids: () => running().pids(),
    leaderViews: () => running().leaderViews(),
    kill: (index) => running().kill(index),
    restart: (index) => running().restart(index),
    signal: (index, signal) => running().signal(index, signal),
  };
}
