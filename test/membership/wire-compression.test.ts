/**
 * The driver's compressed push-pull (wire.md, "Compressed wrapper"): views go out deflated when
 * that is smaller, a compressed join is merged like a plain one, and wrappers that do not
 * inflate to exactly their declared length, or declare more than decodeMessageBytesMax, are
 * dropped and counted without touching the state.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/base/address.js';
import { LIMITS } from '../../src/base/limits.js';
import { Rng } from '../../src/base/rng.js';
import { decodeMessage, encodeMessage } from '../../src/membership/codec.js';
import {
  COMPRESS_BYTES_MIN,
  DEFLATE_DICTIONARY_V1,
  encodeCompressed,
  isCompressed,
  unwrapCompressed,
} from '../../src/codec/compressed.js';
import type { MemberRecord, Message } from '../../src/membership/messages.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { SimClock } from '../../src/sim/clock.js';
import { SimNetwork } from '../../src/sim/network.js';
import { simSwimNode } from '../helpers/sim-swim-node.js';
import { testId, testIdentity } from '../helpers/member-keys.js';
import { memberRecord } from './helpers.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { isDataPlanePayload } from '../../src/node/port-split.js';

const CLUSTER = 'zip';
const dictionary = new TextEncoder().encode(DEFLATE_DICTIONARY_V1);
const id = (i: number): NodeId => testId(i);

function setup() {
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: new Rng(5).fork('net') });
  const address = parseAddress('10.0.0.1:7946');
  const node = simSwimNode(clock, network, address, CLUSTER, testIdentity(1), 6);
  const driver = node.internals.membership!;
  const state = driver.state;
  const spyAddress = parseAddress('10.0.0.2:7946');
  const spy = new MemoryTransport(network, spyAddress);
  const frames: Uint8Array[] = [];
  spy.onReceive((_from, channel, data) => {
    // Membership's frames only: the node's data plane shares the port (a newcomer's first sync).
    if (channel === 'stream' && !isDataPlanePayload(data)) frames.push(data);
  });
  const run = (): void => void clock.runUntil(clock.now() + 100, { eventsMax: 10_000 });
  return {
    node,
    driver,
    state,
    spy,
    spyAddress,
    frames,
    run,
    address,
    fingerprint: state.fingerprint,
  };
}

function joinFrom(
  spyAddress: ReturnType<typeof parseAddress>,
  fingerprint: string,
  members: MemberRecord[],
): Message {
  return {
    type: 'push-pull',
    from: id(2),
    fromAddress: spyAddress,
    join: true,
    reply: true,
    configFingerprint: fingerprint,
    members,
  };
}

function records(count: number, spyAddress: ReturnType<typeof parseAddress>): MemberRecord[] {
  return Array.from({ length: count }, (_, i) =>
    memberRecord(i + 2, 1, 'alive', {
      clusterId: CLUSTER,
      address: i === 0 ? spyAddress : parseAddress(`10.0.1.${i}:7946`),
    }),
  );
}

describe('compressed push-pull in the driver', () => {
  it('merges a compressed join and answers with a compressed view that decodes to the full view', () => {
    const t = setup();
    const plain = encodeMessage(
      joinFrom(t.spyAddress, t.fingerprint, records(20, t.spyAddress)),
      CLUSTER,
    );
    expect(plain.length).toBeGreaterThan(COMPRESS_BYTES_MIN);
    const wrapped = encodeCompressed(deflateRawSync(plain, { dictionary }), plain.length, CLUSTER);
    expect(wrapped.length).toBeLessThan(plain.length);
    t.spy.sendFrame(t.address, wrapped);
    t.run();
    expect(t.state.members.size).toBe(21);
    expect(t.frames).toHaveLength(1);
    const reply = t.frames[0] as Uint8Array;
    expect(isCompressed(reply)).toBe(true);
    const unwrapped = unwrapCompressed(reply);
    if (!unwrapped.ok) throw new Error(unwrapped.error.detail);
    const decoded = decodeMessage(
      new Uint8Array(inflateRawSync(unwrapped.compressed, { dictionary })),
      { clusterId: CLUSTER },
    );
    expect(
      decoded.ok && decoded.message.type === 'push-pull' ? decoded.message.members.length : -1,
    ).toBe(21);
  });

  it("still merges a plain join (compression is the sender's choice), and its reply is compressed", () => {
    const t = setup();
    t.spy.sendFrame(
      t.address,
      encodeMessage(joinFrom(t.spyAddress, t.fingerprint, records(1, t.spyAddress)), CLUSTER),
    );
    t.run();
    expect(t.state.members.size).toBe(2);
    expect(t.frames).toHaveLength(1);
    // Even a two-member view carries the ~280-byte config fingerprint: above COMPRESS_BYTES_MIN.
    expect(isCompressed(t.frames[0] as Uint8Array)).toBe(true);
  });

  it.each([
    [
      'garbage instead of deflate',
      (plain: Uint8Array) =>
        encodeCompressed(new Uint8Array([0xff, 0xfe, 0xfd, 0xfc]), plain.length, CLUSTER),
      'ERR_DECODE_MALFORMED',
    ],
    [
      'a declared length one short (inflates to more)',
      (plain: Uint8Array) =>
        encodeCompressed(deflateRawSync(plain, { dictionary }), plain.length - 1, CLUSTER),
      'ERR_DECODE_MALFORMED',
    ],
    [
      'a declared length one long (inflates to less)',
      (plain: Uint8Array) =>
        encodeCompressed(deflateRawSync(plain, { dictionary }), plain.length + 1, CLUSTER),
      'ERR_DECODE_MALFORMED',
    ],
    [
      'a declared length over decodeMessageBytesMax',
      (plain: Uint8Array) =>
        encodeCompressed(
          deflateRawSync(plain, { dictionary }),
          LIMITS.decodeMessageBytesMax + 1,
          CLUSTER,
        ),
      'ERR_DECODE_OVERSIZED',
    ],
  ] as const)('drops and counts %s, state untouched', (_what, make, code) => {
    const t = setup();
    const plain = encodeMessage(
      joinFrom(t.spyAddress, t.fingerprint, records(20, t.spyAddress)),
      CLUSTER,
    );
    t.spy.sendFrame(t.address, make(plain));
    t.run();
    expect(t.driver.decodeErrors[code]).toBe(1);
    expect(t.state.members.size).toBe(1);
    expect(t.frames).toHaveLength(0);
  });

  it('a zip bomb (a large run declared as small) is cut off at the declared length', () => {
    const t = setup();
    const bomb = deflateRawSync(new Uint8Array(8 * 1024 * 1024), { dictionary });
    t.spy.sendFrame(t.address, encodeCompressed(bomb, 1000, CLUSTER));
    t.run();
    expect(t.driver.decodeErrors['ERR_DECODE_MALFORMED']).toBe(1);
    expect(t.state.members.size).toBe(1);
  });
});
