/**
 * Simulator scale bench (membership issue goal: 10,000 members for 10 minutes of protocol time
 * in under 10 minutes of wall time). Runs the real MembershipDriver per node over MemoryTransport
 * on one SimNetwork with LAN timings, no faults, and reports wall time per protocol minute.
 *
 * Members start converged: each state is started alone, then merges one push-pull carrying every
 * member's record (the core's own join path, `mergeRemoteState`), and its broadcast queue is
 * emptied (everyone already knows everything). Memory is O(N^2): every node holds every member.
 *
 *   npx tsx bench/sim-scale.ts --nodes 1000 --minutes 10      (or `run()` from bench/run.ts)
 */
import { performance } from 'node:perf_hooks';
import type { Address } from '../src/base/address.js';
import { Rng } from '../src/base/rng.js';
import { ms } from '../src/base/time.js';
import type { MemberRecord } from '../src/codec/messages.js';
import { MembershipDriver } from '../src/membership/driver.js';
import { createState } from '../src/membership/state.js';
import { step } from '../src/membership/step.js';
import { SimClock } from '../src/sim/clock.js';
import { SimNetwork } from '../src/sim/network.js';
import { SimStorage } from '../src/sim/storage.js';
import { simAddress } from '../src/sim/trace.js';
import { SIM_CLUSTER_ID, fakeNodeId, swimConfig } from '../src/sim/scenarios/swim.js';
import { MemoryTransport } from '../src/transport/memory.js';

interface ScaleResult {
  nodes: number;
  minutes: number;
  setupMs: number;
  runMs: number;
  events: number;
  suspicions: number;
  deaths: number;
  heapMb: number;
}

export function measure(nodes: number, minutes: number, seed = 1): ScaleResult {
  const started = performance.now();
  const rng = new Rng(seed);
  const clock = new SimClock();
  const network = new SimNetwork({ clock, rng: rng.fork('network') });
  const config = swimConfig(nodes, 'LAN');
  const ids = Array.from({ length: nodes }, (_, i) => fakeNodeId(rng.fork(`node/n${i + 1}`).fork('id')));
  const records: MemberRecord[] = ids.map((id, i) => ({ id, name: `n${i + 1}`, address: simAddress(`n${i + 1}`), state: 'alive', incarnation: 1, labels: {} }));
  let suspicions = 0;
  let deaths = 0;
  for (let i = 0; i < nodes; i++) {
    const record = records[i] as MemberRecord;
    const nodeRng = rng.fork(`node/${record.name}`);
    const state = createState(config, { id: record.id, name: record.name, address: record.address, labels: {} }, 0, ms(0));
    const ctx = { rng: nodeRng.fork('bootstrap') };
    step(state, { kind: 'start', now: ms(0), seeds: [] }, ctx);
    step(state, { kind: 'receive', now: ms(0), from: 'boot:1' as Address, channel: 'stream', message: {
      type: 'push-pull', from: record.id, fromAddress: record.address, join: false, reply: false, configFingerprint: state.fingerprint, members: records,
    } }, ctx);
    state.queue.byMember.clear();
    const driver = new MembershipDriver({
      state, clock: clock.nodeClock(record.address), transport: new MemoryTransport(network, record.address), rng: nodeRng.fork('membership/1'),
      storage: new SimStorage({ rng: nodeRng.fork('storage') }), clusterId: SIM_CLUSTER_ID,
      onEvent: (event) => { if (event.type === 'suspect') suspicions++; else if (event.type === 'dead') deaths++; },
    });
    void driver.start([]);
  }
  const setupMs = performance.now() - started;
  const outcome = clock.runUntil(minutes * 60_000, { eventsMax: Number.MAX_SAFE_INTEGER });
  return { nodes, minutes, setupMs, runMs: performance.now() - started - setupMs, events: outcome.events, suspicions, deaths, heapMb: process.memoryUsage().heapUsed / 2 ** 20 };
}

function table(results: readonly ScaleResult[]): string {
  const rows = results.map((r) => `| ${r.nodes} | ${r.minutes} | ${(r.setupMs / 1000).toFixed(1)} | ${(r.runMs / 1000).toFixed(1)} | ${(r.runMs / 1000 / r.minutes).toFixed(2)} | ${r.events} | ${Math.round(r.events / (r.runMs / 1000))} | ${r.suspicions} | ${r.deaths} | ${Math.round(r.heapMb)} |`);
  return ['| nodes | protocol min | setup s | run s | wall s per protocol min | events | events/s | suspicions | deaths | heap MB |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |', ...rows].join('\n');
}

/** The bench entry for bench/run.ts: a small cluster, so `npm run bench` stays quick. */
export function run(): Promise<string> {
  return Promise.resolve(`### sim-scale (LAN timings, converged start, no faults)\n\n${table([measure(200, 1)])}\n`);
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) process.stdout.write(`${table([measure(flag('--nodes', 1000), flag('--minutes', 10))])}\n`);
