/**
 * Raft mode's sender checks (docs/security.md, "Raft mode"; `DemuxTransport` in
 * src/node/raft-rpc.ts) on a scripted inner transport: once senders must authenticate, a packet
 * is refused (`packet_unauthenticated`), a Raft or node message whose sender is not the
 * connection's proved NodeId and address is refused (`sender_mismatch`) and its connection closed
 * (`unauthenticated`), Raft's packets are sent as frames; before that (the simulator's memory
 * transport) everything passes as it did.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import type { Channel } from '../../src/base/channel.js';
import { logIndex, term } from '../../src/base/units.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { encodeRaftNodeMessage } from '../../src/node/raft-rpc-codec.js';
import { RaftRpc, sentBy } from '../../src/node/raft-rpc.js';
import { encodeRaftMessage } from '../../src/raft/codec.js';
import { SimClock } from '../../src/sim/clock.js';
import type { DropReason } from '../../src/transport/counters.js';
import { DelegatingTransport } from '../../src/transport/delegating.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import type { Delivery, Fabric, ReceiveHandler } from '../../src/transport/types.js';

const SELF = '10.0.0.1:7946' as Address;
const PEER = '10.0.0.2:7946' as Address;
const SELF_ID = 'a'.repeat(32) as NodeId;
const PEER_ID = 'b'.repeat(32) as NodeId;
const OTHER_ID = 'c'.repeat(32) as NodeId;
const CLUSTER = 'c';

const nullFabric: Fabric = {
  attach: () => undefined,
  detach: () => undefined,
  send: () => undefined,
};

/** An inner transport whose receive handler the test calls, and whose sends it records. */
class Scripted extends DelegatingTransport {
  handler: ReceiveHandler | undefined;
  readonly sent: { channel: Channel; to: Address }[] = [];
  constructor() {
    super(new MemoryTransport(nullFabric, SELF));
  }
  override onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }
  override sendPacket(to: Address): void {
    this.sent.push({ channel: 'packet', to });
  }
  override sendFrame(to: Address): void {
    this.sent.push({ channel: 'stream', to });
  }
  deliver(channel: Channel, data: Uint8Array, peer?: NodeId, from = PEER): Delivery | void {
    return this.handler?.(from, channel, data, peer);
  }
}

const heartbeat = (from: NodeId, fromAddress: Address): Uint8Array =>
  encodeRaftMessage(
    { type: 'raft-heartbeat', from, fromAddress, term: term(3), commit: logIndex(0), readSeq: 1 },
    CLUSTER,
  );

const hello = (from: NodeId, fromAddress: Address): Uint8Array =>
  encodeRaftNodeMessage(
    {
      type: 'raft-node-hello',
      from,
      fromAddress,
      name: 'x',
      labels: {},
      httpUrls: [],
      grpcUrls: [],
    },
    CLUSTER,
  );

function setup(strict: boolean) {
  const inner = new Scripted();
  const hellos: string[] = [];
  const rpc = new RaftRpc(inner, {
    clusterId: CLUSTER,
    selfId: SELF_ID,
    clock: new SimClock(),
    handlers: {
      onHello: (h) => void hellos.push(`${h.from}@${h.fromAddress}`),
      onRequest: async () => ({ kind: 'ok', value: 1, term: 1 }),
      isMember: () => true,
    },
  });
  const raft: string[] = [];
  rpc.transport.onReceive((from, channel) => void raft.push(`${channel} from ${from}`));
  const drops: DropReason[] = [];
  const reports: string[] = [];
  if (strict)
    rpc.transport.requireAuthenticatedSenders(
      (reason) => drops.push(reason),
      (detail) => reports.push(detail),
    );
  return { inner, rpc, hellos, raft, drops, reports };
}

describe('raft mode: every message comes from the member its sender names', () => {
  it('a Raft message from the proved NodeId and address passes; from anyone else it is refused and its connection closed', () => {
    const { inner, raft, drops, reports } = setup(true);
    expect(inner.deliver('stream', heartbeat(PEER_ID, PEER), PEER_ID)).toBeUndefined();
    expect(raft).toEqual([`stream from ${PEER}`]);
    expect(inner.deliver('stream', heartbeat(OTHER_ID, PEER), PEER_ID)).toBe('unauthenticated');
    expect(inner.deliver('stream', heartbeat(PEER_ID, SELF), PEER_ID)).toBe('unauthenticated');
    expect(inner.deliver('stream', heartbeat(PEER_ID, PEER).subarray(0, 12), PEER_ID)).toBe(
      'unauthenticated',
    );
    expect(raft).toHaveLength(1);
    expect(drops).toEqual(['sender_mismatch', 'sender_mismatch', 'sender_mismatch']);
    expect(reports).toHaveLength(3);
  });

  it('a node hello naming another member than the connection proved is refused (no rename)', () => {
    const { inner, rpc, hellos, drops } = setup(true);
    expect(inner.deliver('stream', hello(OTHER_ID, PEER), PEER_ID)).toBe('unauthenticated');
    expect(inner.deliver('stream', hello(PEER_ID, PEER), PEER_ID)).toBe('accepted');
    expect(hellos).toEqual([`${PEER_ID}@${PEER}`]);
    expect(rpc.counters.sendersRefused).toBe(1);
    expect(drops).toEqual(['sender_mismatch']);
  });

  it('packets carry no proof: refused on receipt, and Raft sends its packets as frames', () => {
    const { inner, rpc, raft, hellos, drops } = setup(true);
    expect(inner.deliver('packet', heartbeat(PEER_ID, PEER))).toBe('refused');
    expect(inner.deliver('packet', hello(PEER_ID, PEER))).toBe('refused');
    expect(inner.deliver('stream', heartbeat(PEER_ID, PEER))).toBe('refused'); // no proved peer
    expect(raft).toEqual([]);
    expect(hellos).toEqual([]);
    expect(drops).toEqual([
      'packet_unauthenticated',
      'packet_unauthenticated',
      'packet_unauthenticated',
    ]);
    rpc.transport.sendPacket(PEER, heartbeat(SELF_ID, SELF));
    expect(inner.sent).toEqual([{ channel: 'stream', to: PEER }]);
  });

  it('without authenticated connections (the simulator) everything passes as before', () => {
    const { inner, rpc, raft, hellos, drops } = setup(false);
    inner.deliver('packet', heartbeat(OTHER_ID, PEER));
    inner.deliver('stream', hello(OTHER_ID, PEER));
    expect(raft).toEqual([`packet from ${PEER}`]);
    expect(hellos).toEqual([`${OTHER_ID}@${PEER}`]);
    expect(drops).toEqual([]);
    rpc.transport.sendPacket(PEER, heartbeat(SELF_ID, SELF));
    expect(inner.sent).toEqual([{ channel: 'packet', to: PEER }]);
  });

  it('sentBy reads the sender from the envelope without decoding the body', () => {
    expect(sentBy(heartbeat(PEER_ID, PEER), PEER_ID, PEER)).toBe(true);
    expect(sentBy(heartbeat(PEER_ID, PEER), OTHER_ID, PEER)).toBe(false);
    expect(sentBy(heartbeat(PEER_ID, PEER), PEER_ID, SELF)).toBe(false);
    expect(sentBy(new Uint8Array(3), PEER_ID, PEER)).toBe(false);
  });
});
