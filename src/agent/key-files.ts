/**
 * Secret files the agent reads (the node's identity with its private key, a gossip keyring
 * file) must be readable by their owner only. One that group or others may read or write is
 * used anyway (refusing would turn a permissions slip into an outage) but logged as a warning
 * naming the file, its mode and the chmod that fixes it. Key files (a keyring, cluster CA public
 * keys) hold one base64 key per line; `readKeyLines` reads them.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from 'pino';

/** The permission bits of `path` when group or others have any, or undefined (owner-only, or unreadable). */
export function looseMode(path: string): number | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
  return (mode & 0o077) === 0 ? undefined : mode;
}

/** Warns when `path` (a `what`: "identity file", "keyring file") is open to group or others. */
export function warnIfLoose(path: string, what: string, log: Logger): boolean {
  const mode = looseMode(path);
  if (mode === undefined) return false;
  const octal = `0${mode.toString(8).padStart(3, '0')}`;
  log.warn(
    { file: path, mode: octal },
    `${what} ${path} holds a secret key but has mode ${octal} (group or others may read it): run chmod 600 ${path}`,
  );
  return true;
}

/**
 * The text of `path`, trimmed. Throws an Error saying `cannot be read (CODE)` (`ENOENT`,
 * `EACCES`, ...) for the caller to name its field with.
 */
export function readTrimmed(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot be read (${String((err as { code?: unknown }).code ?? err)})`, {
      cause: err,
    });
  }
}

/**
 * The keys in a key file: one per line, trimmed, blank lines and `#` comments skipped. Throws
 * as `readTrimmed` does when the file cannot be read.
 */
export function readKeyLines(path: string): string[] {
  return readTrimmed(path)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
