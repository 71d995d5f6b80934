/**
 * The authenticated stream hello of raft mode (src/transport/peer-auth.ts): one test per refusal
 * kind (malformed, key/id mismatch, wrong acceptor, stale timestamp, bad signature, replayed
 * nonce, not admitted), the bound on remembered nonces, and over real sockets: a connection
 * whose first frame is not a hello the acceptor verifies is refused (`peer_auth`) and counted,
 * one that proves its key has its frames labelled with its NodeId.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import {
  generateRawKeyPair,
  nodeIdFromPublicKey,
  privateKeyFromSeed,
  signWith,
} from '../../src/identity/keys.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { NetTransport } from '../../src/transport/net.js';
import {
  PEER_HELLO_SKEW_MS,
  PeerAuthenticator,
  encodePeerHello,
  type PeerAuthRefusal,
  type PeerHelloFields,
} from '../../src/transport/peer-auth.js';
import { waitFor } from '../helpers/wait.js';
import { destroyRawClients, frame, helloFrame, rawClient } from './raw-stream.js';

const CLUSTER = 'peer-auth-test';
const NOW = 1_800_000_000_000;
const ACCEPTOR = '127.0.0.1:7000' as Address;
const DIALER = '127.0.0.1:7001' as Address;

function keyPair(): {
  publicKey: Uint8Array;
  id: NodeId;
  sign: (data: Uint8Array) => Uint8Array;
} {
  const pair = generateRawKeyPair();
  const key = privateKeyFromSeed(pair.privateSeed);
  return {
    publicKey: pair.publicKey,
    id: nodeIdFromPublicKey(pair.publicKey),
    sign: (data) => signWith(key, data),
  };
}

let nonceCounter = 0;
function nonce(): Uint8Array {
  const out = new Uint8Array(16);
  new DataView(out.buffer).setUint32(0, ++nonceCounter);
  return out;
}

function authenticator(
  identity = keyPair(),
  extra: Partial<ConstructorParameters<typeof PeerAuthenticator>[0]> = {},
): PeerAuthenticator {
  return new PeerAuthenticator({
    clusterId: CLUSTER,
    identity,
    wallClockMs: () => NOW,
    randomBytes: () => nonce(),
    ...extra,
  });
}

/** A hello signed by `key` as a node of `cluster` signs (the domain tag and cluster id first). */
function forged(
  key: ReturnType<typeof keyPair>,
  fields: Partial<PeerHelloFields> = {},
  cluster = CLUSTER,
): Uint8Array {
  const tagged = (data: Uint8Array): Uint8Array => {
    const tag = new TextEncoder().encode('shoal/peer-hello/v1');
    const id = new TextEncoder().encode(cluster);
    return key.sign(new Uint8Array([...tag, id.length, ...id, ...data]));
  };
  return encodePeerHello(
    {
      publicKey: key.publicKey,
      address: DIALER,
      dialed: ACCEPTOR,
      timestampMs: NOW,
      nonce: nonce(),
      ...fields,
    },
    tagged,
  );
}

function refusalOf(auth: PeerAuthenticator, hello: Uint8Array): PeerAuthRefusal | 'ok' {
  const verdict = auth.verify(hello, [ACCEPTOR]);
  return verdict.ok ? 'ok' : verdict.reason;
}

