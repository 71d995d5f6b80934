/**
 * checkKvInvariants catches each broken rule: every rule is shown a state with exactly that bug
 * (the bug a faulty apply would leave) and must name it. A sound store passes (helpers.ts checks
 * after every command of every other test).
 */
import { describe, expect, it } from 'vitest';
import { checkKvInvariants } from '../../src/kv/invariants.js';
import type { KvRecord } from '../../src/kv/mvcc.js';
import { revision } from '../../src/kv/types.js';
import { TestStore, lid } from './helpers.js';

/** A store with history: puts, an update, a delete, a recreate, a leased key and a session. */
function sound(): TestStore {
  const s = new TestStore();
  s.grant(1);
  s.put('a', '1'); // 2
  s.put('a', '2'); // 3
  s.put('b', '1', { lease: lid(1) }); // 4
  s.del('a'); // 5
  s.put('a', '3'); // 6
  s.do(
    { kind: 'put', request: { key: new Uint8Array([0x63]), value: new Uint8Array(1) } },
    { clientId: 'c', seq: 1 },
  );
  expect(checkKvInvariants(s.state)).toEqual([]);
  return s;
}

const records = (s: TestStore, key: string): KvRecord[] => s.state.mvcc.index.get(key)!.records;
const broken = (s: TestStore): string => checkKvInvariants(s.state).join('\n');

describe('checkKvInvariants names each broken rule', () => {
  it('rule 1: records out of order, or above the store revision', () => {
    const s = sound();
    const r = records(s, 'a');
    [r[0], r[1]] = [r[1]!, r[0]!];
    expect(broken(s)).toMatch(/not after/);
    const t = sound();
    t.state.mvcc.revision = revision(5);
    expect(broken(t)).toMatch(/above revision 5/);
  });

  it('rule 2: a version that does not count puts, a lost createRevision, a tombstone with a version', () => {
    const s = sound();
    const r = records(s, 'a');
    r[1] = { ...r[1]!, kv: { ...r[1]!.kv, version: 1 } };
    expect(broken(s)).toMatch(/version 1 and createRevision 2, expected 2 and 2/);
    const t = sound();
    const recreated = records(t, 'a');
    recreated[3] = {
      ...recreated[3]!,
      kv: { ...recreated[3]!.kv, version: 3, createRevision: revision(2) },
    };
    expect(broken(t)).toMatch(/expected 1 and 6/);
    const u = sound();
    const tomb = records(u, 'a');
    tomb[2] = { ...tomb[2]!, kv: { ...tomb[2]!.kv, version: 2 } };
    expect(broken(u)).toMatch(/tombstone at 5 has a version/);
  });

  it('rule 3: compactRevision above revision; a tombstone kept past a finished compaction', () => {
    const s = sound();
    s.state.mvcc.compactRevision = revision(99);
    expect(broken(s)).toMatch(/compactRevision 99 above revision/);
    const t = sound();
    t.put('z', '1');
    t.del('z'); // tombstone at 9
    t.put('y', '1'); // 10
    t.do({ kind: 'compact', revision: revision(10) });
    for (let i = 0; i < 3; i++) t.do({ kind: 'range', request: { key: new Uint8Array([0x61]) } });
    // Re-insert what compaction dropped, as a compaction that forgot tombstones would leave it.
    t.state.mvcc.index.set('z', {
      text: 'z',
      records: [
        {
          text: 'z',
          main: revision(9),
          sub: 0,
          deleted: true,
          kv: {
            key: new Uint8Array([0x7a]),
            value: new Uint8Array(0),
            createRevision: revision(0),
            modRevision: revision(9),
            version: 0,
          },
        },
      ],
    });
    expect(broken(t)).toMatch(/tombstone at 9 survived compaction at 10/);
  });

  it('rule 4: the revision log misses a record, holds one twice, or ends below the revision', () => {
    const s = sound();
    s.state.mvcc.log.splice(2, 1);
    expect(broken(s)).toMatch(/log holds 5 records, histories 6/);
    const t = sound();
    t.state.mvcc.log.push(t.state.mvcc.log[0]!);
    expect(broken(t)).toMatch(/not after/);
    const u = sound();
    u.state.mvcc.log.pop();
    expect(broken(u)).toMatch(/last logged change is at 6/);
  });

  it('rule 5: a lease that lists a key it does not carry, or misses one it does', () => {
    const s = sound();
    s.state.leases.get(lid(1))!.keys.add('a');
    expect(broken(s)).toMatch(/lease 1 lists 2 keys, 1 keys carry it/);
    const t = sound();
    t.state.leases.get(lid(1))!.keys.clear();
    expect(broken(t)).toMatch(/lease 1 lists 0 keys, 1 keys carry it/);
    const u = sound();
    u.state.leases.delete(lid(1));
    expect(broken(u)).toMatch(/carries missing lease 1/);
  });

  it('rule 6: a session byte count that drifted, or more sessions than sessionsMax', () => {
    const s = sound();
    s.state.sessions.bytes += 1;
    expect(broken(s)).toMatch(/sessions count \d+ bytes, hold \d+/);
    const t = new TestStore({ sessionsMax: 1 });
    t.state.sessions.entries.set('x', { seq: 1, result: undefined });
    t.state.sessions.entries.set('y', { seq: 1, result: undefined });
    expect(broken(t)).toMatch(/2 sessions exceed sessionsMax 1/);
  });
});
