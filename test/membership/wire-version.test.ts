/**
 * A member of another protocol version (wire.md, "Versioning"): its join is answered with a
 * `reject` (`bad_version`) instead of silence, our join through it fails with `bad_version` and a
 * detail naming both versions, a foreign reject is never answered (no loop between versions), and
 * nothing of a foreign frame reaches the state.
 */
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/base/address.js';
import { Rng } from '../../src/base/rng.js';
import { decodeMessage, encodeMessage } from '../../src/membership/codec.js';
import type { Message } from '../../src/membership/messages.js';
import { PROTOCOL_VERSION } from '../../src/codec/wire-numbers.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimNetwork } from '../../src/sim/network.js';
import { simSwimNode } from '../helpers/sim-swim-node.js';
import { testId, testIdentity } from '../helpers/member-keys.js';
import { memberRecord } from './helpers.js';
import { MemoryTransport } from '../../src/transport/memory.js';

const CLUSTER = 'versions';
const id = (i: number): NodeId => testId(i);

/** `message` encoded as a node of protocol version `version` would (same layout, other version byte). */
function foreign(message: Message, version = PROTOCOL_VERSION + 1): Uint8Array {
  const bytes = encodeMessage(message, CLUSTER);
  bytes[2] = version;
  return bytes;
}

function setup() {
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: new Rng(3).fork('net') });
  const address = parseAddress('10.0.0.1:7946');
  const node = simSwimNode(clock, network, address, CLUSTER, testIdentity(1), 4);
  const driver = node.internals.membership!;
  const state = driver.state;
  const peerAddress = parseAddress('10.0.0.2:7946');
  const peer = new MemoryTransport(network, peerAddress);
  const frames: Uint8Array[] = [];
  peer.onReceive((_from, channel, data) => {
    if (channel === 'stream') frames.push(data);
  });
  const run = (): void => void clock.runUntil(clock.now() + 100, { eventsMax: 10_000 });
  return { node, driver, state, peer, peerAddress, frames, run, address };
}

function joinFrom(peerAddress: ReturnType<typeof parseAddress>, fingerprint: string): Message {
  return {
    type: 'push-pull',
    from: id(2),
    fromAddress: peerAddress,
    join: true,
    reply: true,
    configFingerprint: fingerprint,
    members: [memberRecord(2, 1, 'alive', { clusterId: CLUSTER, name: 'b', address: peerAddress })],
  };
}

describe('protocol version mismatch', () => {
  it('answers a join of another version with a bad_version reject naming both versions, and merges nothing', () => {
    const t = setup();
    t.peer.sendFrame(t.address, foreign(joinFrom(t.peerAddress, t.state.fingerprint)));
    t.run();
    expect(t.frames).toHaveLength(1);
    const answer = decodeMessage(t.frames[0] as Uint8Array, { clusterId: CLUSTER });
    expect(answer.ok && answer.message).toMatchObject({ type: 'reject', reason: 'bad_version' });
    expect(answer.ok && answer.message.type === 'reject' && answer.message.detail).toMatch(
      new RegExp(`version ${PROTOCOL_VERSION + 1} .* speaks ${PROTOCOL_VERSION}`),
    );
    expect(t.driver.decodeErrors['ERR_DECODE_BAD_VERSION']).toBe(1);
    expect(t.state.members.size).toBe(1);
    expect(t.state.counters.rejectsReceived).toBe(0);
  });

  it('never answers a reject of another version (two versions cannot loop)', () => {
    const t = setup();
    t.peer.sendFrame(
      t.address,
      foreign({ type: 'reject', from: id(2), reason: 'bad_version', detail: 'x' }),
    );
    t.run();
    expect(t.frames).toHaveLength(0);
    expect(t.driver.decodeErrors['ERR_DECODE_BAD_VERSION']).toBe(1);
  });

  it('a join answered in another version fails with bad_version instead of timing out', async () => {
    const t = setup();
    let failure: unknown;
    void t.node.join([t.peerAddress]).catch((err: unknown) => {
      failure = err;
    });
    t.run();
    expect(t.frames).toHaveLength(1);
    t.peer.sendFrame(
      t.address,
      foreign({
        type: 'reject',
        from: id(2),
        reason: 'bad_version',
        detail: 'not readable by the joiner',
      }),
    );
    t.run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(failure).toMatchObject({ code: 'ERR_JOIN_FAILED' });
    expect((failure as Error).message).toMatch(
      new RegExp(
        `\\(bad_version\\): the node at .* speaks Shoal protocol version ${PROTOCOL_VERSION + 1} .* speaks ${PROTOCOL_VERSION}`,
      ),
    );
    expect(t.state.join).toBeUndefined();
  });
});
