/**
 * CPU time of server processes from procfs, to report server CPU µs per operation the way
 * /work/shared/peers measured etcd: utime + stime (fields 14 and 15 of /proc/<pid>/stat, in
 * clock ticks) summed over a set of PIDs, sampled before and after a measurement. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ (`getconf CLK_TCK`, 100 on every Linux we run on). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim();
    const value = Number(text);
    ticksPerSecond = Number.isSafeInteger(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

/**
 * utime + stime of `pid` in ms, or undefined when the process is gone. The command name (field
 * 2) may hold spaces and parentheses, so the fields are counted after the last ')'.
 */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / clockTicksPerSecond() : undefined;
}

/** A CPU sample of several processes; `since` gives the CPU ms they used in between. */
export class CpuSample {
  private readonly startMs: Map<number, number | undefined>;

  constructor(private readonly pids: readonly number[]) {
    this.startMs = new Map(pids.map((pid) => [pid, processCpuMs(pid)]));
  }

  /** CPU ms used by the PIDs since the sample, or undefined if one of them died in between. */
  usedMs(): number | undefined {
    let total = 0;
    for (const pid of this.pids) {
      const before = this.startMs.get(pid);
      const after = processCpuMs(pid);
      if (before === undefined || after === undefined) return undefined;
      total += after - before;
    }
    return total;
  }
}
