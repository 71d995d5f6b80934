/**
 * The wire of the election protocols (static, raft-lite): election messages in the envelope
 * (docs/design/wire.md). Anything else — a decode failure, or a membership message sent to an
 * election port by a node of another mode (not in this table: ERR_DECODE_UNKNOWN_TYPE) — is
 * refused with its ERR_DECODE_* code, counted by the driver, and never reaches a core. Election messages go as packets.
 */
import type { Address } from '../base/address.js';
import type { Wire } from '../base/protocol.js';
import type { Millis } from '../base/time.js';
import { decodeElectionMessage, encodeElectionMessage } from './codec.js';
import { type ElectionMessage } from './messages.js';

export function electionWire<I>(
  clusterId: string,
  toInput: (message: ElectionMessage, from: Address, now: Millis) => I,
): Wire<I, ElectionMessage> {
  return {
    decode(data, from, _channel, now) {
      const decoded = decodeElectionMessage(data, { clusterId });
      if (!decoded.ok) return { ok: false, code: decoded.error.code, detail: decoded.error.detail };
      return { ok: true, input: toInput(decoded.message, from, now) };
    },
    encode: (message) => encodeElectionMessage(message, clusterId),
  };
}
