/**
 * A raft member cut off from the others (its transport drops every payload both ways, as a
 * partition would), over real sockets: its linearizable reads are never stale (they fail:
 * ERR_TIMEOUT or ERR_NO_LEADER), while serializable reads do return its stale value (the
 * positive control: staleness is possible, the check can see it); its writes do not apply while
 * cut off, and after the heal the member catches up and a write through it applies once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { createNode, type ShoalNode } from '../../src/node/node.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import { NetTransport } from '../../src/transport/net.js';
import { DelegatingTransport } from '../../src/transport/delegating.js';
import type { ReceiveHandler, Transport } from '../../src/transport/types.js';
import { waitFor } from '../helpers/wait.js';
import { agreedLeader } from './raft-cluster.js';

/** A transport that drops everything, both ways, while `cut`. */
class GateTransport extends DelegatingTransport {
  cut = false;
  private handler: ReceiveHandler | undefined;

  constructor(inner: Transport) {
    super(inner);
    inner.onReceive((from, channel, data, peer) =>
      this.cut ? 'accepted' : this.handler?.(from, channel, data, peer),
    );
  }
  override sendPacket(to: Address, data: Uint8Array): void {
    if (!this.cut) this.inner.sendPacket(to, data);
  }
  override sendFrame(to: Address, data: Uint8Array): void {
    if (!this.cut) this.inner.sendFrame(to, data);
  }
  override onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
}

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);
const dirs: string[] = [];
const gates: GateTransport[] = [];
let nodes: ShoalNode[] = [];

beforeAll(async () => {
  const addresses = await freeClusterAddresses(3);
  for (const [i, address] of addresses.entries()) {
    const dir = mkdtempSync(join(tmpdir(), `shoal-partition-${i}-`));
    dirs.push(dir);
    const gate = new GateTransport(await NetTransport.bind(address));
    gates.push(gate);
    nodes.push(
      await createNode(
        {
          name: `p${i}`,
          dataDir: dir,
          bind: address,
          mode: { kind: 'raft', peers: addresses },
          profile: 'local',
          clusterId: 'partition',
        },
        { transport: gate },
      ),
    );
  }
  await agreedLeader(nodes);
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a member cut off from the others', () => {
  it('serves no stale linearizable read; its serializable reads are stale; it catches up after the heal', async () => {
    const leader = await agreedLeader(nodes);
    const i = nodes.findIndex((n) => n !== leader);
    const cutOff = nodes[i] as ShoalNode;
    await leader.kv.put('x', 'old');
    await waitFor(
      () => cutOff.raft.status().appliedIndex >= leader.raft.status().commitIndex,
      10_000,
      'the follower applied the write',
    );
    (gates[i] as GateTransport).cut = true;
    await leader.kv.put('x', 'new');

    // Positive control: this replica is stale, and a serializable read says so.
    expect(text((await cutOff.kv.get('x', { consistency: 'serializable' }))?.value)).toBe('old');
    // A linearizable read must not return it: it waits for a leader it cannot reach.
    const read = await cutOff.kv.get('x').then(
      (kv) => ({ ok: true as const, value: text(kv?.value) }),
      (err: { code?: string }) => ({ ok: false as const, code: err.code }),
    );
    expect(read.ok ? `read ${String(read.value)}` : read.code).toMatch(
      /^(ERR_TIMEOUT|ERR_NO_LEADER|read new)$/,
    );
    // A write through it cannot apply while it is cut off.
    const write = await cutOff.kv.put('y', 'through-the-cut-off-member').then(
      () => 'applied',
      (err: { code?: string }) => err.code,
    );
    expect(write).toMatch(/^(ERR_TIMEOUT|ERR_NO_LEADER)$/);

    (gates[i] as GateTransport).cut = false;
    const commit = leader.raft.status().commitIndex;
    await waitFor(
      () => cutOff.raft.status().appliedIndex >= commit && cutOff.leader() !== undefined,
      20_000,
      'the member catches up and follows a leader after the heal',
    );
    expect(text((await cutOff.kv.get('x'))?.value)).toBe('new');
    const y = await cutOff.kv.put('y', 'after-the-heal');
    expect((await leader.kv.get('y'))?.modRevision).toBe(y.revision);
  }, 60_000);
});
