/**
 * The rules etcd's watch clients rely on, checked over the responses one Watch stream sent (in
 * order), as a list of violations:
 * 1. a watch's first response is its `created` one: no event of it comes before;
 * 2. nothing of a watch follows its `canceled` response;
 * 3. a watch's events come in revision order, and no (revision, key) change twice;
 * 4. after a progress notification at revision R, the watch's events are all above R.
 * Responses with watch_id -1 (refused creates, progress for the whole stream) belong to no
 * watch.
 */
export interface WireWatchResponse {
  header?: { revision?: string | number } | null;
  watch_id?: string | number;
  created?: boolean;
  canceled?: boolean;
  events?: { kv?: { key?: Uint8Array; mod_revision?: string | number } | null }[];
}

interface WatchState {
  created: boolean;
  canceled: boolean;
  lastRevision: number;
  progress: number;
  seen: Set<string>;
}

export function checkWatchResponses(responses: readonly WireWatchResponse[]): string[] {
  const problems: string[] = [];
  const watches = new Map<string, WatchState>();
  responses.forEach((r, i) => {
    const id = String(r.watch_id ?? '0');
    if (id === '-1') return;
    let w = watches.get(id);
    if (w === undefined) {
      w = { created: false, canceled: false, lastRevision: 0, progress: 0, seen: new Set() };
      watches.set(id, w);
    }
    if (w.canceled) problems.push(`response ${i}: watch ${id} answered after its cancel`);
    if (r.created === true) {
      w.created = true;
      return;
    }
    if (!w.created) problems.push(`response ${i}: watch ${id} answered before it was created`);
    const events = r.events ?? [];
    for (const e of events) {
      const rev = Number(e.kv?.mod_revision ?? 0);
      const change = `${rev}/${Buffer.from(e.kv?.key ?? []).toString('hex')}`;
      if (rev < w.lastRevision)
        problems.push(`response ${i}: watch ${id} event at ${rev} after ${w.lastRevision}`);
      if (rev <= w.progress)
        problems.push(`response ${i}: watch ${id} event at ${rev} after progress ${w.progress}`);
      if (w.seen.has(change)) problems.push(`response ${i}: watch ${id} repeats ${change}`);
      w.seen.add(change);
      w.lastRevision = Math.max(w.lastRevision, rev);
    }
    if (r.canceled === true) w.canceled = true;
    else if (events.length === 0) w.progress = Number(r.header?.revision ?? 0);
  });
  return problems;
}
