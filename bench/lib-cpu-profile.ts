/**
 * Preload for CPU profiles of bench agents (Node refuses `--cpu-prof` in NODE_OPTIONS): with
 * BENCH_CPU_PROFILE_DIR set, `NODE_OPTIONS="--import tsx --import ./bench/lib-cpu-profile.ts"`
 * starts V8's sampling profiler in every process that loads it and writes
 * `<dir>/<pid>.cpuprofile` when the process exits (Chrome DevTools or `bench/cpu-profile-top.ts`
 * read it). Sampling interval: BENCH_CPU_PROFILE_US (default 200 µs).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', {
    interval: Number(process.env.BENCH_CPU_PROFILE_US ?? 200),
  });
  session.post('Profiler.start');
  process.once('exit', () => {
    // An in-process session answers synchronously, so the file is written before exit.
    session.post('Profiler.stop', (err, result) => {
      if (err === null)
        writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
