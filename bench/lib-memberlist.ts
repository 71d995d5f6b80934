/**
 * Runs hashicorp/memberlist's harness (/work/shared/peers/memberlist, built by its build.sh) in
 * the same bench run as ours, so a table can show both from one run on one machine state. The
 * harness prints one JSON object on stdout; it is bounded by its own `-time-limit` and by a
 * timer here that SIGKILLs the child by PID.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const MEMBERLIST_BIN =
  process.env.MEMBERLIST_BENCH ?? '/work/shared/peers/memberlist/bin/memberlist-bench';
const RUN_TIMEOUT_MS = 300_000;

export function memberlistAvailable(): boolean {
  return existsSync(MEMBERLIST_BIN);
}

/** One harness run (`args` are its flags); undefined when it fails or prints no JSON. */
export function runMemberlist(
  args: readonly string[],
): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const flags = [...args, '-time-limit', `${Math.floor(RUN_TIMEOUT_MS / 1000) - 10}s`];
    const child = execFile(
      MEMBERLIST_BIN,
      flags,
      { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout) => {
        if (err !== null) {
          process.stderr.write(
            `memberlist-bench (pid ${String(child.pid)}) failed: ${err.message}\n`,
          );
          resolve(undefined);
          return;
        }
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as Record<string, unknown>);
        } catch {
          resolve(undefined);
        }
      },
    );
  });
}
