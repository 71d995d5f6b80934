/**
 * `shoal kv put | get | del | watch` and `shoal raft status | add | remove | promote |
 * transfer` (docs/cli.md): thin clients of a `raft` agent's HTTP API (docs/http-api.md,
 * "Replicated store"). Any member answers (a follower forwards to the leader). `kv get` exits 1
 * when the key (or every key of the prefix) is absent, printing nothing, so scripts can test it.
 */
import type { Command } from 'commander';
import { ShoalError } from '../base/errors.js';
import { ExitCode } from './agent-command.js';
import { agentAddress, agentFetch, agentRequest, type ClientOptions } from './agent-client.js';
import { formatTable } from './client-commands.js';

interface Flags {
  http?: string;
  httpToken?: string;
  json?: boolean;
  prefix?: boolean;
  serializable?: boolean;
  lease?: string;
  prevRevision?: string;
  fromRevision?: string;
  learner?: boolean;
  revision?: string;
  limit?: string;
}

interface KvAnswer {
  key: string;
  keyEncoding?: string;
  value?: string;
  encoding?: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: number;
}

function clientOptions(flags: Flags): ClientOptions {
  const env = process.env;
  return {
    http: agentAddress(flags.http, env),
    token: flags.httpToken ?? (env['SHOAL_HTTP_TOKEN'] || undefined),
  };
}

/** `key` as a URL path: its UTF-8 bytes, unreserved characters and `/` kept, the rest %XX. */
export function keyPath(key: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~/]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function intFlag(name: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `--${name} ${JSON.stringify(text)}: must be an integer >= ${min}`,
    );
  return n;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k, v]) => (v === true ? k : `${k}=${encodeURIComponent(String(v))}`));
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function shownValue(kv: KvAnswer): string {
  if (kv.value === undefined) return '';
  return kv.encoding === 'base64' ? `<${Buffer.from(kv.value, 'base64').length} bytes>` : kv.value;
}

function withClientFlags(command: Command): Command {
  return command
    .option('--http <host:port>', 'the agent HTTP API address (env SHOAL_HTTP)')
    .option(
      '--http-token <token>',
      'bearer token, if the agent requires one (env SHOAL_HTTP_TOKEN)',
    )
    .option('--json', 'print the API answer as JSON');
}

async function get(key: string, flags: Flags, write: (text: string) => void): Promise<void> {
  const options = clientOptions(flags);
  const params = {
    prefix: flags.prefix === true,
    consistency: flags.serializable === true ? 'serializable' : undefined,
    revision: intFlag('revision', flags.revision, 0),
    limit: intFlag('limit', flags.limit, 0),
  };
  if (flags.prefix === true) {
    const answer = await agentRequest<{ kvs: KvAnswer[]; revision: number; more: boolean }>(
      options,
      'GET',
      `/v1/kv/${keyPath(key)}${query(params)}`,
    );
    if (flags.json === true) write(`${JSON.stringify(answer)}\n`);
    else if (answer.kvs.length > 0)
      write(
        formatTable([
          ['KEY', 'VALUE', 'REVISION', 'VERSION', 'LEASE'],
          ...answer.kvs.map((kv) => [
            kv.key,
            shownValue(kv),
            String(kv.modRevision),
            String(kv.version),
            String(kv.lease ?? ''),
          ]),
        ]),
      );
    if (answer.kvs.length === 0) throw new ExitCode(1);
    return;
  }
  const response = await agentFetch(
    options,
    {
      method: 'GET',
      path: `/v1/kv/${keyPath(key)}${query({ ...params, raw: flags.json !== true })}`,
    },
    [404],
  );
  if (response.status === 404) {
    await response.body?.cancel();
    throw new ExitCode(1);
  }
  if (flags.json === true) write(`${JSON.stringify(await response.json())}\n`);
  else write(`${Buffer.from(await response.arrayBuffer()).toString('utf8')}\n`);
}

/** Reads Server-Sent Events from `response`, calling `onEvent` per event; resolves when the stream ends. */
async function readEvents(
  response: Response,
  onEvent: (event: string, data: string) => boolean,
): Promise<void> {
  const reader = response.body?.getReader();
  if (reader === undefined) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data !== '' && !onEvent(event, data)) {
        await reader.cancel();
        return;
      }
    }
  }
}

async function watch(key: string, flags: Flags, write: (text: string) => void): Promise<void> {
  const from = intFlag('from-revision', flags.fromRevision, 0);
  const controller = new AbortController();
  const response = await agentFetch(clientOptions(flags), {
    method: 'GET',
    path: `/v1/watch/${keyPath(key)}${query({ prefix: flags.prefix === true, fromRevision: from })}`,
    signal: controller.signal,
  });
  let failed: string | undefined;
  await readEvents(response, (event, data) => {
    if (event === 'compacted' || event === 'canceled') {
      failed =
        event === 'compacted'
          ? `the history from that revision is compacted: ${data}`
          : `the watch ended: ${data}`;
      return false;
    }
    const e = JSON.parse(data) as { type: string; kv: KvAnswer; revision: number };
    write(
      flags.json === true
        ? `${data}\n`
        : `${e.type} ${e.kv.key}${e.type === 'put' ? ` ${shownValue(e.kv)}` : ''} revision=${e.revision}\n`,
    );
    return true;
  });
  if (failed !== undefined) throw new ShoalError('ERR_COMPACTED', failed);
}

