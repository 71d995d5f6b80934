/**
 * The one place election drivers turn received bytes into an election message: anything else
 * (a decode failure, or a membership message sent to an election port) is refused and counted
 * by its ERR_DECODE_* code, never passed to a core.
 */
import { decodeMessage } from '../codec/codec.js';
import { isElectionMessage, type ElectionMessage } from '../codec/messages.js';

export function decodeElectionMessage(data: Uint8Array, clusterId: string, decodeErrors: Record<string, number>): ElectionMessage | undefined {
  const decoded = decodeMessage(data, { clusterId });
  if (decoded.ok && isElectionMessage(decoded.message)) return decoded.message;
  const code = decoded.ok ? 'ERR_DECODE_UNKNOWN_TYPE' : decoded.error.code;
  decodeErrors[code] = (decodeErrors[code] ?? 0) + 1;
  return undefined;
}
