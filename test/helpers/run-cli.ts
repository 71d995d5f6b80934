/** Runs the `shoal` CLI in-process through `main`, capturing stdout and stderr (never exits the test). */
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export async function shoal(
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'shoal', ...args], (text) => (out += text));
    return { code, out, err };
  } finally {
    spy.mockRestore();
  }
}
