/**
 * The election protocols' messages on the wire (docs/design/election.md, "Wire"): static
 * heartbeats and raft-lite's vote, heartbeat, join and broadcast messages, as a `MessageTable`
 * in the envelope of src/codec. Every message starts
 * with the sender's NodeId and listen address; terms are varints; booleans share one flags
 * byte whose unused bits must be zero (reserved for later versions).
 */
import { assertNever } from '../base/assert.js';
import type { Address } from '../base/address.js';
import {
  readAddress,
  readFlags,
  writeAddress,
  type FieldLimits,
  type Reader,
  type Writer,
} from '../codec/bytes.js';
import {
  compileTable,
  decodeWith,
  encodeWith,
  type DecodeExpect,
  type DecodeResult,
} from '../codec/codec.js';
import { term } from '../base/units.js';
import type { NodeId } from '../identity/node-id.js';
import { ELECTION_TYPE_NUMBERS, type ElectionMessage } from './messages.js';

const FLAG_PRE_VOTE = 0x01;
const FLAG_GRANTED = 0x02;
const FLAG_JOINING = 0x01;
/** Smallest encoded address: a length byte and "h:0". */
const ADDRESS_BYTES_MIN = 4;

function writePeers(w: Writer, peers: readonly Address[], limits: FieldLimits): void {
  w.count(peers.length, limits.decodeListCountMax);
  for (const peer of peers) writeAddress(w, peer);
}

/** Smallest encoded pin: an address and a 16-byte NodeId. */
const PIN_BYTES_MIN = ADDRESS_BYTES_MIN + 16;

function writePins(
  w: Writer,
  pins: readonly (readonly [Address, NodeId])[],
  limits: FieldLimits,
): void {
  w.count(pins.length, limits.decodeListCountMax);
  for (const [address, id] of pins) {
    writeAddress(w, address);
    w.nodeId(id);
  }
}

function readPins(r: Reader): (readonly [Address, NodeId])[] {
  const count = r.count('pins count', PIN_BYTES_MIN);
  const pins: (readonly [Address, NodeId])[] = [];
  for (let i = 0; i < count; i++) pins.push([readAddress(r, 'pin address'), r.nodeId('pin id')]);
  return pins;
}

function readPeers(r: Reader): Address[] {
  const count = r.count('peers count', ADDRESS_BYTES_MIN);
  const peers: Address[] = [];
  for (let i = 0; i < count; i++) peers.push(readAddress(r, 'peer'));
  return peers;
}

function writePayload(w: Writer, msg: ElectionMessage, limits: FieldLimits): void {
  w.nodeId(msg.from);
  writeAddress(w, msg.fromAddress);
  switch (msg.type) {
    case 'heartbeat':
      w.varint(msg.term);
      w.varint(msg.sentAtMs);
      // 0: nothing to echo yet; otherwise the echoed time plus one.
      return w.varint(msg.echoMs === undefined ? 0 : msg.echoMs + 1);
    case 'heartbeat-ack':
      w.varint(msg.term);
      w.varint(msg.configTerm);
      return w.varint(msg.configVersion);
    case 'vote-request':
      w.varint(msg.term);
      w.u8(msg.preVote ? FLAG_PRE_VOTE : 0);
      w.varint(msg.configTerm);
      return w.varint(msg.configVersion);
    case 'vote-response':
      w.varint(msg.term);
      return w.u8((msg.preVote ? FLAG_PRE_VOTE : 0) | (msg.granted ? FLAG_GRANTED : 0));
    case 'leader-heartbeat':
      w.varint(msg.term);
      w.varint(msg.configTerm);
      w.varint(msg.configVersion);
      writePeers(w, msg.peers, limits);
      return writePins(w, msg.pins, limits);
    case 'join-cluster':
      w.varint(msg.configVersion);
      return w.u8(msg.joining ? FLAG_JOINING : 0);
    case 'peer-broadcast':
      w.varint(msg.term);
      return w.string(msg.payload, limits.decodeStringBytesMax);
    default:
      return assertNever(msg, 'election message type');
  }
}

function readPayload(r: Reader, type: ElectionMessage['type']): ElectionMessage {
  const from = r.nodeId('from');
  const fromAddress = readAddress(r, 'fromAddress');
  switch (type) {
    case 'heartbeat': {
      const t = term(r.varint('term'));
      const sentAtMs = r.varint('sentAtMs');
      const echo = r.varint('echoMs');
      return {
        type,
        from,
        fromAddress,
        term: t,
        sentAtMs,
        echoMs: echo === 0 ? undefined : echo - 1,
      };
    }
    case 'heartbeat-ack':
      return {
        type,
        from,
        fromAddress,
        term: term(r.varint('term')),
        configTerm: term(r.varint('configTerm')),
        configVersion: r.varint('configVersion'),
      };
    case 'vote-request': {
      const t = term(r.varint('term'));
      const flags = readFlags(r, FLAG_PRE_VOTE, 'vote-request flags');
      return {
        type,
        from,
        fromAddress,
        term: t,
        preVote: (flags & FLAG_PRE_VOTE) !== 0,
        configTerm: term(r.varint('configTerm')),
        configVersion: r.varint('configVersion'),
      };
    }
    case 'vote-response': {
      const t = term(r.varint('term'));
      const flags = readFlags(r, FLAG_PRE_VOTE | FLAG_GRANTED, 'vote-response flags');
      return {
        type,
        from,
        fromAddress,
        term: t,
        preVote: (flags & FLAG_PRE_VOTE) !== 0,
        granted: (flags & FLAG_GRANTED) !== 0,
      };
    }
    case 'leader-heartbeat':
      return {
        type,
        from,
        fromAddress,
        term: term(r.varint('term')),
        configTerm: term(r.varint('configTerm')),
        configVersion: r.varint('configVersion'),
        peers: readPeers(r),
        pins: readPins(r),
      };
    case 'join-cluster': {
      const configVersion = r.varint('configVersion');
      const flags = readFlags(r, FLAG_JOINING, 'join-cluster flags');
      return { type, from, fromAddress, configVersion, joining: (flags & FLAG_JOINING) !== 0 };
    }
    case 'peer-broadcast':
      return {
        type,
        from,
        fromAddress,
        term: term(r.varint('term')),
        payload: r.string('payload'),
      };
    default:
      return assertNever(type, 'election message type');
  }
}

/** The election messages as the envelope codec reads and writes them. */
export const ELECTION_MESSAGES = compileTable<ElectionMessage>({
  numbers: ELECTION_TYPE_NUMBERS,
  write: writePayload,
  read: (r, type) => readPayload(r, type),
});

export function encodeElectionMessage(msg: ElectionMessage, clusterId: string): Uint8Array {
  return encodeWith(ELECTION_MESSAGES, msg, clusterId);
}

/** Decodes one election message; never throws (a membership message is ERR_DECODE_UNKNOWN_TYPE). */
export function decodeElectionMessage(
  bytes: Uint8Array,
  expect: DecodeExpect,
): DecodeResult<ElectionMessage> {
  return decodeWith(ELECTION_MESSAGES, bytes, expect);
}
