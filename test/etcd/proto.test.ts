/**
 * Shoal's copy of etcd's protocol definitions (src/etcd/proto, from etcd v3.4.23) against the
 * copy the etcd3 npm client ships (a later etcd's): every field both define has the same number,
 * type, label and message type, so the two sides agree on every byte. The later copy's only
 * additions are etcd 3.5's, which a 3.4 server does not have either.
 */
import { fileURLToPath } from 'node:url';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { etcdPackage } from '../../src/etcd/proto.js';

interface FieldDescriptor {
  name: string;
  number: number;
  type: string;
  label: string;
  typeName: string;
}

function fields(def: PackageDefinition): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, entry] of Object.entries(def)) {
    const type = (entry as { type?: { field?: FieldDescriptor[] } }).type;
    for (const f of type?.field ?? [])
      out.set(`${name}.${f.name}`, `${f.number} ${f.type} ${f.label} ${f.typeName}`);
  }
  return out;
}

function methods(def: PackageDefinition): Set<string> {
  const out = new Set<string>();
  for (const [name, entry] of Object.entries(def))
    if (!('format' in entry)) for (const method of Object.keys(entry)) out.add(`${name}/${method}`);
  return out;
}

const etcd3Copy = loadSync('rpc.proto', {
  includeDirs: [fileURLToPath(new URL('../../node_modules/etcd3/proto/', import.meta.url))],
  keepCase: true,
});

/** etcd 3.5's additions in the etcd3 client's copy. */
const ETCD_35_FIELDS = [
  'etcdserverpb.MemberListRequest.linearizable',
  'etcdserverpb.DowngradeRequest.action',
  'etcdserverpb.DowngradeRequest.version',
  'etcdserverpb.DowngradeResponse.header',
  'etcdserverpb.DowngradeResponse.version',
  'etcdserverpb.AuthStatusResponse.header',
  'etcdserverpb.AuthStatusResponse.enabled',
  'etcdserverpb.AuthStatusResponse.authRevision',
];
const ETCD_35_METHODS = ['etcdserverpb.Maintenance/Downgrade', 'etcdserverpb.Auth/AuthStatus'];

describe('etcd protocol definitions', () => {
  const ours = fields(etcdPackage());
  const theirs = fields(etcd3Copy);

  it('every field both copies define has the same number, type and label', () => {
    const shared = [...ours.keys()].filter((k) => theirs.has(k));
    expect(shared.length).toBeGreaterThan(200);
    for (const key of shared) expect(`${key} ${ours.get(key)}`).toBe(`${key} ${theirs.get(key)}`);
  });

  it('the later copy adds only etcd 3.5 fields and methods; ours adds nothing', () => {
    expect([...ours.keys()].filter((k) => !theirs.has(k))).toEqual([]);
    expect([...theirs.keys()].filter((k) => !ours.has(k)).sort()).toEqual(
      [...ETCD_35_FIELDS].sort(),
    );
    const ourMethods = methods(etcdPackage());
    const theirMethods = methods(etcd3Copy);
    expect([...ourMethods].filter((m) => !theirMethods.has(m))).toEqual([]);
    expect([...theirMethods].filter((m) => !ourMethods.has(m)).sort()).toEqual(
      [...ETCD_35_METHODS].sort(),
    );
  });

  it('field numbers a client depends on are etcd wire numbers (spot checks from rpc.proto)', () => {
    expect(ours.get('etcdserverpb.RangeRequest.range_end')).toMatch(/^2 TYPE_BYTES/);
    expect(ours.get('etcdserverpb.WatchResponse.compact_revision')).toMatch(/^5 TYPE_INT64/);
    expect(ours.get('etcdserverpb.ResponseHeader.member_id')).toMatch(/^2 TYPE_UINT64/);
    expect(ours.get('mvccpb.KeyValue.lease')).toMatch(/^6 TYPE_INT64/);
  });
});
