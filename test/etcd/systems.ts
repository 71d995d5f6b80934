/**
 * The systems the etcd compatibility suite runs against, so one test file proves that Shoal's
 * endpoint behaves as etcd does rather than describing Shoal:
 * - `shoal`: a 3-member Shoal cluster: three `shoal agent --mode raft --grpc` processes
 *   (bench/lib-shoal.ts) at etcd's default timings (100 ms heartbeat, 1,000 ms election timeout).
 *   The suite's mutants run against the in-process KvDouble instead (`startShoalDouble`): a
 *   deliberately broken KvService can only be put in front of a member in-process.
 * - `etcd`: a fresh 3-member etcd 3.4 on loopback (bench/lib-etcd.ts), skipped with a message
 *   when etcd-server or etcd-client is not installed (CI installs both).
 * `SHOAL_ETCD_SYSTEMS=shoal` (or `etcd`) runs one of them only.
 */
import { EtcdCluster, etcdVersion } from '../../bench/lib-etcd.js';
import { ShoalCluster } from '../../bench/lib-shoal.js';
import { startDoubleCluster, type DoubleClusterOptions } from './double-cluster.js';
import { etcdctlVersion } from './etcdctl.js';

export const MEMBERS = 3;

export interface RunningSystem {
  /** `host:port` of every member's client (gRPC) endpoint. */
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

export interface EtcdSystem {
  readonly name: string;
  /** Why the system cannot run here (the suite is skipped with this), or undefined. */
  readonly unavailable: string | undefined;
  start(): Promise<RunningSystem>;
}

/** The Shoal system: a real 3-member raft cluster of agent processes. */
export async function startShoal(): Promise<RunningSystem> {
  const cluster = new ShoalCluster({ members: MEMBERS, heartbeatMs: 100, electionMs: 1000 });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return {
    endpoints: Array.from({ length: MEMBERS }, (_, i) =>
      cluster.endpoint(i).replace('http://', ''),
    ),
    stop: () => cluster.stop(),
  };
}

/** The suite's mutants' target: the in-process double with a broken KvService in front. */
export async function startShoalDouble(options: DoubleClusterOptions = {}): Promise<RunningSystem> {
  return startDoubleCluster({ members: MEMBERS, ...options });
}

async function startEtcd(): Promise<RunningSystem> {
  // etcd's default timings: a 2 s minimum lease TTL, as Shoal's leaseTtlMsMin.
  const cluster = new EtcdCluster({ members: MEMBERS, heartbeatMs: 100, electionMs: 1000 });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return {
    endpoints: Array.from({ length: MEMBERS }, (_, i) =>
      cluster.endpoint(i).replace('http://', ''),
    ),
    stop: () => cluster.stop(),
  };
}

function missingTools(): string | undefined {
  const missing = [
    etcdVersion() === undefined ? 'etcd (package etcd-server)' : undefined,
    etcdctlVersion() === undefined ? 'etcdctl (package etcd-client)' : undefined,
  ].filter((m) => m !== undefined);
  return missing.length === 0 ? undefined : `not installed: ${missing.join(', ')}`;
}

function selected(name: string): boolean {
  const wanted = process.env['SHOAL_ETCD_SYSTEMS'];
  return wanted === undefined || wanted === '' || wanted.split(',').includes(name);
}

export function etcdSystems(): EtcdSystem[] {
  const noCtl =
    etcdctlVersion() === undefined ? 'not installed: etcdctl (package etcd-client)' : undefined;
  const systems: EtcdSystem[] = [
    { name: 'shoal', unavailable: noCtl, start: () => startShoal() },
    { name: `etcd ${etcdVersion() ?? ''}`.trim(), unavailable: missingTools(), start: startEtcd },
  ];
  return systems.filter((s) => selected(s.name.split(' ')[0] ?? s.name));
}
