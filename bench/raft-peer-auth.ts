/**
 * What raft mode's authenticated connections cost (docs/security.md, "Raft mode"):
 *
 * 1. The handshake, CPU per connection: the dialer's hello (one Ed25519 signature) and the
 *    acceptor's verification (one verify, the nonce cache), µs each, over `--hellos` hellos.
 * 2. Raft put throughput, with and without it: a 3-node raft cluster in this process over
 *    loopback and real disks, `--clients` concurrent writers putting 64-byte values on the
 *    leader for `--duration-ms`, alternately with peer authentication on (the default) and off
 *    (`unsafeSkipVerification`: plain hellos, votes and heartbeats as UDP packets, the wire
 *    before it), `--rounds` times each. Puts/s per run; the medians are compared.
 *
 * `npx tsx bench/raft-peer-auth.ts [--hellos 2000] [--clients 16] [--duration-ms 4000]
 * [--rounds 2]` runs it alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from '../src/base/address.js';
import { generateRawKeyPair, privateKeyFromSeed, signWith } from '../src/identity/keys.js';
import { createNode, type ShoalNode } from '../src/node/node.js';
import { freeClusterAddresses } from '../src/transport/free-port.js';
import { PeerAuthenticator } from '../src/transport/peer-auth.js';
import {
  checkFlags,
  flagNumber,
  fmt,
  isMain,
  machineNote,
  median,
  parseFlags,
  sleep,
  table,
} from './lib-report.js';

function identity(): { publicKey: Uint8Array; sign: (data: Uint8Array) => Uint8Array } {
  const pair = generateRawKeyPair();
  const key = privateKeyFromSeed(pair.privateSeed);
  return { publicKey: pair.publicKey, sign: (data) => signWith(key, data) };
}

/** µs per hello made and per hello verified. */
export function handshakeCost(hellos: number): { signUs: number; verifyUs: number } {
  const dialer = new PeerAuthenticator({ clusterId: 'bench', identity: identity() });
  const acceptor = new PeerAuthenticator({ clusterId: 'bench', identity: identity() });
  const from = '127.0.0.1:7001' as Address;
  const to = '127.0.0.1:7000' as Address;
  for (let i = 0; i < 100; i++) acceptor.verify(dialer.hello(from, to), [to]); // warm up
  const made: Uint8Array[] = [];
  let t = performance.now();
  for (let i = 0; i < hellos; i++) made.push(dialer.hello(from, to));
  const signUs = ((performance.now() - t) * 1000) / hellos;
  t = performance.now();
  for (const hello of made) if (!acceptor.verify(hello, [to]).ok) throw new Error('refused');
  const verifyUs = ((performance.now() - t) * 1000) / hellos;
  return { signUs, verifyUs };
}

async function agreedLeader(nodes: readonly ShoalNode[]): Promise<ShoalNode> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ids = new Set(nodes.map((n) => n.leader()?.id));
    const id = [...ids][0];
    const leader = ids.size === 1 && id !== undefined ? nodes.find((n) => n.id === id) : undefined;
    if (leader !== undefined) return leader;
    await sleep(20);
  }
  throw new Error('no leader in 30 s');
}

/** Puts/s on a fresh 3-node cluster with peer authentication `on` or off. */
export async function putThroughput(
  on: boolean,
  clients: number,
  durationMs: number,
): Promise<number> {
  const addresses = await freeClusterAddresses(3);
  const dirs = addresses.map((_, i) => mkdtempSync(join(tmpdir(), `shoal-bench-auth-${i}-`)));
  const nodes: ShoalNode[] = [];
  try {
    for (const [i, address] of addresses.entries())
      nodes.push(
        await createNode(
          {
            name: `b${i}`,
            dataDir: dirs[i] as string,
            bind: address,
            mode: { kind: 'raft', peers: addresses },
            clusterId: 'bench-auth',
            profile: 'local',
          },
          {},
          on ? {} : { unsafeSkipVerification: true },
        ),
      );
    const leader = await agreedLeader(nodes);
    await leader.kv.put('warm', 'up');
    const value = 'v'.repeat(64);
    let done = 0;
    const end = Date.now() + durationMs;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; Date.now() < end; i++) {
          await leader.kv.put(`k/${c}/${i % 100}`, value);
          done++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['hellos', 'clients', 'duration-ms', 'rounds']);
  const hellos = flagNumber(flags, 'hellos', 2000);
  const clients = flagNumber(flags, 'clients', 16);
  const durationMs = flagNumber(flags, 'duration-ms', 4000);
  const rounds = flagNumber(flags, 'rounds', 2);
  const cost = handshakeCost(hellos);
  const out: string[] = [];
  out.push(`## Authenticated hello, ${hellos} hellos (${machineNote()})\n`);
  out.push(
    table(
      ['sign (dialer), µs', 'verify (acceptor), µs', 'per connection, µs'],
      [[fmt(cost.signUs, 1), fmt(cost.verifyUs, 1), fmt(cost.signUs + cost.verifyUs, 1)]],
    ),
  );
  const runs: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let r = 0; r < rounds; r++)
    for (const mode of ['off', 'on'] as const)
      runs[mode].push(await putThroughput(mode === 'on', clients, durationMs));
  out.push(`\n## Raft puts/s, 3 nodes in one process, ${clients} clients, ${durationMs} ms\n`);
  out.push(
    table(
      ['peer authentication', 'runs, puts/s', 'median'],
      (['off', 'on'] as const).map((mode) => [
        mode,
        runs[mode].map((v) => fmt(v)).join(', '),
        fmt(median(runs[mode])),
      ]),
    ),
  );
  return out.join('\n');
}

if (isMain(import.meta.url)) process.stdout.write(`${await run(process.argv.slice(2))}\n`);
