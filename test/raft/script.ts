/**
 * The interaction-script language (etcd-io/raft's datadriven tests, in spirit): a script is a
 * list of commands, each followed by `----` and the trace it must produce; `runScript` runs
 * them through the real core on a harness Cluster and returns the actual text, so a test can
 * compare it with the golden file (UPDATE_GOLDEN=1 rewrites the files).
 *
 * Commands (N, M are node numbers):
 *   add-nodes COUNT [voters=1,2,3 | join] [pre-vote=false] [check-quorum=false] [read-mode=lease]
 *   reset               a new cluster
 *   campaign N          N's election timer fires now (no time passes)
 *   tick N              N's next deadline (heartbeat, check-quorum, election) fires
 *   advance MS          time passes, every node ticking at its deadlines (heartbeats not shown)
 *   stabilize [N ...]   writes finish and messages are delivered until nothing moves
 *   deliver             the messages in flight now are delivered (one hop)
 *   persist N           N's oldest pending write finishes
 *   propose N TEXT [request=ID]     read N ID [serializable]     transfer N M
 *   add-member N M as=learner|voter     promote N M     remove N M
 *   partition 1 2 | 3   heal   crash N   restart N   set-log N term=T T1 T2 ...
 *   status   log N ...   applied N ...   config N ...
 * Settings for add-nodes also: snapshot-entries=N chunk-bytes=N append-entries-max=N
 */
import { ms } from '../../src/base/time.js';
import type { RaftSettings } from '../../src/raft/config.js';
import { describeConfiguration } from '../../src/raft/configuration.js';
import { Cluster, nodeAddress, nodeId, readable } from './harness.js';

export interface Block {
  command: string;
  expected: string;
}

export function parseScript(text: string): { blocks: Block[]; comments: Map<number, string[]> } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  const comments = new Map<number, string[]>();
  let pending: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#') || (line.trim() === '' && pending.length > 0)) {
      if (line.startsWith('#')) pending.push(line);
      continue;
    }
    if (line.trim() === '') continue;
    const command = line;
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after "${command}"`);
    i += 2;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++] as string);
    comments.set(blocks.length, pending);
    pending = [];
    blocks.push({ command, expected: out.join('\n') });
  }
  return { blocks, comments };
}

export function formatScript(
  blocks: readonly Block[],
  comments: ReadonlyMap<number, string[]>,
  actual: readonly string[],
): string {
  const parts: string[] = [];
  blocks.forEach((b, i) => {
    const c = comments.get(i) ?? [];
    parts.push([...c, b.command, '----', actual[i] ?? ''].join('\n'));
  });
  return `${parts.join('\n\n')}\n`;
}

function num(text: string | undefined, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: ${String(text)} is not a number`);
  return n;
}

function options(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return out;
}

function settingsOf(opts: ReadonlyMap<string, string>): RaftSettings {
  const settings: RaftSettings = {};
  if (opts.get('pre-vote') === 'false') settings.preVote = false;
  if (opts.get('check-quorum') === 'false') settings.checkQuorum = false;
  if (opts.get('read-mode') === 'lease') settings.readMode = 'lease';
  if (opts.has('snapshot-entries'))
    settings.snapshotEntries = num(opts.get('snapshot-entries'), 'snapshot-entries');
  if (opts.has('append-entries-max'))
    settings.appendEntriesMax = num(opts.get('append-entries-max'), 'append-entries-max');
  if (opts.has('chunk-bytes'))
    settings.snapshotChunkBytes = num(opts.get('chunk-bytes'), 'chunk-bytes');
  return settings;
}

function run(cluster: { c: Cluster | undefined }, command: string): string[] {
  const [verb, ...args] = command.trim().split(/\s+/);
  const opts = options(args);
  const at = (i: number): number => num(args[i], `${verb} argument ${i + 1}`);
  if (verb === 'reset') {
    cluster.c = undefined;
    return ['ok'];
  }
  if (verb === 'add-nodes') {
    cluster.c ??= new Cluster(settingsOf(opts));
    const voters = args.includes('join')
      ? []
      : opts
          .get('voters')
          ?.split(',')
          .map((v) => num(v, 'voters'));
    cluster.c.addNodes(at(0), voters);
    const out = cluster.c.take();
    return out.length === 0 ? ['ok'] : out;
  }
  const c = cluster.c;
  if (c === undefined) throw new Error('add-nodes first');
  const now = ms(c.now);
  switch (verb) {
    case 'campaign': {
      // The node's election timer fires now; no time passes for the others.
      c.state(at(0)).electionDeadlineMs = now;
      c.input(at(0), { kind: 'tick', now });
      break;
    }
    case 'tick':
      c.tickDeadline(at(0));
      break;
    case 'advance':
      c.advance(at(0));
      break;
    case 'stabilize':
      c.stabilize(args.length === 0 ? undefined : new Set(args.map((a) => num(a, 'node'))));
      break;
    case 'deliver':
      c.deliverAll();
      break;
    case 'persist':
      c.persistOne(at(0));
      break;
    case 'propose':
      c.propose(
        at(0),
        args[1] ?? '',
        opts.has('request') ? num(opts.get('request'), 'request') : undefined,
      );
      break;
    case 'read':
      c.input(at(0), {
        kind: 'read-index',
        now,
        requestId: at(1),
        serializable: args[2] === 'serializable',
      });
      break;
    case 'transfer':
      c.input(at(0), { kind: 'transfer-leader', now, to: nodeId(at(1)) });
      break;
    case 'add-member': {
      const as = opts.get('as') === 'voter' ? 'voter' : 'learner';
      c.input(at(0), {
        kind: 'change-config',
        now,
        requestId: at(1),
        change: { op: 'add', address: nodeAddress(at(1)), as },
      });
      break;
    }
    case 'promote':
    case 'remove':
      c.input(at(0), {
        kind: 'change-config',
        now,
        requestId: at(1),
        change: { op: verb, id: nodeId(at(1)) },
      });
      break;
    case 'partition': {
      const groups = args
        .join(' ')
        .split('|')
        .map((g) =>
          g
            .trim()
            .split(/\s+/)
            .map((n) => num(n, 'node')),
        );
      c.partition(groups);
      return [`partitioned ${groups.map((g) => g.join(' ')).join(' | ')}`];
    }
    case 'heal':
      c.heal();
      return ['healed'];
    case 'crash':
      c.crash(at(0));
      break;
    case 'restart':
      c.restart(at(0));
      break;
    case 'set-log':
      c.setLog(
        at(0),
        args.slice(2).map((t) => num(t, 'term')),
        num(opts.get('term'), 'term'),
      );
      return ['ok'];
    case 'status':
      return [...c.take(), ...c.status()];
    case 'log':
      return [...c.take(), ...args.map((a) => c.logOf(num(a, 'node')))];
    case 'config':
      return [
        ...c.take(),
        ...args.map((a) => {
          const config = c.state(num(a, 'node')).membership.config;
          return readable(`n${a}: ${describeConfiguration(config)}`);
        }),
      ];
    case 'applied':
      return [
        ...c.take(),
        ...args.map((a) => `n${a}: ${c.node(num(a, 'node')).applied.join(' ') || '(none)'}`),
      ];
    default:
      throw new Error(`unknown command ${String(verb)}`);
  }
  const out = c.take();
  return out.length === 0 ? ['ok'] : out;
}

/** Runs a script's commands; returns each command's actual output. */
export function runScript(blocks: readonly Block[]): string[] {
  const cluster: { c: Cluster | undefined } = { c: undefined };
  return blocks.map((b) => run(cluster, b.command).join('\n'));
}
