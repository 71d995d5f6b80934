/**
 * The persisted peer cache: addresses of live members, written when the live set changes, read
 * at start so that a restarted node can rejoin when its configured seeds are gone. Bounded
 * (`PEER_CACHE_MAX`); a corrupt cache is ignored (and rewritten at the next change) because it
 * is only a hint — the configured seeds still apply.
 */
import { splitAddress, type Address } from '../base/address.js';
import type { Storage } from '../base/storage.js';
import type { MemberView } from '../membership/types.js';

export const PEER_CACHE_FILE = 'membership/peers.json';
export const PEER_CACHE_MAX = 64;

export class PeerCache {
  /** True when the last load found a file it could not use. */
  corrupt = false;

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
    this.storage.writeFile(tmp, new TextEncoder().encode(`${JSON.stringify({ peers })}\n`));
    this.storage.fsync(tmp);
    this.storage.rename(tmp, PEER_CACHE_FILE);
  }
}
