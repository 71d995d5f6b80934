/**
 * The gossip keyring (memberlist's model): AES-256 keys, the FIRST of which encrypts and ALL of
 * which are tried to decrypt. Keys rotate without downtime in three cluster-wide steps:
 * `install` the new key everywhere, `use` it (make it primary) everywhere, `remove` the old one.
 * Invariants: 1..LIMITS.keyringKeysMax keys, each exactly 32 bytes, no duplicates.
 */
import { randomBytes } from 'node:crypto';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';

export const KEY_BYTES = 32;
/** Canonical base64 of 32 bytes: 43 characters then one '=' of padding. */
const KEY_BASE64_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A new random key as base64 (`shoal keygen`). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Decodes one base64 key; throws ERR_KEYRING_INVALID naming `what` when it is not 32 bytes of canonical base64. */
export function decodeKey(text: string, what: string): Buffer {
  if (typeof text !== 'string' || !KEY_BASE64_RE.test(text)) {
    throw new ShoalError(
      'ERR_KEYRING_INVALID',
      `${what} is not a base64-encoded ${KEY_BYTES}-byte key (44 characters ending in '='); generate one with \`shoal keygen\``,
    );
  }
  return Buffer.from(text, 'base64');
}

export class Keyring {
  private keyList: Buffer[];

  private constructor(keys: Buffer[]) {
    this.keyList = keys;
  }

  /** Parses base64 keys, primary first. Throws ERR_KEYRING_INVALID naming the bad index. */
  static parse(keys: readonly string[]): Keyring {
    if (keys.length === 0 || keys.length > LIMITS.keyringKeysMax) {
      throw new ShoalError(
        'ERR_KEYRING_INVALID',
        `a keyring holds 1..${LIMITS.keyringKeysMax} keys, got ${keys.length}`,
      );
    }
    const decoded = keys.map((text, index) => decodeKey(text, `keyring[${index}]`));
    decoded.forEach((key, index) => {
      const first = decoded.findIndex((other) => other.equals(key));
      if (first !== index)
        throw new ShoalError('ERR_KEYRING_INVALID', `keyring[${index}] repeats keyring[${first}]`);
    });
    return new Keyring(decoded);
  }

  /** The key that encrypts. */
  primary(): Buffer {
    return this.keyList[0] as Buffer;
  }

  /** Every key, primary first; the decrypt order. */
  keys(): readonly Buffer[] {
    return this.keyList;
  }

  /** The keys as base64, primary first. */
  list(): string[] {
    return this.keyList.map((key) => key.toString('base64'));
  }

  /** Adds a key for decryption (step 1 of a rotation). Returns false if it was already installed. */
  install(text: string): boolean {
    const key = decodeKey(text, 'key to install');
    if (this.indexOf(key) >= 0) return false;
    if (this.keyList.length >= LIMITS.keyringKeysMax) {
      throw new ShoalError(
        'ERR_KEYRING_INVALID',
        `the keyring is full (${LIMITS.keyringKeysMax} keys); remove one first`,
      );
    }
    this.keyList = [...this.keyList, key];
    return true;
  }

  /** Makes an installed key the primary (step 2). */
  use(text: string): void {
    const key = decodeKey(text, 'key to use');
    const index = this.indexOf(key);
    if (index < 0)
      throw new ShoalError(
        'ERR_KEYRING_INVALID',
        'the key to use is not installed; install it first',
      );
    this.keyList = [key, ...this.keyList.filter((_, i) => i !== index)];
  }

  /** Removes a non-primary key (step 3). Returns false if it was not installed. */
  remove(text: string): boolean {
    const key = decodeKey(text, 'key to remove');
    const index = this.indexOf(key);
    if (index < 0) return false;
    if (index === 0)
      throw new ShoalError(
        'ERR_KEYRING_INVALID',
        'the primary key cannot be removed; use another key first',
      );
    this.keyList = this.keyList.filter((_, i) => i !== index);
    return true;
  }

  private indexOf(key: Buffer): number {
    return this.keyList.findIndex((other) => other.equals(key));
  }
}
