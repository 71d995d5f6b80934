/**
 * In-process `raft` clusters over real loopback sockets and data dirs, for the raft-mode tests:
 * `startRaftCluster(n)` creates n nodes with createNode (peers: every member, ports from the
 * OS), waits until one leader is followed by all, and `stop()` closes them and removes the
 * data. `restart(i)` closes node i and creates it again on the same data dir and address (a new
 * life of the same member).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentity } from '../../src/identity/identity.js';
import type { NodeIo } from '../../src/node/io.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';
import type { NodeInternals } from '../../src/node/runtime.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { waitFor } from '../helpers/wait.js';

export interface RaftCluster {
  nodes: ShoalNode[];
  readonly addresses: string[];
  readonly dirs: string[];
  /** The node every running node follows, once they agree (bounded wait). */
  leader(timeoutMs?: number): Promise<ShoalNode>;
  /**
   * Ends node i's life and starts a new one on its data dir and address. `kill`: as kill -9 (the
   * node halts: nothing more is written or sent; the OS closes its sockets), not a clean close.
   */
  restart(i: number, how?: 'close' | 'kill'): Promise<ShoalNode>;
  /** Starts a node that joins through `through` (an extra data dir and a free port). */
  join(name: string, through: string[]): Promise<ShoalNode>;
  stop(): Promise<void>;
}

/** Waits for a leader every running node follows. */
export async function agreedLeader(
  nodes: readonly ShoalNode[],
  timeoutMs = 20_000,
): Promise<ShoalNode> {
  let found: ShoalNode | undefined;
  await waitFor(
    () => {
      const running = nodes.filter((n) => !n.isClosed);
      const ids = new Set(running.map((n) => n.leader()?.id));
      const id = [...ids][0];
      found = ids.size === 1 && id !== undefined ? running.find((n) => n.id === id) : undefined;
      return found !== undefined;
    },
    timeoutMs,
    () =>
      `one leader followed by all: ${nodes.map((n) => `${n.name}:${n.isClosed ? 'closed' : (n.leader()?.id.slice(0, 6) ?? '-')}`).join(' ')}`,
  );
  return found as ShoalNode;
}

export async function startRaftCluster(
  size: number,
  options: {
    profile?: NodeOptions['profile'];
    clusterId?: string;
    /** Passed to every node (the security tests' positive control turns verification off). */
    internals?: NodeInternals;
    /** Admission `allow` of exactly the initial members' NodeIds (identities made first). */
    allowMembersOnly?: boolean;
    /** Node i's I/O, asked again for each of its lives (a test pins its random seed, say). */
    io?: (i: number) => Partial<NodeIo>;
  } = {},
): Promise<RaftCluster> {
  const addresses = await freeClusterAddresses(size);
  const dirs = addresses.map((_, i) => mkdtempSync(join(tmpdir(), `shoal-raft-${i}-`)));
  const extraDirs: string[] = [];
  const allow =
    options.allowMembersOnly === true
      ? (await Promise.all(dirs.map((dir) => loadOrCreateIdentity(dir)))).map((id) => id.nodeId)
      : undefined;
  const make = (
    i: number,
    mode: NodeOptions['mode'],
    bind: string,
    dataDir: string,
  ): Promise<ShoalNode> =>
    createNode(
      {
        name: `r${i}`,
        dataDir,
        bind,
        mode,
        clusterId: options.clusterId ?? 'raft-test',
        profile: options.profile ?? 'local',
        ...(allow === undefined ? {} : { admission: { allow } }),
      },
      options.io?.(i) ?? {},
      options.internals ?? {},
    );
  const nodes: ShoalNode[] = [];
  try {
    for (let i = 0; i < size; i++)
      nodes.push(
        await make(
          i,
          { kind: 'raft', peers: addresses },
          addresses[i] as string,
          dirs[i] as string,
        ),
      );
  } catch (err) {
    await Promise.all(nodes.map((n) => n.close()));
    throw err;
  }
  const cluster: RaftCluster = {
    nodes,
    addresses,
    dirs,
    leader: (timeoutMs) => agreedLeader(cluster.nodes, timeoutMs),
    async restart(i, how = 'close') {
      const old = cluster.nodes[i];
      if (how === 'close') await old?.close();
      else {
        old?.halt();
        await (old as unknown as { io: NodeIo } | undefined)?.io.transport?.close();
      }
      const node = await make(
        i,
        { kind: 'raft', peers: addresses },
        addresses[i] as string,
        dirs[i] as string,
      );
      cluster.nodes[i] = node;
      return node;
    },
    async join(name, through) {
      const [address] = await freeClusterAddresses(1);
      const dir = mkdtempSync(join(tmpdir(), `shoal-raft-${name}-`));
      extraDirs.push(dir);
      const node = await createNode({
        name,
        dataDir: dir,
        bind: address as string,
        mode: { kind: 'raft', join: through },
        clusterId: options.clusterId ?? 'raft-test',
        profile: options.profile ?? 'local',
      });
      cluster.nodes.push(node);
      return node;
    },
    async stop() {
      await Promise.all(cluster.nodes.map((n) => n.close()));
      for (const dir of [...dirs, ...extraDirs]) rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
