/*
 * Shoal dashboard logic (plain browser JS, no build step, nothing from the internet).
 *
 * Data: the /v1/events Server-Sent Events stream for live member and leader changes, plus
 * polling of /v1/members, /v1/leader, /v1/self and /v1/stats every POLL_MS to reconcile (events
 * can be missed across reconnects) and to derive traffic rates from counter deltas. When
 * /demo/nodes answers (the page is served by `shoal demo`) each member card gets kill, pause and
 * restart buttons for its process. The services panel polls /v1/services (hidden when the
 * agent's mode has no data plane) and, for the key typed in it, /v1/placement/<key>?replicas=3.
 *
 * Safety: everything that came over the network is put into the page with textContent or as a
 * data-* attribute value, never parsed as HTML. Every list is bounded (EVENTS_MAX, SAMPLES_MAX,
 * MEMBERS_SHOWN_MAX).
 */
'use strict';

(function dashboard() {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 2500;
  const EVENTS_MAX = 200;
  const SAMPLES_MAX = 120;
  const MEMBERS_SHOWN_MAX = 512;
  const SERVICES_SHOWN_MAX = 512;
  const RING_REPLICAS = 3;
  const RING_KEY_DELAY_MS = 150;
  const STATES = ['alive', 'suspect', 'dead', 'left', 'joining'];

  const state = {
    members: new Map(),
    leader: null,
    term: null,
    epoch: null,
    self: null,
    demo: null,
    demoChecked: false,
    events: [],
    samples: [],
    rates: [],
    statsMissing: false,
    sseOpen: false,
    pollOk: false,
    pending: new Set(),
    /** raft mode: one row per node ({name, role, term, commit, applied, match}) and the demo writer. */
    raft: null,
    writer: null,
    /** worker-server mode: the tier's workers ({id, name, status, ttlMs, expiresInMs, assignments}). */
    workers: null,
    workersLeading: false,
    workersTtlBaseMs: null,
    /** Live service instances ({name, node, address, weight, tags}); null: no data plane here. */
    services: null,
    /** The key typed in the services panel, and its placement answer (or an error text). */
    ringKey: '',
    placement: null,
  };

  const $ = (id) => document.getElementById(id);

  // ---- network -----------------------------------------------------------------------------

  /** GET or POST JSON with a timeout; resolves to { ok, status, body, node } and never throws. */
  async function request(path, method) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(path, {
        method: method || 'GET',
        signal: controller.signal,
        headers: { accept: 'application/json' },
      });
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      return { ok: res.ok, status: res.status, body, node: res.headers.get('x-shoal-node') };
    } catch {
      return { ok: false, status: 0, body: null, node: null };
    } finally {
      clearTimeout(timer);
    }
  }

  const str = (v, fallback) => (typeof v === 'string' ? v : fallback);
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  /** Keeps only the fields the page shows, with their types checked. */
  function cleanMember(m) {
    if (m === null || typeof m !== 'object' || typeof m.id !== 'string') return null;
    const labels = {};
    if (m.labels && typeof m.labels === 'object') {
      for (const [k, v] of Object.entries(m.labels).slice(0, 32)) labels[String(k)] = String(v);
    }
    const st = STATES.includes(m.state) ? m.state : 'unknown';
    return {
      id: m.id,
      name: str(m.name, '?'),
      address: str(m.address, '?'),
      state: st,
      incarnation: num(m.incarnation),
      labels,
    };
  }

  function nameOf(id) {
    const m = id ? state.members.get(id) : undefined;
    return m ? m.name : id ? id.slice(0, 8) : 'none';
  }

  // ---- polling -----------------------------------------------------------------------------

  async function pollMembers() {
    const res = await request('/v1/members');
    state.pollOk = res.ok;
    if (!res.ok || !res.body || !Array.isArray(res.body.members)) return;
    const next = new Map();
    for (const raw of res.body.members.slice(0, MEMBERS_SHOWN_MAX)) {
      const m = cleanMember(raw);
      if (m) next.set(m.id, m);
    }
    state.members = next;
    state.epoch = num(res.body.epoch);
  }

  async function pollLeader() {
    const res = await request('/v1/leader');
    if (!res.ok || !res.body) return;
    state.leader = typeof res.body.leader === 'string' ? res.body.leader : null;
    state.term = num(res.body.term);
  }

  async function pollSelf() {
    const res = await request('/v1/self');
    if (!res.ok || !res.body) return;
    const mode = res.body.mode;
    state.self = {
      name: str(res.body.name, '?'),
      mode: typeof mode === 'string' ? mode : str(mode && mode.kind, ''),
    };
  }

  async function pollDemo() {
    if (state.demoChecked && state.demo === null) return;
    const res = await request('/demo/nodes');
    state.demoChecked = true;
    if (res.status === 404) return;
    if (res.ok && res.body && Array.isArray(res.body.nodes)) {
      state.demo = res.body.nodes
        .slice(0, MEMBERS_SHOWN_MAX)
        .filter((n) => n && typeof n.name === 'string')
        .map((n) => ({
          name: n.name,
          pid: num(n.pid),
          http: str(n.http, ''),
          state: str(n.state, 'unknown'),
          role: str(n.role, 'member'),
        }));
    } else if (state.demo === null) {
      state.demo = [];
    }
  }

  // ---- workers (worker-server mode) ----------------------------------------------------------

  /** The tier's workers from /v1/workers, on a worker-server only. */
  async function pollWorkers() {
    if (!(state.self && state.self.mode === 'worker-server')) {
      state.workers = null;
      return;
    }
    const res = await request('/v1/workers');
    if (!res.ok || !res.body || !Array.isArray(res.body.workers)) return;
    state.workersLeading = res.body.leading === true;
    state.workersTtlBaseMs = num(res.body.ttlBaseMs);
    state.workers = res.body.workers
      .slice(0, MEMBERS_SHOWN_MAX)
      .filter((w) => w && typeof w.id === 'string')
      .map((w) => ({
        id: w.id,
        name: str(w.name, w.id.slice(0, 8)),
        status: str(w.status, 'unknown'),
        ttlMs: num(w.ttlMs),
        expiresInMs: num(w.expiresInMs),
        assignments: num(w.assignments),
      }));
  }

  const seconds = (ms) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

  /** One row per worker (and per demo worker process not registered yet), with its controls. */
  function renderWorkers() {
    const panel = $('workers-panel');
    panel.hidden = state.workers === null;
    if (state.workers === null) return;
    const rows = state.workers.map((w) => ({ name: w.name, worker: w }));
    const names = new Set(rows.map((r) => r.name));
    for (const n of state.demo || [])
      if (n.role === 'worker' && !names.has(n.name)) rows.push({ name: n.name, worker: null });
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const cell = (text, cls) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      return td;
    };
    $('workers-rows').replaceChildren(
      ...rows.map(({ name, worker: w }) => {
        const tr = document.createElement('tr');
        tr.dataset.name = name;
        tr.dataset.status = w ? w.status : 'unregistered';
        const process = document.createElement('td');
        const node = (state.demo || []).find((n) => n.name === name);
        if (node) {
          process.append(node.pid === null ? node.state : `${node.state} · pid ${node.pid}`);
          for (const action of ['kill', 'restart']) {
            const button = document.createElement('button');
            button.type = 'button';
            button.className = `btn btn-${action}`;
            button.dataset.action = action;
            button.textContent = action === 'kill' ? 'Kill' : 'Restart';
            button.disabled =
              state.pending.has(`${name}/${action}`) ||
              (action === 'kill' ? node.state === 'killed' : node.state !== 'killed');
            process.append(button);
          }
        } else process.textContent = '—';
        tr.append(
          cell(name, 'worker-name'),
          cell(w ? w.status : 'not registered', 'worker-status'),
          cell(w ? seconds(w.ttlMs) : '—', 'worker-ttl'),
          cell(w ? seconds(w.expiresInMs) : '—', 'worker-expires'),
          cell(w && w.assignments !== null ? String(w.assignments) : '—', 'worker-assignments'),
          process,
        );
        return tr;
      }),
    );
    const counts = {};
    for (const w of state.workers) counts[w.status] = (counts[w.status] || 0) + 1;
    $('workers-meta').textContent = [
      Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ') || 'none',
      state.workersTtlBaseMs === null ? '' : `TTL base ${seconds(state.workersTtlBaseMs)}`,
      state.workersLeading ? 'seen by the leader' : 'seen by a follower (TTLs on the leader only)',
    ]
      .filter(Boolean)
      .join(' · ');
    $('workers-empty').hidden = rows.length > 0;
    $('workers-hint').hidden = !state.demo;
  }

  // ---- raft ----------------------------------------------------------------------------------

  /** Each node's own Raft status from the demo, else this agent's view from /v1/raft. */
  async function pollRaft() {
    const raftMode = state.self && state.self.mode === 'raft';
    if (!raftMode) {
      state.raft = null;
      return;
    }
    if (state.demo) {
      const res = await request('/demo/raft');
      if (!res.ok || !res.body || !Array.isArray(res.body.nodes)) return;
      state.raft = res.body.nodes.slice(0, MEMBERS_SHOWN_MAX).map((n) => {
        const r = n && n.raft && typeof n.raft === 'object' ? n.raft : null;
        return {
          name: str(n && n.name, '?'),
          role: r ? str(r.role, '?') : str(n && n.state, 'down'),
          up: Boolean(r),
          term: r ? num(r.term) : null,
          commit: r ? num(r.commitIndex) : null,
          applied: r ? num(r.appliedIndex) : null,
          match: null,
          leader: r && typeof r.leader === 'string' ? r.leader : null,
        };
      });
      const w = res.body.writer;
      state.writer =
        w && typeof w === 'object'
          ? {
              acknowledged: num(w.acknowledged),
              failed: num(w.failed),
              lastValue: num(w.lastValue),
              lastRevision: num(w.lastRevision),
              lastError: typeof w.lastError === 'string' ? w.lastError : null,
            }
          : null;
      return;
    }
    const res = await request('/v1/raft');
    if (!res.ok || !res.body || !Array.isArray(res.body.members)) return;
    const b = res.body;
    const self = state.self ? state.self.name : null;
    state.raft = b.members.slice(0, MEMBERS_SHOWN_MAX).map((m) => {
      const name = str(m.name, str(m.address, '?'));
      const isSelf = name === self;
      return {
        name,
        role:
          m.id && m.id === b.leader
            ? 'leader'
            : m.voter
              ? isSelf
                ? str(b.role, 'voter')
                : 'voter'
              : 'learner',
        up: true,
        term: isSelf ? num(b.term) : null,
        commit: isSelf ? num(b.commitIndex) : null,
        applied: isSelf ? num(b.appliedIndex) : null,
        match: num(m.matchIndex),
        leader: typeof b.leader === 'string' ? b.leader : null,
      };
    });
  }

  function renderRaft() {
    const panel = $('raft-panel');
    panel.hidden = state.raft === null;
    if (state.raft === null) return;
    const cell = (v) => {
      const td = document.createElement('td');
      td.textContent = v === null || v === undefined ? '—' : String(v);
      return td;
    };
    $('raft-rows').replaceChildren(
      ...[...state.raft]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((r) => {
          const tr = document.createElement('tr');
          tr.dataset.name = r.name;
          tr.dataset.role = r.up ? r.role : 'down';
          tr.append(
            cell(r.name),
            cell(r.role),
            cell(r.term),
            cell(r.commit),
            cell(r.applied),
            cell(r.match),
          );
          return tr;
        }),
    );
    const leaderRow = state.raft.find((r) => r.up && r.role === 'leader');
    const terms = state.raft.map((r) => r.term).filter((t) => t !== null);
    $('raft-meta').textContent = [
      leaderRow ? `leader ${leaderRow.name}` : 'no leader',
      terms.length > 0 ? `term ${Math.max(...terms)}` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    const kill = $('kill-leader');
    kill.hidden = !state.demo;
    kill.disabled = !leaderRow || state.pending.has(`${leaderRow.name}/kill`);
    kill.dataset.name = leaderRow ? leaderRow.name : '';
    const w = state.writer;
    $('raft-writer').hidden = !w;
    if (w)
      $('raft-writer').textContent =
        `writer: ${w.acknowledged} writes acknowledged (demo/counter = ${w.lastValue}, revision ${w.lastRevision === null ? '—' : w.lastRevision}), ${w.failed} failed` +
        (w.lastError ? ` · last failure: ${w.lastError}` : '');
  }

  // ---- services and placement ------------------------------------------------------------------

  async function pollServices() {
    const res = await request('/v1/services');
    if (!res.ok || !res.body || !Array.isArray(res.body.instances)) {
      // 501: this mode runs no data plane; anything else: keep what was shown until it answers.
      if (res.status === 501 || res.status === 404) state.services = null;
      return;
    }
    state.services = res.body.instances.slice(0, SERVICES_SHOWN_MAX).flatMap((i) =>
      i && typeof i === 'object' && typeof i.name === 'string' && typeof i.node === 'string'
        ? [
            {
              name: i.name,
              node: i.node,
              address: str(i.address, '?'),
              weight: num(i.weight),
              tags: Array.isArray(i.tags) ? i.tags.slice(0, 32).map(String) : [],
            },
          ]
        : [],
    );
  }

  async function pollPlacement() {
    const key = state.ringKey;
    if (key === '' || state.services === null) {
      state.placement = null;
      return;
    }
    const res = await request(
      `/v1/placement/${encodeURIComponent(key)}?replicas=${RING_REPLICAS}&strategy=ring`,
    );
    if (key !== state.ringKey) return; // typed on meanwhile: the newer request answers
    const b = res.body;
    if (!res.ok || !b || !Array.isArray(b.owners)) {
      const message = b && b.error && typeof b.error.message === 'string' ? b.error.message : '';
      state.placement = { key, error: message || `the agent answered ${res.status}` };
      return;
    }
    state.placement = {
      key,
      owners: b.owners.filter((o) => typeof o === 'string').slice(0, RING_REPLICAS),
      position: num(b.position),
      points: Array.isArray(b.points) ? b.points.map(num) : [],
    };
  }

  function renderServices() {
    const panel = $('services-panel');
    panel.hidden = state.services === null;
    if (state.services === null) return;
    const byNode = new Map();
    for (const i of state.services) {
      const name = nameOf(i.node);
      if (!byNode.has(name)) byNode.set(name, []);
      byNode.get(name).push(i);
    }
    const cell = (text, cls) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      return td;
    };
    const rows = [];
    for (const name of [...byNode.keys()].sort()) {
      const instances = byNode.get(name).sort((a, b) => (a.name < b.name ? -1 : 1));
      instances.forEach((i, index) => {
        const tr = document.createElement('tr');
        tr.dataset.node = name;
        tr.dataset.service = i.name;
        tr.append(
          cell(index === 0 ? name : '', 'node-cell'),
          cell(i.name),
          cell(i.address, 'mono'),
          cell(i.weight === null ? '—' : String(i.weight)),
          cell(i.tags.length === 0 ? '—' : i.tags.join(', ')),
        );
        rows.push(tr);
      });
    }
    $('services-rows').replaceChildren(...rows);
    $('services-empty').hidden = rows.length > 0;
    $('services-meta').textContent = `${state.services.length} instances on ${byNode.size} nodes`;
    renderRing();
  }

  /** A point on the ring drawing at `fraction` of a turn clockwise from the top. */
  function onRing(fraction, radius) {
    const angle = 2 * Math.PI * fraction;
    return { x: 100 + radius * Math.sin(angle), y: 100 - radius * Math.cos(angle) };
  }

  function svg(tag, attrs) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  function renderRing() {
    const p = state.placement;
    const marks = [];
    const owners = [];
    let note = 'Type a key: its owners on the live members (consistent-hash ring, 3 replicas).';
    if (p && p.error) note = `${p.key}: ${p.error}`;
    else if (p) {
      if (p.position !== null) {
        const k = onRing(p.position, 80);
        const keyMark = svg('circle', { cx: k.x, cy: k.y, r: 6, class: 'ring-key-mark' });
        keyMark.dataset.position = String(p.position);
        marks.push(keyMark);
      }
      p.owners.forEach((id, rank) => {
        const at = p.points[rank];
        if (typeof at === 'number') {
          const o = onRing(at, 80);
          marks.push(
            svg('circle', {
              cx: o.x,
              cy: o.y,
              r: 5,
              class: rank === 0 ? 'ring-owner-mark primary' : 'ring-owner-mark',
            }),
          );
          // Owners' points sit close together (128 per member): labels step inwards by rank.
          const t = onRing(at, 64 - 14 * rank);
          const label = svg('text', {
            x: t.x,
            y: t.y + 3,
            'text-anchor': 'middle',
            class: 'ring-mark-text',
          });
          label.textContent = String(rank + 1);
          marks.push(label);
        }
        const li = document.createElement('li');
        li.dataset.rank = String(rank);
        li.dataset.node = nameOf(id);
        const m = state.members.get(id);
        li.textContent = `${rank === 0 ? 'primary' : `replica ${rank}`}: ${nameOf(id)}${m ? ` (${m.address})` : ''}`;
        owners.push(li);
      });
      note =
        p.owners.length === 0
          ? `${p.key}: no live member`
          : `${p.key} lands at ${((p.position ?? 0) * 360).toFixed(1)}° of the ring; each owner is the next member point clockwise.`;
    }
    $('ring-marks').replaceChildren(...marks);
    $('ring-owners').replaceChildren(...owners);
    $('ring-note').textContent = note;
  }

  let ringTimer = null;
  $('ring-key').addEventListener('input', (e) => {
    state.ringKey = String(e.target.value).slice(0, 200);
    clearTimeout(ringTimer);
    ringTimer = setTimeout(async () => {
      await pollPlacement();
      renderRing();
    }, RING_KEY_DELAY_MS);
  });

  // ---- traffic statistics --------------------------------------------------------------------

  /** Finds a numeric field by name anywhere in the first levels of a stats object. */
  function findCounter(obj, key, depth) {
    if (!obj || typeof obj !== 'object' || depth < 0) return null;
    if (num(obj[key]) !== null) return obj[key];
    for (const value of Object.values(obj)) {
      const found = findCounter(value, key, depth - 1);
      if (found !== null) return found;
    }
    return null;
  }

  const sum = (obj, keys) => keys.reduce((acc, k) => acc + (findCounter(obj, k, 3) || 0), 0);

  function readCounters(stats) {
    return {
      packetsOut: sum(stats, ['packetsSent']),
      packetsIn: sum(stats, ['packetsReceived']),
      frames: sum(stats, ['framesSent', 'framesReceived']),
      probes: sum(stats, ['probesSent', 'indirectProbesSent']),
      bytesOut: sum(stats, ['packetBytesSent', 'frameBytesSent']),
      bytesIn: sum(stats, ['packetBytesReceived', 'frameBytesReceived']),
    };
  }

  async function pollStats() {
    const res = await request('/v1/stats');
    if (res.status === 404) {
      state.statsMissing = true;
      return;
    }
    if (!res.ok || !res.body) return;
    state.statsMissing = false;
    // The agent stamps its snapshot (`id`, `timeMs`); rates are only taken between two snapshots of one agent.
    const sample = {
      t: num(res.body.timeMs) ?? Date.now(),
      node: str(res.body.id, res.node),
      c: readCounters(res.body),
    };
    const prev = state.samples[state.samples.length - 1];
    state.samples.push(sample);
    if (state.samples.length > 2) state.samples.shift();
    if (!prev || prev.node !== sample.node) return;
    const dt = (sample.t - prev.t) / 1000;
    const rate = {};
    for (const key of Object.keys(sample.c)) {
      const delta = sample.c[key] - prev.c[key];
      // Counters only go down when another agent answered (failover) or the agent restarted.
      if (delta < 0 || dt <= 0) return;
      rate[key] = delta / dt;
    }
    state.rates.push(rate);
    if (state.rates.length > SAMPLES_MAX) state.rates.shift();
  }

  // ---- live events -------------------------------------------------------------------------

  function addEvent(type, text) {
    state.events.unshift({ at: new Date(), type, text, fresh: true });
    if (state.events.length > EVENTS_MAX) state.events.length = EVENTS_MAX;
  }

  function onMemberEvent(data) {
    const m = cleanMember(data && data.member);
    if (!m) return;
    state.members.set(m.id, m);
    const type = str(data.type, 'updated');
    addEvent(
      type,
      `${m.name} (${m.id.slice(0, 8)}) incarnation ${m.incarnation === null ? '?' : m.incarnation}`,
    );
    render();
  }

  function onLeaderEvent(data) {
    if (!data || typeof data !== 'object') return;
    state.leader = typeof data.leader === 'string' ? data.leader : null;
    state.term = num(data.term);
    addEvent(
      'leader',
      state.leader ? `${nameOf(state.leader)} leads, term ${state.term}` : 'no leader',
    );
    render();
  }

  function parseEvent(e) {
    try {
      return JSON.parse(e.data);
    } catch {
      return null;
    }
  }

  function connectEvents() {
    const source = new EventSource('/v1/events');
    source.addEventListener('open', () => {
      state.sseOpen = true;
      addEvent('info', 'live event stream connected');
      render();
    });
    source.addEventListener('error', () => {
      state.sseOpen = false;
      renderConnection();
    });
    source.addEventListener('member', (e) => onMemberEvent(parseEvent(e)));
    source.addEventListener('leader', (e) => onLeaderEvent(parseEvent(e)));
    source.addEventListener('message', (e) => {
      const data = parseEvent(e);
      if (data && data.kind === 'member') onMemberEvent(data);
      else if (data && data.kind === 'leader') onLeaderEvent(data);
    });
  }

  // ---- demo controls -------------------------------------------------------------------------

  const ACTION_TEXT = {
    kill: ['killed', 'SIGKILL: no chance to leave, the others must detect it'],
    pause: ['paused', 'SIGSTOP for a few seconds, then SIGCONT: it must refute the suspicion'],
    restart: ['restarted', 'same data dir and ports: the same NodeId rejoins'],
  };

  async function demoAction(name, action) {
    const key = `${name}/${action}`;
    if (state.pending.has(key)) return;
    state.pending.add(key);
    render();
    const res = await request(`/demo/nodes/${encodeURIComponent(name)}/${action}`, 'POST');
    state.pending.delete(key);
    const [done, why] = ACTION_TEXT[action] || [action, ''];
    if (res.ok) addEvent('action', `you ${done} ${name} (${why})`);
    else
      addEvent(
        'action',
        `${action} ${name} failed: ${str(res.body && res.body.error && res.body.error.message, `status ${res.status}`)}`,
      );
    await pollDemo();
    render();
  }

  $('kill-leader').addEventListener('click', () => {
    const name = $('kill-leader').dataset.name;
    if (name) void demoAction(name, 'kill');
  });

  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button[data-action]') : null;
    const card = button ? button.closest('[data-name]') : null;
    if (button && card && !button.disabled)
      void demoAction(card.dataset.name, button.dataset.action);
  });

  // ---- rendering -----------------------------------------------------------------------------

  function renderSummary() {
    const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of state.members.values()) if (m.state in counts) counts[m.state]++;
    for (const el of document.querySelectorAll('[data-count]'))
      el.querySelector('b').textContent = String(counts[el.dataset.count]);
    $('leader-name').textContent = state.leader ? nameOf(state.leader) : 'none';
    $('leader-term').textContent = state.term === null ? '' : `term ${state.term}`;
    const epoch = state.epoch === null ? '' : `epoch ${state.epoch}`;
    $('members-meta').textContent = [`${state.members.size} known`, epoch]
      .filter(Boolean)
      .join(' · ');
    const from = state.self ? `viewing from ${state.self.name}` : '';
    $('subtitle').textContent = [state.demo ? 'local demo cluster' : 'cluster dashboard', from]
      .filter(Boolean)
      .join(' · ');
    $('footer-mode').textContent = state.self && state.self.mode ? `mode ${state.self.mode}` : '';
    $('footer-what').textContent =
      state.self && state.self.mode === 'raft'
        ? 'Shoal · Raft with a replicated key-value store'
        : 'Shoal · SWIM membership with Lifeguard';
    $('traffic-meta').textContent = state.self ? `seen by ${state.self.name}` : '';
  }

  function renderConnection() {
    const dot = $('conn-dot');
    const live = state.sseOpen && state.pollOk;
    dot.className = `dot ${live ? 'dot-on' : state.pollOk ? 'dot-wait' : 'dot-off'}`;
    $('conn-text').textContent = live
      ? 'live'
      : state.pollOk
        ? 'polling (event stream reconnecting)'
        : 'agent unreachable, retrying';
  }

  /** The cards to show: every member, plus demo processes the cluster has already forgotten. */
  function cardList() {
    const cards = [...state.members.values()].map((m) => ({ key: m.id, member: m, name: m.name }));
    const names = new Set(cards.map((c) => c.name));
    for (const n of state.demo || []) {
      // A worker tier's workers are not cluster members: the workers panel lists them.
      if (n.role === 'worker') continue;
      if (!names.has(n.name)) cards.push({ key: `demo:${n.name}`, member: null, name: n.name });
    }
    return cards.sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : a.key < b.key ? -1 : 1,
    );
  }

  function fillCard(el, card) {
    const m = card.member;
    const st = m ? m.state : 'gone';
    el.dataset.state = st;
    el.dataset.name = card.name;
    el.classList.toggle('is-leader', Boolean(m && m.id === state.leader));
    const badge = el.querySelector('.state-badge');
    badge.textContent = m ? st : 'not listed';
    badge.title = m
      ? ''
      : 'the cluster has forgotten this member (dead for longer than its reclaim time)';
    el.querySelector('.member-name').textContent = card.name;
    el.querySelector('.leader-mark').hidden = !(m && m.id === state.leader);
    el.querySelector('.member-id').textContent = m ? m.id.slice(0, 12) : '—';
    el.querySelector('.member-id').title = m ? m.id : '';
    el.querySelector('.member-address').textContent = m ? m.address : '—';
    el.querySelector('.member-incarnation').textContent =
      m && m.incarnation !== null ? String(m.incarnation) : '—';
    fillLabels(el.querySelector('.labels'), m ? m.labels : {});
    fillControls(el.querySelector('.controls'), card.name);
  }

  function fillLabels(box, labels) {
    const entries = Object.entries(labels);
    const text = entries.map(([k, v]) => `${k}=${v}`).join('\n');
    if (box.dataset.text === text) return;
    box.dataset.text = text;
    box.replaceChildren(
      ...entries.map(([k, v]) => {
        const chip = document.createElement('span');
        chip.className = 'label-chip';
        chip.textContent = `${k}=${v}`;
        return chip;
      }),
    );
  }

  function fillControls(box, name) {
    const node = (state.demo || []).find((n) => n.name === name);
    box.hidden = !node;
    if (!node) return;
    box.querySelector('.process').textContent =
      node.pid === null ? node.state : `${node.state} · pid ${node.pid}`;
    const busy = (action) => state.pending.has(`${name}/${action}`);
    box.querySelector('[data-action="kill"]').disabled = node.state === 'killed' || busy('kill');
    box.querySelector('[data-action="pause"]').disabled = node.state !== 'running' || busy('pause');
    box.querySelector('[data-action="restart"]').disabled =
      node.state !== 'killed' || busy('restart');
  }

  const cardElements = new Map();

  function renderMembers() {
    const container = $('members');
    const template = $('member-template');
    const cards = cardList();
    const keep = new Set(cards.map((c) => c.key));
    for (const [key, el] of cardElements)
      if (!keep.has(key)) {
        el.remove();
        cardElements.delete(key);
      }
    cards.forEach((card, i) => {
      let el = cardElements.get(card.key);
      if (!el) {
        el = template.content.firstElementChild.cloneNode(true);
        cardElements.set(card.key, el);
      }
      fillCard(el, card);
      // Move a card only when its place changed, so hover and animations are not reset.
      if (container.children[i] !== el) container.insertBefore(el, container.children[i] || null);
    });
    $('members-empty').hidden = cards.length > 0;
    $('demo-hint').hidden = !state.demo;
    const raftMode = Boolean(state.self && state.self.mode === 'raft');
    $('demo-hint-swim').hidden = raftMode;
    $('demo-hint-raft').hidden = !raftMode;
  }

  function renderEvents() {
    const list = $('events');
    list.replaceChildren(
      ...state.events.map((ev) => {
        const li = document.createElement('li');
        li.className = ev.fresh ? 'event is-new' : 'event';
        ev.fresh = false;
        const time = document.createElement('span');
        time.className = 'event-time';
        time.textContent =
          ev.at.toLocaleTimeString([], { hour12: false }) +
          '.' +
          String(ev.at.getMilliseconds()).padStart(3, '0');
        const type = document.createElement('span');
        type.className = 'event-type';
        type.dataset.type = ev.type;
        type.textContent = ev.type;
        const text = document.createElement('span');
        text.className = 'event-text';
        text.textContent = ev.text;
        text.title = ev.text;
        li.append(time, type, text);
        return li;
      }),
    );
    $('events-empty').hidden = state.events.length > 0;
  }

  // ---- charts ------------------------------------------------------------------------------

  const CHARTS = [
    {
      canvas: 'chart-packets',
      legend: 'legend-packets',
      unit: '/s',
      series: [
        { key: 'packetsOut', label: 'UDP sent' },
        { key: 'packetsIn', label: 'UDP received' },
        { key: 'probes', label: 'probes sent' },
        { key: 'frames', label: 'TCP frames' },
      ],
    },
    {
      canvas: 'chart-bytes',
      legend: 'legend-bytes',
      unit: 'B/s',
      series: [
        { key: 'bytesOut', label: 'sent' },
        { key: 'bytesIn', label: 'received' },
      ],
    },
  ];
  const SWATCH_VARS = ['--accent', '--alive', '--suspect', '--dead'];

  function formatRate(value, unit) {
    if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M${unit}`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k${unit}`;
    return `${value.toFixed(value < 10 ? 1 : 0)}${unit}`;
  }

  function renderLegend(chart) {
    const last = state.rates[state.rates.length - 1];
    $(chart.legend).replaceChildren(
      ...chart.series.map((s, i) => {
        const item = document.createElement('span');
        item.className = 'legend-item';
        const swatch = document.createElement('span');
        swatch.className = `legend-swatch swatch-${i}`;
        const text = document.createElement('span');
        text.textContent = `${s.label} ${last ? formatRate(last[s.key], chart.unit) : '–'}`;
        item.append(swatch, text);
        return item;
      }),
    );
  }

  function drawChart(chart) {
    const canvas = $(chart.canvas);
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(100, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(60, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext('2d');
    const css = getComputedStyle(document.documentElement);
    ctx.clearRect(0, 0, width, height);
    const pad = { left: 6 * ratio, right: 6 * ratio, top: 16 * ratio, bottom: 6 * ratio };
    const peak = Math.max(1, ...state.rates.flatMap((r) => chart.series.map((s) => r[s.key])));
    drawGrid(ctx, css, { width, height, pad, ratio, label: formatRate(peak, chart.unit) });
    chart.series.forEach((s, i) => {
      drawLine(
        ctx,
        state.rates.map((r) => r[s.key]),
        { width, height, pad, ratio, peak, color: css.getPropertyValue(SWATCH_VARS[i]).trim() },
      );
    });
  }

  function drawGrid(ctx, css, g) {
    ctx.strokeStyle = css.getPropertyValue('--grid-line').trim();
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(g.pad.top + ((g.height - g.pad.top - g.pad.bottom) * i) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(g.pad.left, y);
      ctx.lineTo(g.width - g.pad.right, y);
      ctx.stroke();
    }
    ctx.fillStyle = css.getPropertyValue('--muted').trim();
    ctx.font = `${11 * g.ratio}px system-ui, sans-serif`;
    ctx.fillText(`max ${g.label}`, g.pad.left, 12 * g.ratio);
    ctx.textAlign = 'right';
    ctx.fillText(`last ${SAMPLES_MAX} s`, g.width - g.pad.right, 12 * g.ratio);
    ctx.textAlign = 'left';
  }

  function drawLine(ctx, values, g) {
    if (values.length < 2) return;
    const plotW = g.width - g.pad.left - g.pad.right;
    const plotH = g.height - g.pad.top - g.pad.bottom;
    const step = plotW / (SAMPLES_MAX - 1);
    const x0 = g.width - g.pad.right - step * (values.length - 1);
    ctx.strokeStyle = g.color;
    ctx.lineWidth = 1.75 * g.ratio;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    values.forEach((v, i) => {
      const x = x0 + step * i;
      const y = g.pad.top + plotH - (plotH * v) / g.peak;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }

  function renderCharts() {
    $('stats-empty').hidden = !state.statsMissing;
    for (const chart of CHARTS) {
      renderLegend(chart);
      drawChart(chart);
    }
  }

  function render() {
    renderSummary();
    renderConnection();
    renderMembers();
    renderRaft();
    renderWorkers();
    renderEvents();
  }

  // ---- main loop -----------------------------------------------------------------------------

  let tick = 0;
  async function poll() {
    const selfEvery = tick % 5 === 0;
    tick++;
    await Promise.all([
      pollMembers(),
      pollLeader(),
      pollStats(),
      pollDemo(),
      selfEvery ? pollSelf() : null,
    ]);
    await Promise.all([pollRaft(), pollWorkers()]);
    await pollServices();
    await pollPlacement();
    render();
    renderServices();
    renderCharts();
    setTimeout(poll, POLL_MS);
  }

  window.addEventListener('resize', () => renderCharts());
  connectEvents();
  void poll();
})();
