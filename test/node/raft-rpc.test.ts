/**
 * The raft-mode node channel (src/node/raft-rpc.ts, raft-rpc-codec.ts): its messages refuse bad
 * bytes with stable codes; the mux hands node messages to the channel and everything else to the
 * Raft driver; calls are answered, time out, and are bounded (RPC_PENDING_MAX, RPC_SERVING_MAX
 * at limit - 1, limit, limit + 1); a stranger may only ask to add itself.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import type { Channel } from '../../src/base/channel.js';
import { Writer } from '../../src/codec/bytes.js';
import { PROTOCOL_VERSION } from '../../src/codec/wire-numbers.js';
import type { NodeId } from '../../src/identity/node-id.js';
import {
  decodeRaftNodeMessage,
  encodeRaftNodeMessage,
  HELLO_URLS_MAX,
  isRaftNodePayload,
} from '../../src/node/raft-rpc-codec.js';
import { RaftRpc, type RpcHandlers, type RpcOutcome } from '../../src/node/raft-rpc.js';
import { LeaderCalls } from '../../src/node/raft-leader-calls.js';
import { encodeRaftMessage } from '../../src/raft/codec.js';
import { SimClock } from '../../src/sim/clock.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import type { Fabric } from '../../src/transport/types.js';
import type { RaftState } from '../../src/raft/types.js';
import type { CoreRequests } from '../../src/node/raft-core-requests.js';
import type { LeaderLessor } from '../../src/node/raft-kv-lessor.js';

const A = '10.0.0.1:7946' as Address;
const B = '10.0.0.2:7946' as Address;
const ID_A = 'a'.repeat(32) as NodeId;
const ID_B = 'b'.repeat(32) as NodeId;
const CLUSTER = 'c';

/** A fabric that delivers every payload when `pump` is called. */
class QueueFabric implements Fabric {
  private readonly ends = new Map<
    Address,
    (from: Address, channel: Channel, data: Uint8Array) => void
  >();
  readonly queue: { from: Address; to: Address; channel: Channel; data: Uint8Array }[] = [];
  attach(
    address: Address,
    deliver: (from: Address, channel: Channel, data: Uint8Array) => void,
  ): void {
    this.ends.set(address, deliver);
  }
  detach(address: Address): void {
    this.ends.delete(address);
  }
  send(from: Address, to: Address, channel: Channel, data: Uint8Array): void {
    this.queue.push({ from, to, channel, data });
  }
  pump(): void {
    for (let i = 0; i < 1000 && this.queue.length > 0; i++) {
      const m = this.queue.shift();
      if (m !== undefined) this.ends.get(m.to)?.(m.from, m.channel, m.data);
    }
  }
}

function handlers(overrides: Partial<RpcHandlers> = {}): RpcHandlers {
  return {
    onHello: () => undefined,
    onRequest: async () => ({ kind: 'ok', value: 7, term: 1 }),
    isMember: () => true,
    ...overrides,
  };
}

