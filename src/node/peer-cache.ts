/**
 * The persisted peer cache: addresses of live members, written when the live set changes
 * (coalesced: at most one write per `PEER_CACHE_SAVE_DELAY_MS`, and none when the list is
 * unchanged), read at start so that a restarted node can rejoin when its configured seeds are gone. Bounded
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
/**
 * Saves are coalesced over this window. A save is a write, an fsync and a rename, all
 * synchronous: in a join storm the live set changes once per joiner, and saving on every change
 * (N fsyncs per node, N² for N nodes in one process) blocked the event loop for about a third of
 * a 100-node join storm (membership-join bench profile). The cache is a hint for the next start,
 * so a second's lag costs nothing.
 */
export const PEER_CACHE_SAVE_DELAY_MS = 1000;

export class PeerCache {
  /** True when the last load found a file it could not use. */
  corrupt = false;
  /** Saves that failed (ERR_STORAGE_IO), and the last such error's message. */
  writeErrors = 0;
  lastWriteError: string | undefined;

  /** Saves that wrote the file (unchanged lists are skipped). */
  writes = 0;
  private lastSaved: string | undefined;
  private pending: { timer: NodeJS.Timeout; read: () => readonly MemberView[] } | undefined;

  constructor(private readonly storage: Storage, private readonly self: Address) {}

  /** Saves `read()` within PEER_CACHE_SAVE_DELAY_MS; calls until then share that one save. */
  schedule(read: () => readonly MemberView[]): void {
    if (this.pending !== undefined) {
      this.pending.read = read;
      return;
    }
    const timer = setTimeout(() => this.flush(), PEER_CACHE_SAVE_DELAY_MS);
    timer.unref();
    this.pending = { timer, read };
  }

  /** Performs a scheduled save now (at close, so the last view is kept); nothing when none is pending. */
  flush(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    this.save(pending.read());
  }

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
    const text = `${JSON.stringify({ peers })}\n`;
    if (text === this.lastSaved) return;
    const tmp = `${PEER_CACHE_FILE}.tmp`;
    try {
      this.storage.writeFile(tmp, new TextEncoder().encode(text));
      this.storage.fsync(tmp);
      this.storage.rename(tmp, PEER_CACHE_FILE);
      this.lastSaved = text;
      this.writes++;
    } catch (err) {
      if (!hasErrorCode(err, 'ERR_STORAGE_IO')) throw err;
      this.writeErrors++;
      this.lastWriteError = (err as Error).message;
    }
  }
}
