/**
 * `shoal services`, `shoal resolve`, `shoal place`, `shoal processes` (issue 16; docs/cli.md): clients of a running
 * agent's data-plane routes (src/agent/data-routes.ts). Nodes are shown by member name, looked
 * up in `/v1/members`; `--json` prints the API's answer unchanged, for scripts. `resolve` prints
 * the address alone, so `curl http://$(shoal resolve api)/` works; no live instance exits 1.
 * `processes --least-loaded` prints the chosen node's name and address (none: exit 1);
 * `processes advertise|withdraw` write this agent's own process rows (bearer token).
 *
 * `shoal chain append|show|compare`: this agent's chain and its copies of the members' chains
 * (`/v1/chain`, `/v1/chains`). A node is named by its member name or NodeId (or `self`);
 * `compare` prints the status and exits 1 on a fork, for scripts.
 */
import type { Command } from 'commander';
import { ShoalError } from '../base/errors.js';
import type { Member } from '../node/node.js';
import type { ServiceInstance } from '../node/data-plane-api.js';
import type { ProcessRow } from '../crdt/registry/queries.js';
import { readFileSync } from 'node:fs';
import { agentFetch, agentRequest, type ClientOptions } from './agent-client.js';
import { ExitCode } from './agent-command.js';
import { registerTreeCommands } from './tree-commands.js';
import {
  clientOptions,
  formatTable,
  withClientFlags,
  type ClientFlags,
} from './client-commands.js';

interface InstancesAnswer {
  instances: ServiceInstance[];
}

interface ProcessesAnswer {
  processes: ProcessRow[];
}

interface LeastLoadedAnswer {
  node: string;
  load: number;
  processes: ProcessRow[];
}

interface PlacementAnswer {
  key: string;
  replicas: number;
  strategy: string;
  owners: string[];
}

/** Member names by id (an id no longer in the table shows as its first 8 digits). */
async function namesOf(options: ClientOptions): Promise<(id: string) => Member | undefined> {
  const { members } = await agentRequest<{ members: Member[] }>(options, 'GET', '/v1/members');
  const byId = new Map(members.map((m) => [m.id as string, m]));
  return (id) => byId.get(id);
}

const shortId = (id: string): string => id.slice(0, 8);

export function formatServices(
  instances: readonly ServiceInstance[],
  member: (id: string) => Member | undefined,
): string {
  const rows = instances.map((i) => [
    i.name,
    member(i.node)?.name ?? shortId(i.node),
    i.address,
    String(i.weight),
    i.tags.length === 0 ? '-' : i.tags.join(','),
  ]);
  return formatTable([['SERVICE', 'NODE', 'ADDRESS', 'WEIGHT', 'TAGS'], ...rows]);
}

export function formatProcesses(
  processes: readonly ProcessRow[],
  member: (id: string) => Member | undefined,
): string {
  const rows = processes.map((p) => [
    p.pid,
    member(p.node)?.name ?? shortId(p.node),
    p.type,
    p.status,
    String(p.load),
    p.capabilities.length === 0 ? '-' : p.capabilities.join(','),
  ]);
  return formatTable([['PID', 'NODE', 'TYPE', 'STATUS', 'LOAD', 'CAPABILITIES'], ...rows]);
}

export function formatPlacement(
  answer: PlacementAnswer,
  member: (id: string) => Member | undefined,
): string {
  const rows = answer.owners.map((id, rank) => [
    rank === 0 ? 'primary' : `replica ${rank}`,
    member(id)?.name ?? '?',
    member(id)?.address ?? '?',
    id,
  ]);
  return formatTable([['OWNER', 'NAME', 'ADDRESS', 'ID'], ...rows]);
}

/** `--replicas N`: a positive integer (the agent checks the upper bound). */
function parseReplicas(text: string): number {
  if (!/^[0-9]{1,6}$/.test(text) || Number(text) < 1)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `--replicas ${JSON.stringify(text)}: must be a positive integer`,
    );
  return Number(text);
}

