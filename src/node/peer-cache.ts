/**
 * The persisted peer cache: addresses of live members, written when the live set changes
 * (coalesced: at most one write per `PEER_CACHE_SAVE_DELAY_MS`, and none when the list is
 * unchanged), read at start so that a restarted node can rejoin when its configured seeds are gone. Bounded
 * (`PEER_CACHE_MAX`); a corrupt cache is ignored (and rewritten at the next change) because it
 * is only a hint — the configured seeds still apply. For the same reason a failed write (disk
 * full, out of file descriptors) is counted in `writeErrors` and skipped: it must never take the
 * node down. Writes go through `Storage.writeDurable` (off the event loop) and the coalescing
 * timer is the node's clock, so the simulator runs this exactly as production does.
 */
import { splitAddress, type Address } from '../base/address.js';
import type { ShoalError } from '../base/errors.js';
import type { Storage } from '../base/storage.js';
import { ms, type Clock, type TimerHandle } from '../base/time.js';
import type { MemberView } from '../membership/types.js';

export const PEER_CACHE_FILE = 'membership/peers.json';
export const PEER_CACHE_MAX = 64;
/**
 * Saves are coalesced over this window. In a join storm the live set changes once per joiner,
 * and saving on every change (N writes per node, N² for N nodes in one process) costs more than
 * it is worth (membership-join bench profile). The cache is a hint for the next start, so a
 * second's lag costs nothing.
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
  private pending: { timer: TimerHandle; read: () => readonly MemberView[] } | undefined;
  /** The write in flight, and the newest text waiting behind it. */
  private writing: Promise<void> | undefined;
  private queued: string | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly self: Address,
  ) {}

  /** Saves `read()` within PEER_CACHE_SAVE_DELAY_MS; calls until then share that one save. */
  schedule(read: () => readonly MemberView[]): void {
    if (this.pending !== undefined) {
      this.pending.read = read;
      return;
    }
    const timer = this.clock.setTimer(ms(PEER_CACHE_SAVE_DELAY_MS), () => void this.flush());
    this.pending = { timer, read };
  }

  /** Performs a scheduled save now (at close, so the last view is kept); resolves once it is written. */
  flush(): Promise<void> {
    const pending = this.pending;
    if (pending !== undefined) {
      this.pending = undefined;
      pending.timer.cancel();
      this.save(pending.read());
    }
    return this.writing ?? Promise.resolve();
  }

  /** Drops a scheduled save (the process died: nothing more is written). */
  cancel(): void {
    this.pending?.timer.cancel();
    this.pending = undefined;
    this.queued = undefined;
  }

  load(): Address[] {
    const bytes = this.storage.read(PEER_CACHE_FILE);
    if (bytes === undefined) return [];
    try {
      const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { peers?: unknown };
      if (!Array.isArray(parsed.peers)) throw new Error('no peers array');
      return parsed.peers
        .filter(
          (p): p is string =>
            typeof p === 'string' && splitAddress(p) !== undefined && p !== this.self,
        )
        .slice(0, PEER_CACHE_MAX) as Address[];
    } catch {
      this.corrupt = true;
      return [];
    }
  }

  /** Writes the live peers of `members` unless that is what the file already holds. */
  save(members: readonly MemberView[]): void {
    const peers = members
      .filter((m) => (m.state === 'alive' || m.state === 'suspect') && m.address !== this.self)
      .map((m) => m.address)
      .slice(0, PEER_CACHE_MAX);
    const text = `${JSON.stringify({ peers })}\n`;
    if (text === this.lastSaved || text === this.queued) return;
    if (this.writing !== undefined) {
      this.queued = text;
      return;
    }
    this.write(text);
  }

  private write(text: string): void {
    this.writing = new Promise((resolve) => {
      this.storage.writeDurable(
        PEER_CACHE_FILE,
        new TextEncoder().encode(text),
        (error: ShoalError | undefined) => {
          if (error === undefined) {
            this.lastSaved = text;
            this.writes++;
          } else {
            this.writeErrors++;
            this.lastWriteError = error.message;
          }
          this.writing = undefined;
          const next = this.queued;
          this.queued = undefined;
          if (next !== undefined && next !== this.lastSaved) this.write(next);
          resolve(this.writing ?? undefined);
        },
      );
    });
  }
}