describe('peer hello: the acceptor verifies the dialer (one signature per connection)', () => {
  it("a member's hello is accepted: its NodeId, listen address and dialled address", () => {
    const dialer = authenticator();
    const acceptor = authenticator();
    const verdict = acceptor.verify(dialer.hello(DIALER, ACCEPTOR), [ACCEPTOR]);
    expect(verdict).toMatchObject({
      ok: true,
      hello: { id: dialer.id, address: DIALER, dialed: ACCEPTOR, timestampMs: NOW },
    });
    expect(acceptor.accepted).toBe(1);
  });

  it('malformed: a plain v1 hello, a truncated one, trailing bytes, unknown flags, a bad address', () => {
    const acceptor = authenticator();
    const good = forged(keyPair());
    expect(refusalOf(acceptor, helloFrame(DIALER).subarray(4))).toBe('malformed');
    expect(refusalOf(acceptor, good.subarray(0, good.length - 1))).toBe('malformed');
    expect(refusalOf(acceptor, new Uint8Array([...good, 0]))).toBe('malformed');
    const flags = good.slice();
    flags[4] = 0x80;
    expect(refusalOf(acceptor, flags)).toBe('malformed');
    const noPort = forged(keyPair(), { address: '127.0.0.1:0' as Address });
    expect(refusalOf(acceptor, noPort)).toBe('malformed');
    expect(refusalOf(acceptor, new Uint8Array(0))).toBe('malformed');
    expect(acceptor.refusals.malformed).toBe(6);
  });

  it("key/id mismatch: a member's NodeId claimed with another key", () => {
    const member = keyPair();
    const attacker = keyPair();
    const hello = forged(attacker, { claimedId: member.id });
    expect(refusalOf(authenticator(), hello)).toBe('id_mismatch');
  });

  it('wrong acceptor: a hello made for another member is refused here', () => {
    const hello = forged(keyPair(), { dialed: '127.0.0.1:7999' as Address });
    expect(refusalOf(authenticator(), hello)).toBe('wrong_acceptor');
    // A DNS name with this acceptor's port is taken (members may be dialled by name).
    expect(
      refusalOf(authenticator(), forged(keyPair(), { dialed: 'n1.local:7000' as Address })),
    ).toBe('ok');
  });

  it('stale: a timestamp more than the skew window away, either way', () => {
    const acceptor = authenticator();
    const key = keyPair();
    expect(refusalOf(acceptor, forged(key, { timestampMs: NOW - PEER_HELLO_SKEW_MS - 1 }))).toBe(
      'stale',
    );
    expect(refusalOf(acceptor, forged(key, { timestampMs: NOW + PEER_HELLO_SKEW_MS + 1 }))).toBe(
      'stale',
    );
    expect(refusalOf(acceptor, forged(key, { timestampMs: NOW - PEER_HELLO_SKEW_MS }))).toBe('ok');
  });

  it('bad signature: a flipped bit anywhere signed, another cluster id, another key', () => {
    const acceptor = authenticator();
    const key = keyPair();
    const hello = forged(key);
    const flipped = hello.slice();
    const nonceAt = 5 + 16 + 32 + 8;
    flipped[nonceAt] = (flipped[nonceAt] as number) ^ 1;
    expect(refusalOf(acceptor, flipped)).toBe('bad_signature');
    expect(refusalOf(acceptor, forged(key, {}, 'another-cluster'))).toBe('bad_signature');
    const other = keyPair();
    const stolenFields = encodePeerHello(
      {
        publicKey: key.publicKey,
        address: DIALER,
        dialed: ACCEPTOR,
        timestampMs: NOW,
        nonce: nonce(),
      },
      (data) => other.sign(data),
    );
    expect(refusalOf(acceptor, stolenFields)).toBe('bad_signature');
    expect(acceptor.refusals.bad_signature).toBe(3);
    expect(acceptor.noncesHeld).toBe(0);
  });

  it('replayed: the same hello twice within the window; a forged one never fills the cache', () => {
    const acceptor = authenticator();
    const hello = authenticator().hello(DIALER, ACCEPTOR);
    expect(refusalOf(acceptor, hello)).toBe('ok');
    expect(refusalOf(acceptor, hello)).toBe('replayed');
    expect(acceptor.noncesHeld).toBe(1);
  });

  it('nonces are forgotten once their hellos are stale anyway, and are bounded', () => {
    let now = NOW;
    const acceptor = authenticator(keyPair(), { wallClockMs: () => now, noncesMax: 4 });
    const dialer = authenticator(keyPair(), { wallClockMs: () => now });
    const first = dialer.hello(DIALER, ACCEPTOR);
    expect(refusalOf(acceptor, first)).toBe('ok');
    for (let i = 0; i < 6; i++)
      expect(refusalOf(acceptor, dialer.hello(DIALER, ACCEPTOR))).toBe('ok');
    expect(acceptor.noncesHeld).toBe(4);
    now += 2 * PEER_HELLO_SKEW_MS + 1;
    expect(refusalOf(acceptor, first)).toBe('stale');
    expect(
      refusalOf(
        acceptor,
        authenticator(keyPair(), { wallClockMs: () => now }).hello(DIALER, ACCEPTOR),
      ),
    ).toBe('ok');
    expect(acceptor.noncesHeld).toBe(1);
  });

  it('not admitted: a verified key the admission policy refuses', () => {
    const member = keyPair();
    const acceptor = authenticator(keyPair(), {
      admit: (hello) =>
        hello.id === member.id ? undefined : `node ${hello.id} is not in admission.allow`,
    });
    expect(refusalOf(acceptor, forged(member))).toBe('ok');
    expect(refusalOf(acceptor, forged(keyPair()))).toBe('not_admitted');
  });
});

