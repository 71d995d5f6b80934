/**
 * Transport hot path: UDP packet round trips on 127.0.0.1 between two NetTransports in this
 * process, plain and with gossip encryption (AES-256-GCM). Reports packets/s, CPU µs per packet
 * (process.cpuUsage, both ends together, so it counts a send and a receive per packet), and the
 * per-packet byte overhead of encryption. `npx tsx bench/transport.ts` runs it alone.
 */
import { pathToFileURL } from 'node:url';
import { ENCRYPTION_OVERHEAD_BYTES, EncryptedTransport } from '../src/transport/encrypted.js';
import { Keyring, generateKey } from '../src/transport/keyring.js';
import { NetTransport } from '../src/transport/net.js';
import type { Transport } from '../src/transport/types.js';

const ROUND_TRIPS = 20_000;
/** Packets in flight at once: enough to keep the loop busy, few enough not to overflow socket buffers. */
const WINDOW = 32;
const PAYLOAD_BYTES = 512;
const DEADLINE_MS = 30_000;

interface Result {
  label: string;
  packets: number;
  packetsPerSec: number;
  cpuUsPerPacket: number;
}

/** Echo server on `b`; `a` keeps WINDOW round trips in flight until ROUND_TRIPS complete or the deadline passes. */
async function measure(label: string, a: Transport, b: Transport): Promise<Result> {
  b.onReceive((from, _channel, data) => b.sendPacket(from, data));
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
  let completed = 0;
  let started = 0;
  const startCpu = process.cpuUsage();
  const startMs = performance.now();
  await new Promise<void>((resolve) => {
    const deadline = setTimeout(resolve, DEADLINE_MS);
    a.onReceive(() => {
      completed++;
      if (completed >= ROUND_TRIPS) {
        clearTimeout(deadline);
        resolve();
      } else if (started < ROUND_TRIPS) {
        started++;
        a.sendPacket(b.localAddress, payload);
      }
    });
    for (; started < WINDOW; started++) a.sendPacket(b.localAddress, payload);
  });
  const elapsedMs = performance.now() - startMs;
  const cpu = process.cpuUsage(startCpu);
  const packets = completed * 2;
  return {
    label,
    packets,
    packetsPerSec: Math.round(packets / (elapsedMs / 1000)),
    cpuUsPerPacket: (cpu.user + cpu.system) / packets,
  };
}

async function withPair<T>(
  encrypt: boolean,
  body: (a: Transport, b: Transport) => Promise<T>,
): Promise<T> {
  const key = generateKey();
  const wrap = (t: Transport): Transport =>
    encrypt ? new EncryptedTransport(t, Keyring.parse([key])) : t;
  const a = wrap(await NetTransport.bind('127.0.0.1:0'));
  const b = wrap(await NetTransport.bind('127.0.0.1:0'));
  try {
    return await body(a, b);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

export async function run(): Promise<string> {
  const results = [
    await withPair(false, (a, b) => measure('plain UDP', a, b)),
    await withPair(true, (a, b) => measure('AES-256-GCM UDP', a, b)),
  ];
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${PAYLOAD_BYTES} | ${r.packets} | ${r.packetsPerSec} | ${r.cpuUsPerPacket.toFixed(1)} |`,
  );
  return [
    `Round trips on 127.0.0.1, ${WINDOW} in flight, one process (CPU covers send + receive).`,
    '',
    '| transport | payload bytes | packets | packets/s | CPU µs/packet |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Encryption overhead: ${ENCRYPTION_OVERHEAD_BYTES} bytes per packet (1 version + 12 nonce + 16 tag), ` +
      `${((ENCRYPTION_OVERHEAD_BYTES / 1400) * 100).toFixed(1)}% of packetBytesMax (1400).`,
  ].join('\n');
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) process.stdout.write(`${await run()}\n`);
