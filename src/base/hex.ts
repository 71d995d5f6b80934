/** Lowercase hex encoding of bytes, without Node's Buffer, for use in pure cores. */
import { assert } from './assert.js';

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (HEX[b >>> 4] as string) + (HEX[b & 15] as string);
  return out;
}

/** Parses lowercase or uppercase hex; asserts on odd length or a non-hex digit (callers validate input first). */
export function fromHex(text: string): Uint8Array {
  assert(text.length % 2 === 0, `fromHex: odd length ${text.length}`);
  assert(/^[0-9a-fA-F]*$/.test(text), 'fromHex: non-hex digit');
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}
