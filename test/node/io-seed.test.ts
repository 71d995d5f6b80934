/**
 * The production random stream differs between two lives of one node, even when both boot at
 * the same moment of their own monotonic clock: a restart that redrew its last life's stream
 * reused its write sessions and lease ids (docs/design/raft-kv.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Clock } from '../../src/base/time.js';
import { ms } from '../../src/base/time.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { productionIo } from '../../src/node/io.js';
import { resolveNodeOptions } from '../../src/node/options.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('two lives of one node that boot at the same clock reading draw different streams', async () => {
  const id = '0123456789abcdef0123456789abcdef' as NodeId;
  const frozen = { now: () => ms(42) } as unknown as Clock;
  const draws: number[][] = [];
  for (let life = 0; life < 2; life++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-io-seed-'));
    dirs.push(dataDir);
    const options = resolveNodeOptions({ name: 'n', dataDir, mode: { kind: 'single' } });
    const io = await productionIo(options, id, { clock: frozen });
    draws.push(Array.from({ length: 4 }, () => io.rng.int(2 ** 31)));
  }
  expect(draws[0]).not.toEqual(draws[1]);
});
