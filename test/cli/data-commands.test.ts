/**
 * `shoal services`, `shoal resolve`, `shoal place`, `shoal processes` (issue 16; docs/cli.md): the table formats
 * (nodes by member name, an unknown id by its first 8 digits, empty tags as `-`), and bad
 * arguments refused before any request (exit 2, naming the flag). The commands against running
 * agents are exercised in test/node/data-plane-agents.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { formatPlacement, formatProcesses, formatServices } from '../../src/cli/data-commands.js';
import type { NodeId } from '../../src/identity/node-id.js';
import type { Member } from '../../src/node/node.js';
import { shoal } from '../helpers/run-cli.js';

const A = 'a'.repeat(32) as NodeId;
const B = 'b'.repeat(32) as NodeId;
const members: Record<string, Member> = {
  [A]: {
    id: A,
    name: 'api-1',
    address: '127.0.0.1:7946',
    state: 'alive',
    incarnation: 1,
    labels: {},
  },
};
const member = (id: string): Member | undefined => members[id];

describe('data-plane client commands', () => {
  it('print the services table with member names', () => {
    expect(
      formatServices(
        [
          { name: 'api', node: A, address: '10.0.0.1:80', tags: ['v1', 'v2'], weight: 2 },
          { name: 'api', node: B, address: '10.0.0.2:80', tags: [], weight: 0 },
        ],
        member,
      ),
    ).toBe(
      'SERVICE  NODE      ADDRESS      WEIGHT  TAGS\n' +
        'api      api-1     10.0.0.1:80  2       v1,v2\n' +
        'api      bbbbbbbb  10.0.0.2:80  0       -\n',
    );
  });

  it('print the process table with member names', () => {
    expect(
      formatProcesses(
        [
          {
            pid: 'p1',
            node: A,
            type: 'worker',
            capabilities: ['gpu', 'x86'],
            status: 'running',
            load: 0.25,
          },
          { pid: 'p2', node: B, type: 'indexer', capabilities: [], status: 'draining', load: 0 },
        ],
        member,
      ),
    ).toBe(
      'PID  NODE      TYPE     STATUS    LOAD  CAPABILITIES\n' +
        'p1   api-1     worker   running   0.25  gpu,x86\n' +
        'p2   bbbbbbbb  indexer  draining  0     -\n',
    );
  });

  it('print owners primary first', () => {
    expect(
      formatPlacement({ key: 'k', replicas: 2, strategy: 'ring', owners: [A, B] }, member),
    ).toBe(
      'OWNER      NAME   ADDRESS         ID\n' +
        `primary    api-1  127.0.0.1:7946  ${A}\n` +
        `replica 1  ?      ?               ${B}\n`,
    );
  });

  it('refuse a bad --replicas with exit 2 before any request', async () => {
    for (const bad of ['0', 'two', '-1']) {
      const res = await shoal('place', 'k', '--replicas', bad, '--http', '127.0.0.1:1');
      expect(res.code, bad).toBe(2);
      expect(res.err).toMatch(/--replicas/);
    }
  });
});
