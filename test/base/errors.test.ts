import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ShoalError, hasErrorCode } from '../../src/base/errors.js';

function documentedCodes(): Record<string, string> {
  const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows: Record<string, string> = {};
  for (const match of text.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \| (.+) \|$/gm)) {
    rows[match[1] as string] = match[2] as string;
  }
  return rows;
}

describe('error registry', () => {
  it('docs/errors.md lists exactly the codes of src/base/errors.ts, in the same words', () => {
    expect(documentedCodes()).toEqual({ ...ERROR_CODES });
  });

  it('ShoalError carries its code and is matched by code, not class', () => {
    const err = new ShoalError('ERR_INVALID_CONFIG', 'probeIntervalMs (0) must be > 0');
    expect(err.code).toBe('ERR_INVALID_CONFIG');
    expect(hasErrorCode(err, 'ERR_INVALID_CONFIG')).toBe(true);
    expect(hasErrorCode({ code: 'ERR_INVALID_CONFIG' }, 'ERR_INVALID_CONFIG')).toBe(true);
    expect(hasErrorCode(new Error('x'), 'ERR_INVALID_CONFIG')).toBe(false);
    expect(hasErrorCode(null, 'ERR_INVALID_CONFIG')).toBe(false);
  });
});
