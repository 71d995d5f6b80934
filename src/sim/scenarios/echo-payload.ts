/**
 * The payloads of the network-echo scenario: kind, sender incarnation, per-path sequence number,
 * run-wide send index, then padding whose every byte is a function of the header, so the receiver can tell an intact
 * payload from one the network corrupted or aliased.
 */
export const ECHO_KINDS = { ping: 1, pong: 2, frame: 3 } as const;
export type EchoKind = keyof typeof ECHO_KINDS;

export interface EchoMessage {
  kind: EchoKind;
  incarnation: number;
  seq: number;
  /** The run-wide count of echo sends before this one: orders sends even within one millisecond. */
  sendIndex: number;
}

const HEADER_BYTES = 13;

function paddingByte(message: EchoMessage, index: number): number {
  return (message.seq * 31 + message.incarnation * 7 + index + ECHO_KINDS[message.kind]) & 0xff;
}

export function encodeEcho(message: EchoMessage, paddingBytes: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + paddingBytes);
  const view = new DataView(out.buffer);
  view.setUint8(0, ECHO_KINDS[message.kind]);
  view.setUint32(1, message.incarnation);
  view.setUint32(5, message.seq);
  view.setUint32(9, message.sendIndex);
  for (let i = 0; i < paddingBytes; i++) out[HEADER_BYTES + i] = paddingByte(message, i);
  return out;
}

/** The message, or undefined when the bytes are not an intact echo payload. */
export function decodeEcho(data: Uint8Array): EchoMessage | undefined {
  if (data.length < HEADER_BYTES) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const code = view.getUint8(0);
  const kind = (Object.keys(ECHO_KINDS) as EchoKind[]).find((k) => ECHO_KINDS[k] === code);
  if (kind === undefined) return undefined;
  const message: EchoMessage = {
    kind,
    incarnation: view.getUint32(1),
    seq: view.getUint32(5),
    sendIndex: view.getUint32(9),
  };
  for (let i = HEADER_BYTES; i < data.length; i++) {
    if (data[i] !== paddingByte(message, i - HEADER_BYTES)) return undefined;
  }
  return message;
}
