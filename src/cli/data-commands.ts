/**
 * `shoal services`, `shoal resolve`, `shoal place`, `shoal processes` (issue 16; docs/cli.md): clients of a running
 * agent's data-plane routes (src/agent/data-routes.ts). Nodes are shown by member name, looked
 * up in `/v1/members`; `--json` prints the API's answer unchanged, for scripts. `resolve` prints
 * the address alone, so `curl http://$(shoal resolve api)/` works; no live instance exits 1.
 * `processes --least-loaded` prints the chosen node's name and address (none: exit 1).
 */
import type { Command } from 'commander';
import { ShoalError } from '../base/errors.js';
import type { Member } from '../node/node.js';
import type { ServiceInstance } from '../node/data-plane-api.js';
import type { ProcessRow } from '../crdt/registry/queries.js';
import { agentRequest, type ClientOptions } from './agent-client.js';
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
  withClientFlags(
    program
      .command('processes')
      .description(
        'print the process table (live nodes), or with --least-loaded the node to send work to',
      ),
    true,
  )
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
