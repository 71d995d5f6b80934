/**
 * Test helpers for the agent: real swim nodes on 127.0.0.1:0 in temp data dirs (closed by
 * `closeAll`), and a scripted node that emits events on demand (to overflow an SSE client).
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentNode } from '../../src/agent/agent-node.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { NodeEvent } from '../../src/node/events.js';
import { createNode, type Member, type ShoalNode } from '../../src/node/node.js';

const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-agent-test-'));
const open: ShoalNode[] = [];

export async function startNode(name: string, seeds: string[] = []): Promise<ShoalNode> {
  const node = await createNode({
    name,
    dataDir: join(dataRoot, name),
    bind: '127.0.0.1:0',
    mode: { kind: 'swim', seeds },
    profile: 'local',
  });
  open.push(node);
  return node;
}

export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((node) => node.close()));
}

/** A node whose events the test emits itself; joins and leaves are recorded. */
export class ScriptedNode extends EventEmitter {
  readonly id = 'a'.repeat(32) as NodeId;
  readonly name = 'scripted';
  readonly address = '127.0.0.1:1';
  readonly mode = { kind: 'swim' as const, seeds: [] };
  readonly epoch = 1;
  readonly joined: string[][] = [];
  left = false;

  members(): Member[] {
    return [
      {
        id: this.id,
        name: this.name,
        address: this.address,
        state: this.left ? 'left' : 'alive',
        incarnation: 1,
        labels: {},
      },
    ];
  }

  leader(): undefined {
    return undefined;
  }

  /** What `/v1/health` reports; a test may set it. */
  status: ReturnType<AgentNode['joinStatus']> = { joined: true };

  joinStatus(): ReturnType<AgentNode['joinStatus']> {
    return this.status;
  }

  async join(addresses: readonly string[]): Promise<number> {
    this.joined.push([...addresses]);
    return addresses.length;
  }

  async leave(): Promise<void> {
    this.left = true;
  }

  stats(): ReturnType<AgentNode['stats']> {
    return {
      protocol: { probesSent: 7 },
      decodeErrors: { ERR_DECODE_TRUNCATED: 2 },
      drivers: {},
      transport: undefined,
    };
  }

  emitMember(event: Extract<NodeEvent, { kind: 'member' }>): void {
    this.emit('member', event);
  }

  asAgentNode(): AgentNode {
    return this as unknown as AgentNode;
  }
}
