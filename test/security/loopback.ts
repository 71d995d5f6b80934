/**
 * The hostile suite's cluster on 127.0.0.1: swim nodes with their own temp data dirs, their
 * `security` events recorded, and `cleanup()` for `afterEach` (closes every node and the
 * attacker's sockets, removes every dir).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MembershipConfig } from '../../src/membership/config.js';
import type { SecurityEvent } from '../../src/node/events.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/options.js';
import type { SocketAttacker } from './sockets.js';

/** Fast enough to converge in seconds; slow enough that a loaded machine does not suspect anyone. */
export const HOSTILE_TIMING: Partial<MembershipConfig> = {
  probeIntervalMs: 300,
  probeTimeoutMs: 150,
  gossipIntervalMs: 50,
  pushPullIntervalMs: 2000,
  joinTimeoutMs: 1000,
  reconnectIntervalMs: 2000,
  securityLogIntervalMs: 0,
};

export interface Started {
  node: ShoalNode;
  /** Its `security` events, in order. */
  security: SecurityEvent[];
}

export class LoopbackCluster {
  private readonly dirs: string[] = [];
  private readonly nodes: ShoalNode[] = [];
  attacker: SocketAttacker | undefined;

  constructor(private readonly clusterId: string) {}

  dataDir(name: string): string {
    const dir = mkdtempSync(join(tmpdir(), `shoal-hostile-${name}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** A swim node named `name` on a fresh port, in `dir` (a new temp dir by default); `timing` overrides HOSTILE_TIMING. */
  async start(
    name: string,
    seeds: string[],
    extra: Partial<NodeOptions> & { dataDir?: string } = {},
    timing: Partial<MembershipConfig> = {},
  ): Promise<Started> {
    const node = await createNode(
      {
        name,
        dataDir: extra.dataDir ?? this.dataDir(name),
        bind: '127.0.0.1:0',
        mode: { kind: 'swim', seeds },
        clusterId: this.clusterId,
        profile: 'local',
        ...extra,
      },
      {},
      { membership: { ...HOSTILE_TIMING, ...timing } },
    );
    this.nodes.push(node);
    const security: SecurityEvent[] = [];
    node.on('security', (e) => security.push(e));
    return { node, security };
  }

  /** Closes `node` now and stops tracking it (its dir stays until cleanup). */
  async stop(node: ShoalNode): Promise<void> {
    await node.close();
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  async cleanup(): Promise<void> {
    await this.attacker?.close();
    this.attacker = undefined;
    await Promise.all(this.nodes.splice(0).map((n) => n.close()));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
