/**
 * Server processes a bench or the Jepsen harness starts (etcd members, Shoal agents), tracked by
 * PID so that nothing outlives the harness: `track` remembers a child until it exits, and an
 * exit / SIGINT / SIGTERM hook SIGKILLs whatever is still tracked. `killNow` (SIGKILL, for the
 * nemesis) and `stopGracefully` (SIGCONT, SIGTERM, SIGKILL after a grace period) signal only the
 * child they are given. Every wait is bounded by the child's exit, which SIGKILL guarantees.
 */
import type { ChildProcess } from 'node:child_process';

const tracked = new Set<ChildProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = (): void => {
    for (const child of tracked) child.kill('SIGKILL');
    tracked.clear();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
}

/** Remembers `child` until it exits; it is SIGKILLed if this process ends first. */
export function track(child: ChildProcess): void {
  installExitHooks();
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILL, then waits for the exit. */
export async function killNow(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}

/** SIGCONT (a stopped process would not see the SIGTERM), SIGTERM, SIGKILL after `graceMs`. */
export async function stopGracefully(child: ChildProcess, graceMs: number): Promise<void> {
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Stops every member's process gracefully (at once) and forgets it; members without one are skipped. */
export async function stopMembers(
  members: ReadonlyArray<{ child?: ChildProcess | undefined }>,
  graceMs: number,
): Promise<void> {
  await Promise.all(
    members.map(async (member) => {
      const child = member.child;
      if (child === undefined) return;
      await stopGracefully(child, graceMs);
      member.child = undefined;
    }),
  );
}