export function registerDataCommands(program: Command, write: (text: string) => void): void {
  registerChainCommands(program, write);
  registerTreeCommands(program, write);
  withClientFlags(
    program
      .command('services')
      .description('print the service registry (every live instance, or those of NAME)'),
    true,
  )
    .argument('[name]', 'only instances of this service')
    .action(async (name: string | undefined, flags: ClientFlags) => {
      const options = clientOptions(flags);
      const query = name === undefined ? '' : `?name=${encodeURIComponent(name)}`;
      const answer = await agentRequest<InstancesAnswer>(options, 'GET', `/v1/services${query}`);
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      write(formatServices(answer.instances, await namesOf(options)));
    });
  withClientFlags(
    program
      .command('resolve')
      .description(
        'print the address of one live instance of NAME: the preferred node if it has one, else weighted round-robin',
      ),
    true,
  )
    .argument('<name>', 'the service')
    .option('--prefer <id>', 'a member NodeId to prefer, or "self" for the agent\'s node')
    .action(async (name: string, flags: ClientFlags & { prefer?: string }) => {
      const query = flags.prefer === undefined ? '' : `?prefer=${encodeURIComponent(flags.prefer)}`;
      const answer = await agentRequest<ServiceInstance>(
        clientOptions(flags),
        'GET',
        `/v1/services/${encodeURIComponent(name)}/resolve${query}`,
      );
      write(flags.json ? `${JSON.stringify(answer)}\n` : `${answer.address}\n`);
    });
  const processes = withClientFlags(
    program
      .command('processes')
      .description(
        'print the process table (live nodes), or with --least-loaded the node to send work to',
      ),
    true,
  );
  // `processes advertise --type T`: the subcommand's options, not the listing's own. Commander
  // needs positional options on every level above (the program has only --version and --help).
  program.enablePositionalOptions();
  processes.enablePositionalOptions();
  registerProcessWrites(processes, write);
  processes
    .option('--type <type>', 'only processes of this type')
    .option('--capability <cap>', 'only processes with this capability')
    .option(
      '--least-loaded',
      'print the live node running a matching "running" process whose loads sum lowest',
    )
    .action(
      async (
        flags: ClientFlags & { type?: string; capability?: string; leastLoaded?: boolean },
      ) => {
        const options = clientOptions(flags);
        const params = new URLSearchParams();
        if (flags.type !== undefined) params.set('type', flags.type);
        if (flags.capability !== undefined) params.set('capability', flags.capability);
        const query = params.size === 0 ? '' : `?${params.toString()}`;
        if (flags.leastLoaded === true) {
          const answer = await agentRequest<LeastLoadedAnswer>(
            options,
            'GET',
            `/v1/processes/least-loaded${query}`,
          );
          if (flags.json) return write(`${JSON.stringify(answer)}\n`);
          const m = (await namesOf(options))(answer.node);
          return write(
            `${m?.name ?? shortId(answer.node)} ${m?.address ?? '?'} load ${answer.load}\n`,
          );
        }
        const answer = await agentRequest<ProcessesAnswer>(options, 'GET', `/v1/processes${query}`);
        if (flags.json) return write(`${JSON.stringify(answer)}\n`);
        write(formatProcesses(answer.processes, await namesOf(options)));
      },
    );
  withClientFlags(
    program.command('place').description("print a key's owners on the live members, primary first"),
    true,
  )
    .argument('<key>', 'the key to place')
    .option('--replicas <n>', 'how many distinct owners', parseReplicas, 1)
    .option('--strategy <s>', 'ring, rendezvous or jump', 'ring')
    .action(async (key: string, flags: ClientFlags & { replicas: number; strategy: string }) => {
      const options = clientOptions(flags);
      const answer = await agentRequest<PlacementAnswer>(
        options,
        'GET',
        `/v1/placement/${encodeURIComponent(key)}?replicas=${flags.replicas}&strategy=${encodeURIComponent(flags.strategy)}`,
      );
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      write(formatPlacement(answer, await namesOf(options)));
    });
}

interface CapabilityFlags {
  type: string;
  capability: string[];
  status?: string;
  load?: number;
}

/** `--load N`: a finite number (the node checks its range). */
function parseLoad(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value))
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `--load ${JSON.stringify(text)}: must be a number`,
    );
  return value;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const TOKEN_HELP = 'bearer token, if the agent requires one (env SHOAL_HTTP_TOKEN)';