function registerKv(program: Command, write: (text: string) => void): void {
  const kv = program.command('kv').description('the replicated key-value store of a raft agent');
  withClientFlags(kv.command('put').description('write a key; prints the revision'))
    .argument('<key>')
    .argument('<value>')
    .option('--lease <id>', 'attach the key to this lease')
    .option('--prev-revision <n>', "only if the key's modRevision is n (0: only if absent)")
    .action(async (key: string, value: string, flags: Flags) => {
      const lease = intFlag('lease', flags.lease, 1);
      const prevRevision = intFlag('prev-revision', flags.prevRevision, 0);
      const response = await agentFetch(clientOptions(flags), {
        method: 'PUT',
        path: `/v1/kv/${keyPath(key)}${query({ lease, prevRevision })}`,
        bytes: new TextEncoder().encode(value),
      });
      const answer = (await response.json()) as { revision: number };
      write(flags.json === true ? `${JSON.stringify(answer)}\n` : `${answer.revision}\n`);
    });
  withClientFlags(
    kv
      .command('get')
      .description('print a value (a table of keys with --prefix); exit 1 when absent'),
  )
    .argument('<key>')
    .option('--prefix', 'every key starting with KEY')
    .option(
      '--serializable',
      "read this member's replica (may be stale) instead of a linearizable read",
    )
    .option('--revision <n>', 'read at a past revision')
    .option('--limit <n>', 'at most n keys (with --prefix)')
    .action((key: string, flags: Flags) => get(key, flags, write));
  withClientFlags(
    kv
      .command('del')
      .description('delete a key (every key of a prefix with --prefix); prints how many'),
  )
    .argument('<key>')
    .option('--prefix', 'every key starting with KEY')
    .action(async (key: string, flags: Flags) => {
      const response = await agentFetch(clientOptions(flags), {
        method: 'DELETE',
        path: `/v1/kv/${keyPath(key)}${query({ prefix: flags.prefix === true })}`,
      });
      const answer = (await response.json()) as { deleted: number; revision: number };
      write(flags.json === true ? `${JSON.stringify(answer)}\n` : `${answer.deleted}\n`);
    });
  withClientFlags(
    kv
      .command('watch')
      .description('stream the changes of a key (or prefix), one line each, until Ctrl-C'),
  )
    .argument('<key>')
    .option('--prefix', 'every key starting with KEY')
    .option('--from-revision <n>', 'replay changes from revision n first')
    .action((key: string, flags: Flags) => watch(key, flags, write));
}

interface RaftStatusAnswer {
  term: number;
  leader: string | null;
  role: string;
  commitIndex: number;
  appliedIndex: number;
  members: {
    id: string | null;
    name: string | null;
    address: string;
    voter: boolean;
    matchIndex: number;
  }[];
}

export function formatRaftStatus(s: RaftStatusAnswer): string {
  const leader = s.members.find((m) => m.id !== null && m.id === s.leader);
  const head = `role ${s.role}  term ${s.term}  leader ${s.leader === null ? 'none' : `${leader?.name ?? '?'} (${s.leader})`}  commit ${s.commitIndex}  applied ${s.appliedIndex}\n`;
  const rows = s.members.map((m) => [
    m.name ?? '?',
    m.id ?? '(not yet known)',
    m.address,
    m.id !== null && m.id === s.leader ? 'leader' : m.voter ? 'voter' : 'learner',
    String(m.matchIndex),
  ]);
  return head + formatTable([['NAME', 'ID', 'ADDRESS', 'ROLE', 'MATCH'], ...rows]);
}

function registerRaft(program: Command, write: (text: string) => void): void {
  const raft = program
    .command('raft')
    .description("a raft agent's members, roles, term and indexes; membership changes");
  withClientFlags(
    raft
      .command('status')
      .description('role, term, leader, commit and applied index, and the members'),
  ).action(async (flags: Flags) => {
    const answer = await agentRequest<RaftStatusAnswer>(clientOptions(flags), 'GET', '/v1/raft');
    write(flags.json === true ? `${JSON.stringify(answer)}\n` : formatRaftStatus(answer));
  });
  const change = async (flags: Flags, method: 'POST' | 'DELETE', path: string, json?: unknown) => {
    const response = await agentFetch(clientOptions(flags), {
      method,
      path,
      ...(json === undefined ? {} : { json }),
    });
    const answer = (await response.json()) as Record<string, unknown>;
    write(flags.json === true ? `${JSON.stringify(answer)}\n` : `ok ${JSON.stringify(answer)}\n`);
  };
  withClientFlags(
    raft
      .command('add')
      .description('add a member by its cluster address (a voter, or with --learner a learner)'),
  )
    .argument('<address>', "the new member's cluster address host:port")
    .option('--learner', 'add it as a learner (no vote until promoted)')
    .action((address: string, flags: Flags) =>
      change(flags, 'POST', '/v1/raft/members', {
        address,
        ...(flags.learner === true ? { learner: true } : {}),
      }),
    );
  withClientFlags(raft.command('remove').description('remove a member by its NodeId'))
    .argument('<id>')
    .action((id: string, flags: Flags) =>
      change(flags, 'DELETE', `/v1/raft/members/${encodeURIComponent(id)}`),
    );
  withClientFlags(raft.command('promote').description('make a learner a voter'))
    .argument('<id>')
    .action((id: string, flags: Flags) =>
      change(flags, 'POST', `/v1/raft/members/${encodeURIComponent(id)}/promote`),
    );
  withClientFlags(
    raft.command('transfer').description('move leadership to the voter with this NodeId'),
  )
    .argument('<id>')
    .action((id: string, flags: Flags) => change(flags, 'POST', '/v1/raft/transfer', { to: id }));
}

export function registerKvCommands(program: Command, write: (text: string) => void): void {
  registerKv(program, write);
  registerRaft(program, write);
}
