import { describe, expect, it } from 'vitest';
import { envelopeClusterId } from '../../src/codec/codec.js';
import { encodeMessage } from './wire.js';
import type { Message } from '../../src/membership/messages.js';
import type { NodeId } from '../../src/identity/node-id.js';

const nack: Message = { type: 'nack', seq: 7, from: 'ab'.repeat(16) as NodeId };

describe('envelopeClusterId', () => {
  it('reads the cluster id of any valid envelope, whatever cluster the reader is in', () => {
    expect(envelopeClusterId(encodeMessage(nack, 'other-cluster'))).toBe('other-cluster');
  });

  it('is undefined for bytes that are not a Shoal envelope or whose cluster id is cut or not UTF-8', () => {
    const bytes = encodeMessage(nack, 'abc');
    expect(envelopeClusterId(new Uint8Array([1, 2, 3, 4, 5]))).toBeUndefined();
    expect(envelopeClusterId(bytes.subarray(0, 6))).toBeUndefined();
    const badUtf8 = bytes.slice();
    badUtf8[5] = 0xff;
    expect(envelopeClusterId(badUtf8)).toBeUndefined();
  });
});
