/**
 * The key-value state machine's invariants (docs/design/kv.md, "Invariants"), as sentences for
 * every rule a state breaks; empty when it is sound. Tests run it after every command of their
 * property runs, and a node may run it after applies in the simulator. O(history): not for
 * production hot paths.
 *
 * Rules:
 * 1. every key's records are in (main, sub) order, none above the store's revision;
 * 2. a put record's kv has modRevision = its revision, createRevision <= it and version >= 1, and
 *    a put right after a put of the same generation has version + 1 and the same createRevision;
 *    a put after a tombstone (or the first record of a new key) has version 1 and createRevision
 *    = its revision; a tombstone's kv has version 0;
 * 3. 0 <= compactRevision <= revision, and every read at or above compactRevision is answerable:
 *    no key's first record is a tombstone below compactRevision, once physical compaction is done;
 * 4. the revision log is exactly the records at or above compactRevision, in (main, sub) order,
 *    and its last record has the store's revision (revision 1: empty log);
 * 5. a lease's key set is exactly the keys whose current value carries that lease;
 * 6. sessions: at most sessionsMax, their byte count is right and within sessionsBytesMax.
 */
import { KEY_TEXT_END, type KeyHistory, type KvRecord } from './mvcc.js';
import type { KvState } from './state.js';

function before(a: KvRecord, b: KvRecord): boolean {
  return a.main < b.main || (a.main === b.main && a.sub < b.sub);
}

function checkHistory(state: KvState, history: KeyHistory, broken: string[]): void {
  const { revision, compactRevision, compactCursor } = state.mvcc;
  const name = JSON.stringify(history.text);
  const records = history.records;
  if (records.length === 0) broken.push(`key ${name} has no records`);
  records.forEach((r, i) => {
    const prev = records[i - 1];
    if (r.text !== history.text)
      broken.push(`record of ${JSON.stringify(r.text)} under key ${name}`);
    if (prev !== undefined && !before(prev, r))
      broken.push(
        `key ${name}: record (${r.main}, ${r.sub}) not after (${prev.main}, ${prev.sub})`,
      );
    if (r.main > revision)
      broken.push(`key ${name}: record at ${r.main} above revision ${revision}`);
    if (r.kv.modRevision !== r.main)
      broken.push(`key ${name}: record at ${r.main} has modRevision ${r.kv.modRevision}`);
    if (r.deleted) {
      if (r.kv.version !== 0) broken.push(`key ${name}: tombstone at ${r.main} has a version`);
      return;
    }
    if (
      r.kv.version < 1 ||
      r.kv.createRevision > r.main ||
      (r.kv.version === 1) !== (r.kv.createRevision === r.main)
    )
      broken.push(
        `key ${name}: put at ${r.main} has version ${r.kv.version}, created ${r.kv.createRevision}`,
      );
    if (prev === undefined) return;
    const fresh = prev.deleted;
    const version = fresh ? 1 : prev.kv.version + 1;
    const created = fresh ? r.main : prev.kv.createRevision;
    if (r.kv.version !== version || r.kv.createRevision !== created)
      broken.push(
        `key ${name}: put at ${r.main} has version ${r.kv.version} and createRevision ${r.kv.createRevision}, expected ${version} and ${created}`,
      );
  });
  const first = records[0];
  if (
    compactCursor === undefined &&
    first !== undefined &&
    first.deleted &&
    first.main < compactRevision
  )
    broken.push(
      `key ${name}: a tombstone at ${first.main} survived compaction at ${compactRevision}`,
    );
}

function checkLog(state: KvState, historyRecords: number, broken: string[]): void {
  const { log, revision, compactRevision } = state.mvcc;
  log.forEach((r, i) => {
    const prev = log[i - 1];
    if (prev !== undefined && !before(prev, r))
      broken.push(`log: (${r.main}, ${r.sub}) not after (${prev.main}, ${prev.sub})`);
    if (r.main < compactRevision)
      broken.push(`log: record at ${r.main} below compaction ${compactRevision}`);
    const history = state.mvcc.index.get(r.text);
    if (history === undefined || !history.records.includes(r))
      broken.push(
        `log: record (${r.main}, ${r.sub}) of ${JSON.stringify(r.text)} is in no history`,
      );
  });
  if (log.length !== historyRecords)
    broken.push(
      `log holds ${log.length} records, histories ${historyRecords} at or above ${compactRevision}`,
    );
  const last = log[log.length - 1];
  if (revision > 1 && last?.main !== revision)
    broken.push(`store revision ${revision} but the last logged change is at ${last?.main}`);
}

function checkLeases(state: KvState, broken: string[]): void {
  const attached = new Map<number, Set<string>>();
  state.mvcc.index.forRange('', KEY_TEXT_END, false, (text, history) => {
    const latest = history.records[history.records.length - 1];
    const lease = latest !== undefined && !latest.deleted ? latest.kv.lease : undefined;
    if (lease === undefined) return;
    if (!state.leases.has(lease))
      broken.push(`key ${JSON.stringify(text)} carries missing lease ${lease}`);
    const set = attached.get(lease) ?? new Set();
    set.add(text);
    attached.set(lease, set);
  });
  for (const [id, entry] of state.leases) {
    const want = attached.get(id) ?? new Set<string>();
    const same = want.size === entry.keys.size && [...want].every((k) => entry.keys.has(k));
    if (!same) broken.push(`lease ${id} lists ${entry.keys.size} keys, ${want.size} keys carry it`);
    if (entry.ttlMs < state.config.leaseTtlMsMin)
      broken.push(`lease ${id} TTL ${entry.ttlMs} below the minimum`);
  }
  if (state.leases.size > state.config.leasesMax)
    broken.push(`${state.leases.size} leases exceed leasesMax`);
}

function checkSessions(state: KvState, broken: string[]): void {
  const { entries, bytes } = state.sessions;
  const { sessionsMax, sessionsBytesMax } = state.config;
  let sum = 0;
  for (const entry of entries.values()) sum += entry.result?.length ?? 0;
  if (sum !== bytes) broken.push(`sessions count ${bytes} bytes, hold ${sum}`);
  if (entries.size > sessionsMax)
    broken.push(`${entries.size} sessions exceed sessionsMax ${sessionsMax}`);
  if (bytes > sessionsBytesMax)
    broken.push(`${bytes} session bytes exceed sessionsBytesMax ${sessionsBytesMax}`);
}

export function checkKvInvariants(state: KvState): string[] {
  const broken: string[] = [];
  const { revision, compactRevision } = state.mvcc;
  if (compactRevision > revision)
    broken.push(`compactRevision ${compactRevision} above revision ${revision}`);
  let logged = 0;
  state.mvcc.index.forRange('', KEY_TEXT_END, false, (_text, history) => {
    checkHistory(state, history, broken);
    for (const r of history.records) if (r.main >= compactRevision) logged++;
  });
  checkLog(state, logged, broken);
  checkLeases(state, broken);
  checkSessions(state, broken);
  return broken;
}