describe('peer hello over real sockets (NetTransport.authenticatePeers)', () => {
  const transports: NetTransport[] = [];
  afterEach(async () => {
    destroyRawClients();
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });

  async function authenticated(): Promise<{
    transport: NetTransport;
    auth: PeerAuthenticator;
    received: { from: string; peer: NodeId | undefined; data: string }[];
    refused: string[];
  }> {
    const transport = await NetTransport.bind('127.0.0.1:0');
    transports.push(transport);
    const auth = new PeerAuthenticator({ clusterId: CLUSTER, identity: keyPair() });
    const refused: string[] = [];
    transport.authenticatePeers(auth, (reason) => refused.push(reason));
    const received: { from: string; peer: NodeId | undefined; data: string }[] = [];
    transport.onReceive((from, _channel, data, peer) => {
      received.push({ from, peer, data: new TextDecoder().decode(data) });
    });
    return { transport, auth, received, refused };
  }

  it("two authenticating transports: frames arrive labelled with the sender's proved NodeId", async () => {
    const a = await authenticated();
    const b = await authenticated();
    a.transport.sendFrame(b.transport.localAddress, new TextEncoder().encode('hi'));
    await waitFor(() => b.received.length === 1, 10_000, 'the frame');
    expect(b.received[0]).toEqual({ from: a.transport.localAddress, peer: a.auth.id, data: 'hi' });
    expect(b.auth.accepted).toBe(1);
  });

  it('a connection opening with a plain hello, a forged hello or a replay is refused and counted', async () => {
    const b = await authenticated();
    const to = b.transport.localAddress;
    const plain = await rawClient(to);
    plain.socket.write(helloFrame('127.0.0.1:9'));
    plain.socket.write(frame(new TextEncoder().encode('forged')));
    const attacker = keyPair();
    const genuine = new PeerAuthenticator({ clusterId: CLUSTER, identity: attacker }).hello(
      '127.0.0.1:9' as Address,
      to,
    );
    const first = await rawClient(to);
    first.socket.write(frame(genuine));
    const replay = await rawClient(to);
    await waitFor(() => b.auth.accepted === 1, 10_000, 'the genuine hello');
    replay.socket.write(frame(genuine));
    replay.socket.write(frame(new TextEncoder().encode('replayed')));
    await waitFor(() => plain.closed() && replay.closed(), 10_000, 'both refused');
    expect(plain.refusal()).toBe('peer_auth');
    expect(replay.refusal()).toBe('peer_auth');
    expect(b.received).toEqual([]);
    expect(b.refused).toEqual(['malformed', 'replayed']);
    const dropped = b.transport.stats().dropped;
    expect(dropped['peer_auth_malformed']).toBe(1);
    expect(dropped['peer_auth_replayed']).toBe(1);
  });
});