function registerProcessWrites(processes: Command, write: (text: string) => void): void {
  withClientFlags(
    processes
      .command('advertise')
      .description("advertise (or update) a process row of the agent's node"),
    true,
  )
    .argument('<pid>', 'the process id, unique on this node')
    .requiredOption('--type <type>', 'the process type (e.g. worker)')
    .option('--capability <cap>', 'a capability (repeat for more)', collect, [])
    .option('--status <status>', 'running (default), or any other state')
    .option('--load <n>', 'the load this process adds (default 0)', parseLoad)
    .option('--http-token <token>', TOKEN_HELP)
    .action(async (pid: string, flags: ClientFlags & CapabilityFlags) => {
      const response = await agentFetch(clientOptions(flags), {
        method: 'PUT',
        path: `/v1/processes/${encodeURIComponent(pid)}`,
        json: {
          type: flags.type,
          capabilities: flags.capability,
          ...(flags.status === undefined ? {} : { status: flags.status }),
          ...(flags.load === undefined ? {} : { load: flags.load }),
        },
      });
      const answer = (await response.json()) as { advertised: ProcessRow | null };
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      const row = answer.advertised;
      write(
        row === null
          ? 'not advertised\n'
          : `advertised ${row.pid} (${row.type}, ${row.status}, load ${row.load})\n`,
      );
    });
  withClientFlags(
    processes.command('withdraw').description("withdraw a process row of the agent's node"),
    true,
  )
    .argument('<pid>', 'the process id')
    .option('--http-token <token>', TOKEN_HELP)
    .action(async (pid: string, flags: ClientFlags) => {
      const response = await agentFetch(clientOptions(flags), {
        method: 'DELETE',
        path: `/v1/processes/${encodeURIComponent(pid)}`,
      });
      const answer = (await response.json()) as { withdrawn: boolean };
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      write(answer.withdrawn ? `withdrew ${pid}\n` : `${pid} was not advertised by this node\n`);
    });
}

interface ChainEntryJson {
  seq: number;
  hash: string;
  prevHash: string;
  payload: string;
  encoding?: 'base64';
  signature: string;
}

interface ChainHeadJson {
  owner: string;
  seq: number;
  hash: string;
}

interface ChainForkJson {
  owner: string;
  peer: string;
  forkSeq?: number;
  localHead: number;
  remoteHead: number;
}

interface ComparisonJson {
  status: 'in-sync' | 'local-behind' | 'remote-behind' | 'forked';
  seq?: number;
  commonSeq?: number;
  forkSeq?: number;
  localHead?: number;
  remoteHead?: number;
  owner: string;
  peer: string;
}

/** A node named by the user: `self`, a NodeId, or a member name (looked up in /v1/members). */
async function nodeIdOf(options: ClientOptions, text: string): Promise<string> {
  if (text === 'self' || /^[0-9a-f]{32}$/.test(text)) return text;
  const { members } = await agentRequest<{ members: Member[] }>(options, 'GET', '/v1/members');
  const found = members.filter((m) => m.name === text);
  if (found.length !== 1)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `${JSON.stringify(text)}: ${found.length === 0 ? 'no member has that name' : 'several members have that name: give a NodeId'} (shoal members lists them)`,
    );
  return (found[0] as Member).id;
}

/** A decimal integer flag of at least `min`. */
function intFlag(name: string, min: number): (text: string) => number {
  return (text) => {
    if (!/^[0-9]{1,15}$/.test(text) || Number(text) < min)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `--${name} ${JSON.stringify(text)}: must be an integer of at least ${min}`,
      );
    return Number(text);
  };
}

export function formatChainEntries(entries: readonly ChainEntryJson[]): string {
  const rows = entries.map((e) => [
    String(e.seq),
    e.hash.slice(0, 16),
    e.encoding === 'base64' ? `base64:${e.payload}` : JSON.stringify(e.payload),
  ]);
  return formatTable([['SEQ', 'HASH', 'PAYLOAD'], ...rows]);
}

export function formatComparison(c: ComparisonJson): string {
  switch (c.status) {
    case 'in-sync':
      return `in-sync at ${c.seq}\n`;
    case 'forked':
      return `forked after ${c.forkSeq ?? 'an entry older than every hash kept'} (here ${c.localHead}, there ${c.remoteHead})\n`;
    default:
      return `${c.status}: common ${c.commonSeq} (here ${c.localHead}, there ${c.remoteHead})\n`;
  }
}

