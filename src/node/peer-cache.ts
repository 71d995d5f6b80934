/**
 * The persisted peer cache: addresses of live members, written when the live set changes, read
 * at start so that a restarted node can rejoin when its configured seeds are gone. Bounded
 * (`PEER_CACHE_MAX`); a corrupt cache is ignored (and rewritten at the next change) because it
 * is only a hint — the configured seeds still apply. For the same reason a failed write (disk
 * full, out of file descriptors) is counted in `writeErrors` and skipped: it must never take the
 * node down from inside a protocol step.
 */
import { splitAddress, type Address } from '../base/address.js';
import { hasErrorCode } from '../base/errors.js';
import type { Storage } from '../base/storage.js';
import type { MemberView } from '../membership/types.js';

export const PEER_CACHE_FILE = 'membership/peers.json';
export const PEER_CACHE_MAX = 64;

export class PeerCache {
  /** True when the last load found a file it could not use. */
  corrupt = false;
  /** Saves that failed (ERR_STORAGE_IO), and the last such error's message. */
  writeErrors = 0;
  lastWriteError: string | undefined;

  constructor(private readonly storage: Storage, private readonly self: Address) {}

  load(): Address[] {
    const bytes = this.storage.read(PEER_CACHE_FILE);
    if (bytes === undefined) return [];
    try {
      const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { peers?: unknown };
      if (!Array.isArray(parsed.peers)) throw new Error('no peers array');
      return parsed.peers
        .filter((p): p is string => typeof p === 'string' && splitAddress(p) !== undefined && p !== this.self)
        .slice(0, PEER_CACHE_MAX) as Address[];
    } catch {
      this.corrupt = true;
      return [];
    }
  }

  save(members: readonly MemberView[]): void {
    const peers = members
      .filter((m) => (m.state === 'alive' || m.state === 'suspect') && m.address !== this.self)
      .map((m) => m.address)
      .slice(0, PEER_CACHE_MAX);
    const tmp = `${PEER_CACHE_FILE}.tmp`;
    try {
      this.storage.writeFile(tmp, new TextEncoder().encode(`${JSON.stringify({ peers })}\n`));
      this.storage.fsync(tmp);
      this.storage.rename(tmp, PEER_CACHE_FILE);
    } catch (err) {
      if (!hasErrorCode(err, 'ERR_STORAGE_IO')) throw err;
      this.writeErrors++;
      this.lastWriteError = (err as Error).message;
    }
  }
}
