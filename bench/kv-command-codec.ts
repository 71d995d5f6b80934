/**
 * The key-value command codec on a put's path (src/kv/codec.ts): the leader encodes each put
 * once (with its session) and every replica decodes it once to apply it. Times encode and
 * decode of a put with a session and a 256-byte value, in this process, as µs per call, for the
 * checkout at `--root` (default this one) and, with `--against DIR`, another checkout in
 * alternation (`--rounds` rounds each), so both see the same machine.
 *
 *   npx tsx bench/kv-command-codec.ts [--calls 200000] [--rounds 5] [--root DIR] [--against DIR]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as CodecApi from '../src/kv/codec.js';
import type * as ConfigApi from '../src/kv/config.js';
import { checkFlags, flagNumber, fmtRange, isMain, parseFlags } from './lib-report.js';

type CodecModule = typeof CodecApi;
type ConfigModule = typeof ConfigApi;

async function load(root: string) {
  const at = (path: string): string => pathToFileURL(resolve(root, path)).href;
  const codec = (await import(at('src/kv/codec.ts'))) as CodecModule;
  const config = (await import(at('src/kv/config.ts'))) as ConfigModule;
  return { codec, config: config.kvConfig() };
}

function time(
  codec: CodecModule,
  config: ReturnType<ConfigModule['kvConfig']>,
  calls: number,
): { encodeUs: number; decodeUs: number } {
  const value = new Uint8Array(256).fill(7);
  const commands = Array.from({ length: 64 }, (_, i) => ({
    session: { clientId: 'n1.4f2a9c.17', seq: 1000 + i },
    op: {
      kind: 'put' as const,
      request: {
        key: new TextEncoder().encode(`bench/put-c256/${String(i).padStart(8, '0')}`),
        value,
      },
    },
  }));
  const encoded: Uint8Array[] = [];
  let start = performance.now();
  for (let i = 0; i < calls; i++) {
    const bytes = codec.encodeCommand(commands[i & 63] as (typeof commands)[0], config);
    if (i < 64) encoded.push(bytes as Uint8Array);
  }
  const encodeUs = ((performance.now() - start) * 1000) / calls;
  let applied = 0;
  start = performance.now();
  for (let i = 0; i < calls; i++)
    if (codec.decodeCommand(encoded[i & 63] as Uint8Array, config).ok) applied++;
  const decodeUs = ((performance.now() - start) * 1000) / calls;
  if (applied !== calls) throw new Error('a command did not decode');
  return { encodeUs, decodeUs };
}

export async function run(argv: readonly string[] = []): Promise<string> {
  const flags = parseFlags(argv);
  checkFlags(flags, ['calls', 'rounds', 'root', 'against']);
  const calls = flagNumber(flags, 'calls', 200_000);
  const rounds = flagNumber(flags, 'rounds', 5);
  const roots = [
    resolve(flags.get('root') ?? fileURLToPath(new URL('../', import.meta.url))),
    ...(flags.has('against') ? [resolve(flags.get('against') as string)] : []),
  ];
  const loaded = await Promise.all(roots.map(load));
  const results = roots.map(() => ({ encode: [] as number[], decode: [] as number[] }));
  const load1 = loadavg()[0] ?? 0;
  for (let round = 0; round < rounds; round++)
    loaded.forEach(({ codec, config }, i) => {
      const r = time(codec, config, calls);
      results[i]?.encode.push(r.encodeUs);
      results[i]?.decode.push(r.decodeUs);
    });
  return roots
    .map(
      (root, i) =>
        `${root}: put encode ${fmtRange(results[i]?.encode ?? [], 2)} µs, decode ${fmtRange(results[i]?.decode ?? [], 2)} µs per call (${rounds} rounds of ${calls}, load ${load1.toFixed(1)})`,
    )
    .join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${await run(process.argv.slice(2))}\n`);
  process.exit(0);
}