export function registerChainCommands(program: Command, write: (text: string) => void): void {
  const chain = program
    .command('chain')
    .description("the agent's append-only chain of signed entries and its copies of the members'");
  withClientFlags(
    chain.command('append').description("append an entry to the agent's own chain"),
    true,
  )
    .argument('[text]', 'the payload as UTF-8 text')
    .option('--file <path>', 'take the payload bytes from a file instead')
    .option('--http-token <token>', TOKEN_HELP)
    .action(async (text: string | undefined, flags: ClientFlags & { file?: string }) => {
      if ((text === undefined) === (flags.file === undefined))
        throw new ShoalError(
          'ERR_INVALID_ARGUMENT',
          'give the payload as TEXT or --file PATH (one of them)',
        );
      let bytes: Uint8Array;
      if (flags.file !== undefined) {
        try {
          bytes = new Uint8Array(readFileSync(flags.file));
        } catch (err) {
          throw new ShoalError(
            'ERR_INVALID_ARGUMENT',
            `--file ${flags.file}: ${(err as Error).message}`,
          );
        }
      } else bytes = new TextEncoder().encode(text);
      const response = await agentFetch(clientOptions(flags), {
        method: 'POST',
        path: '/v1/chain',
        bytes,
      });
      const answer = (await response.json()) as { appended: ChainEntryJson; owner: string };
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      write(`${answer.appended.seq} ${answer.appended.hash}\n`);
    });
  withClientFlags(
    chain
      .command('show')
      .description(
        "print a chain's entries (NODE: a member name, NodeId or self), or every chain held",
      ),
    true,
  )
    .argument('[node]', 'whose chain; without it, the head of every chain held and the forks found')
    .option('--after <seq>', 'only entries after this seq', intFlag('after', 0))
    .option(
      '--limit <n>',
      'at most this many entries (the agent caps it at 256)',
      intFlag('limit', 1),
    )
    .action(
      async (node: string | undefined, flags: ClientFlags & { after?: number; limit?: number }) => {
        const options = clientOptions(flags);
        if (node === undefined) {
          const answer = await agentRequest<{
            self: string;
            chains: ChainHeadJson[];
            forks: ChainForkJson[];
          }>(options, 'GET', '/v1/chains');
          if (flags.json) return write(`${JSON.stringify(answer)}\n`);
          const member = await namesOf(options);
          const rows = answer.chains.map((c) => [
            member(c.owner)?.name ?? shortId(c.owner),
            String(c.seq),
            c.hash.slice(0, 16),
            c.owner,
          ]);
          let out = formatTable([['NODE', 'HEAD', 'HASH', 'ID'], ...rows]);
          for (const f of answer.forks)
            out += `fork: ${member(f.owner)?.name ?? shortId(f.owner)}'s chain differs at ${member(f.peer)?.name ?? shortId(f.peer)} after ${f.forkSeq ?? '?'}\n`;
          return write(out);
        }
        const id = await nodeIdOf(options, node);
        const params = new URLSearchParams();
        if (flags.after !== undefined) params.set('after', String(flags.after));
        if (flags.limit !== undefined) params.set('limit', String(flags.limit));
        const query = params.size === 0 ? '' : `?${params.toString()}`;
        const answer = await agentRequest<{
          owner: string;
          head: ChainHeadJson;
          entries: ChainEntryJson[];
        }>(options, 'GET', `/v1/chains/${id}${query}`);
        write(flags.json ? `${JSON.stringify(answer)}\n` : formatChainEntries(answer.entries));
      },
    );
  withClientFlags(
    chain
      .command('compare')
      .description("compare a chain here with PEER's copy by common ancestor; exit 1 on a fork"),
    true,
  )
    .argument('<peer>', 'the member to compare with (name or NodeId)')
    .option('--owner <node>', "whose chain (default: the agent's own)")
    .action(async (peer: string, flags: ClientFlags & { owner?: string }) => {
      const options = clientOptions(flags);
      const peerId = await nodeIdOf(options, peer);
      const owner = await nodeIdOf(options, flags.owner ?? 'self');
      const answer = await agentRequest<ComparisonJson>(
        options,
        'GET',
        `/v1/chains/${owner}/compare?peer=${peerId}`,
      );
      write(flags.json ? `${JSON.stringify(answer)}\n` : formatComparison(answer));
      if (answer.status === 'forked') throw new ExitCode(1);
    });
}