function pair(
  serverHandlers: RpcHandlers,
  limits: { pendingMax?: number; servingMax?: number } = {},
) {
  const fabric = new QueueFabric();
  const clock = new SimClock();
  const a = new RaftRpc(new MemoryTransport(fabric, A), {
    clusterId: CLUSTER,
    selfId: ID_A,
    clock,
    handlers: handlers(),
    ...limits,
  });
  const b = new RaftRpc(new MemoryTransport(fabric, B), {
    clusterId: CLUSTER,
    selfId: ID_B,
    clock,
    handlers: serverHandlers,
    ...limits,
  });
  return { fabric, clock, a, b };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('raft node messages: bad bytes are refused with stable codes', () => {
  const encode = (write: (w: Writer) => void): Uint8Array => {
    const w = new Writer(256);
    w.u8(0x53);
    w.u8(0x48);
    w.u8(PROTOCOL_VERSION);
    write(w);
    return w.finish();
  };
  const header = (w: Writer, type: number): void => {
    w.u8(type);
    w.string(CLUSTER, 64);
    w.nodeId(ID_A);
    w.string(A, 255);
  };

  it('an error code not in the registry is malformed', () => {
    const bytes = encode((w) => {
      header(w, 52);
      w.varint(1);
      w.u8(12);
      w.string('ERR_MADE_UP', 2048);
      w.string('x', 2048);
    });
    const decoded = decodeRaftNodeMessage(bytes, { clusterId: CLUSTER });
    expect(decoded.ok ? 'ok' : decoded.error.code).toBe('ERR_DECODE_MALFORMED');
  });

  it('a lease id of 0 and an unknown op are malformed', () => {
    for (const [op, lease] of [
      [2, 0],
      [9, 1],
    ] as const) {
      const bytes = encode((w) => {
        header(w, 51);
        w.varint(1);
        w.u8(op);
        w.varint(lease);
      });
      const decoded = decodeRaftNodeMessage(bytes, { clusterId: CLUSTER });
      expect(decoded.ok ? 'ok' : decoded.error.code).toBe('ERR_DECODE_MALFORMED');
    }
  });

  it(`a hello with HELLO_URLS_MAX urls decodes; one more is oversized`, () => {
    const hello = (count: number) =>
      encode((w) => {
        header(w, 50);
        w.string('n', 255);
        w.varint(0);
        w.varint(count);
        for (let i = 0; i < count; i++) w.string('u', 512);
        w.varint(0);
      });
    for (const count of [HELLO_URLS_MAX - 1, HELLO_URLS_MAX])
      expect(decodeRaftNodeMessage(hello(count), { clusterId: CLUSTER }).ok).toBe(true);
    const over = decodeRaftNodeMessage(hello(HELLO_URLS_MAX + 1), { clusterId: CLUSTER });
    expect(over.ok ? 'ok' : over.error.code).toBe('ERR_DECODE_OVERSIZED');
  });

  it('another cluster and truncated bytes are refused', () => {
    const bytes = encodeRaftNodeMessage(
      {
        type: 'raft-node-request',
        from: ID_A,
        fromAddress: A,
        requestId: 3,
        args: { op: 'keep-alive', lease: 5 },
      },
      CLUSTER,
    );
    const other = decodeRaftNodeMessage(bytes, { clusterId: 'other' });
    expect(other.ok ? 'ok' : other.error.code).toBe('ERR_DECODE_WRONG_CLUSTER');
    const cut = decodeRaftNodeMessage(bytes.subarray(0, bytes.length - 1), { clusterId: CLUSTER });
    expect(cut.ok ? 'ok' : cut.error.code).toBe('ERR_DECODE_TRUNCATED');
  });

  it('the mux test tells node messages from Raft messages', () => {
    const node = encodeRaftNodeMessage(
      {
        type: 'raft-node-hello',
        from: ID_A,
        fromAddress: A,
        name: 'a',
        labels: { zone: 'a' },
        httpUrls: [],
        grpcUrls: [],
      },
      CLUSTER,
    );
    const raft = encodeRaftMessage(
      { type: 'raft-timeout-now', from: ID_A, fromAddress: A, term: 1 as never },
      CLUSTER,
    );
    expect(isRaftNodePayload(node)).toBe(true);
    expect(isRaftNodePayload(raft)).toBe(false);
    expect(isRaftNodePayload(node.subarray(0, 4))).toBe(false);
  });
});

describe('the node channel', () => {
  it('answers a call, passes Raft payloads to the driver, and counts bad bytes', async () => {
    const seen: string[] = [];
    const { fabric, a, b } = pair(
      handlers({
        onRequest: async (args) => ({
          kind: 'ok',
          value: args.op === 'keep-alive' ? args.lease : 0,
          term: 2,
        }),
      }),
    );
    b.transport.onReceive((_from, channel) => void seen.push(channel));
    const answer = a.call(B, { op: 'keep-alive', lease: 42 }, 1_000);
    fabric.pump();
    await flush();
    fabric.pump();
    expect(await answer).toEqual({ kind: 'ok', value: 42, term: 2 });
    a.transport.sendFrame(
      B,
      encodeRaftMessage(
        { type: 'raft-timeout-now', from: ID_A, fromAddress: A, term: 1 as never },
        CLUSTER,
      ),
    );
    a.transport.sendFrame(B, Uint8Array.of(0x53, 0x48, PROTOCOL_VERSION, 51, 9, 9));
    fabric.pump();
    expect(seen).toEqual(['stream']);
    expect(b.counters.decodeErrors).toEqual({ ERR_DECODE_TRUNCATED: 1 });
  });

  it('a call without an answer resolves `timeout` after its time', async () => {
    const { clock, a } = pair(handlers());
    const answer = a.call(B, { op: 'time-to-live', lease: 1 }, 500);
    clock.runUntil(499, { eventsMax: 100 });
    let settled: RpcOutcome | undefined;
    void answer.then((o) => (settled = o));
    await flush();
    expect(settled).toBeUndefined();
    clock.runUntil(500, { eventsMax: 100 });
    expect(await answer).toMatchObject({ kind: 'refused', reason: 'timeout' });
    expect(a.counters.callsTimedOut).toBe(1);
  });

  it('RPC_PENDING_MAX: calls up to the limit wait, the next fails ERR_QUEUE_FULL at once', async () => {
    const { a } = pair(handlers(), { pendingMax: 3 });
    const calls = [0, 1, 2].map(() => a.call(B, { op: 'time-to-live', lease: 1 }, 10_000));
    expect(await a.call(B, { op: 'time-to-live', lease: 1 }, 10_000)).toMatchObject({
      kind: 'error',
      code: 'ERR_QUEUE_FULL',
    });
    a.close();
    for (const call of calls) expect(await call).toMatchObject({ code: 'ERR_TRANSPORT_CLOSED' });
  });

  it('RPC_SERVING_MAX: requests beyond the limit are answered ERR_QUEUE_FULL', async () => {
    const never = new Promise<RpcOutcome>(() => undefined);
    const { fabric, a, b } = pair(handlers({ onRequest: () => never }), { servingMax: 2 });
    const calls = [0, 1, 2].map(() => a.call(B, { op: 'time-to-live', lease: 1 }, 10_000));
    fabric.pump();
    fabric.pump();
    expect(await calls[2]).toMatchObject({ kind: 'error', code: 'ERR_QUEUE_FULL' });
    expect(b.counters.refusedBusy).toBe(1);
    a.close();
  });
});

describe('what a leader serves', () => {
  const calls = (role: RaftState['role']) =>
    new LeaderCalls({
      clock: new SimClock(),
      state: () =>
        ({
          role,
          leader: undefined,
          term: 3,
          selfId: ID_B,
          selfAddress: B,
        }) as unknown as RaftState,
      core: () =>
        ({ change: async () => ({ ok: true, index: 9, term: 3 }) }) as unknown as CoreRequests,
      rpc: undefined as unknown as RaftRpc,
      lessor: undefined as unknown as LeaderLessor,
      barrier: async () => undefined,
      clearCheckpoint: async () => undefined,
      transferTimeoutMs: 1000,
      retryDelayMs: 10,
    });

  it('a stranger may only ask to add itself', async () => {
    const leader = calls('leader');
    const self = { op: 'add', address: A, id: ID_A, as: 'voter' } as const;
    expect(
      await leader.serve({ op: 'change', change: self }, { id: ID_A, address: A }, false),
    ).toMatchObject({ kind: 'ok', value: 9 });
    const other = { op: 'add', address: B, id: ID_A, as: 'voter' } as const;
    expect(
      await leader.serve({ op: 'change', change: other }, { id: ID_A, address: A }, false),
    ).toMatchObject({
      kind: 'error',
      code: 'ERR_INVALID_ARGUMENT',
    });
    expect(
      await leader.serve(
        { op: 'propose', data: new Uint8Array(1) },
        { id: ID_A, address: A },
        false,
      ),
    ).toMatchObject({
      kind: 'error',
    });
  });

  it('a member that does not lead refuses with no-leader or not-leader', async () => {
    expect(
      await calls('follower').serve({ op: 'keep-alive', lease: 1 }, { id: ID_A, address: A }, true),
    ).toMatchObject({
      kind: 'refused',
      reason: 'no-leader',
    });
  });
});
