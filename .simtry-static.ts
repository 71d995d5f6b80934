import { parseFaults } from '/work/main/src/sim/faults.js';
import { formatFailure, runScenario } from '/work/main/src/sim/runner.js';
import * as S from '/work/main/src/sim/scenarios/election-static.js';
const env = { commit: 'x', nodeVersion: process.version };
const scen = (S as any)[process.argv[2]!];
const faults = parseFaults(process.argv[3] ?? 'all');
const seeds = Number(process.argv[4] ?? 10);
const dur = Number(process.argv[5] ?? 15000);
let fails = 0; const t0 = Date.now();
for (let seed = 1; seed <= seeds; seed++) for (const nodes of [3, 5]) {
  const r = runScenario(scen, { seed, nodes, faults, durationMs: dur });
  if (r.violation) { fails++; if (fails <= 3) console.log(formatFailure(r, env)); }
}
console.log(process.argv[2], 'fails', fails, 'of', seeds * 2, 'ms', Date.now() - t0);
