/**
 * `shoal members`, `shoal leader`, `shoal join`, `shoal leave`: thin clients of a running
 * agent's HTTP API (docs/cli.md). `--json` prints the API's JSON unchanged, for scripts.
 */
import type { Command } from 'commander';
import { splitAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import type { Member } from '../node/node.js';
import {
  AGENT_REQUEST_TIMEOUT_MS,
  agentAddress,
  agentRequest,
  type ClientOptions,
} from './agent-client.js';

interface MembersAnswer {
  members: Member[];
  epoch: number;
}

interface LeaderAnswer {
  mode: string;
  leader: string | null;
  term: number;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join('  '),
      )
      .join('\n') + '\n'
  );
}

export function formatMembers(answer: MembersAnswer): string {
  const sorted = [...answer.members].sort(
    (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
  );
  const rows = sorted.map((m) => [
    m.name,
    m.address,
    m.state,
    String(m.incarnation),
    Object.entries(m.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  ]);
  return formatTable([['NAME', 'ADDRESS', 'STATE', 'INCARNATION', 'LABELS'], ...rows]);
}

export function formatLeader(answer: LeaderAnswer, members: readonly Member[]): string {
  if (answer.leader === null) return `no leader (mode ${answer.mode}, term ${answer.term})\n`;
  const name = members.find((m) => m.id === answer.leader)?.name;
  return `${name === undefined ? answer.leader : `${name} (${answer.leader})`}  term ${answer.term}  mode ${answer.mode}\n`;
}

export interface ClientFlags {
  http?: string;
  httpToken?: string;
  json?: boolean;
}

/** The longest joinTimeoutMs of the profiles (WAN): one address that never answers takes this long. */
export const JOIN_ADDRESS_WAIT_MAX_MS = 30_000;

/** How long `shoal join` waits for the agent: every address may take JOIN_ADDRESS_WAIT_MAX_MS. */
export function joinRequestTimeoutMs(addresses: number): number {
  return AGENT_REQUEST_TIMEOUT_MS + addresses * JOIN_ADDRESS_WAIT_MAX_MS;
}

export function clientOptions(flags: ClientFlags): ClientOptions {
  const env = process.env;
  return {
    http: agentAddress(flags.http, env),
    token: flags.httpToken ?? (env['SHOAL_HTTP_TOKEN'] || undefined),
  };
}

export function withClientFlags(command: Command, json: boolean): Command {
  command.option('--http <host:port>', 'the agent HTTP API address (env SHOAL_HTTP)', undefined);
  if (json) command.option('--json', 'print the API answer as JSON');
  return command;
}

function registerReadCommands(program: Command, write: (text: string) => void): void {
  withClientFlags(
    program
      .command('members')
      .description('print the member table of the agent at --http (default 127.0.0.1:7947)'),
    true,
  ).action(async (flags: ClientFlags) => {
    const answer = await agentRequest<MembersAnswer>(clientOptions(flags), 'GET', '/v1/members');
    write(flags.json ? `${JSON.stringify(answer)}\n` : formatMembers(answer));
  });
  withClientFlags(
    program.command('leader').description('print the current leader and term'),
    true,
  ).action(async (flags: ClientFlags) => {
    const options = clientOptions(flags);
    const answer = await agentRequest<LeaderAnswer>(options, 'GET', '/v1/leader');
    if (flags.json) return write(`${JSON.stringify(answer)}\n`);
    const members =
      answer.leader === null
        ? []
        : (await agentRequest<MembersAnswer>(options, 'GET', '/v1/members')).members;
    write(formatLeader(answer, members));
  });
}

function registerWriteCommands(program: Command, write: (text: string) => void): void {
  withClientFlags(
    program
      .command('join')
      .description('ask the agent to join a cluster through the given cluster addresses'),
    true,
  )
    .argument('<address...>', 'cluster (gossip) addresses host:port of members to join through')
    .option(
      '--http-token <token>',
      'bearer token, if the agent requires one (env SHOAL_HTTP_TOKEN)',
    )
    .action(async (addresses: string[], flags: ClientFlags) => {
      const bad = addresses.find((a) => splitAddress(a) === undefined);
      if (bad !== undefined)
        throw new ShoalError(
          'ERR_INVALID_ARGUMENT',
          `address ${JSON.stringify(bad)}: must be host:port (e.g. 127.0.0.1:7946), the cluster address of a member`,
        );
      // The agent tries the addresses one after another, each for up to its joinTimeoutMs.
      const answer = await agentRequest<{ joined: number }>(
        { ...clientOptions(flags), timeoutMs: joinRequestTimeoutMs(addresses.length) },
        'POST',
        '/v1/join',
        { addresses },
      );
      write(
        flags.json
          ? `${JSON.stringify(answer)}\n`
          : `joined: ${answer.joined} of ${addresses.length} addresses answered\n`,
      );
    });
  withClientFlags(
    program
      .command('leave')
      .description('ask the agent to leave the cluster gracefully; the agent then exits'),
    true,
  )
    .option(
      '--http-token <token>',
      'bearer token, if the agent requires one (env SHOAL_HTTP_TOKEN)',
    )
    .action(async (flags: ClientFlags) => {
      const answer = await agentRequest<{ left: boolean }>(
        clientOptions(flags),
        'POST',
        '/v1/leave',
      );
      write(
        flags.json ? `${JSON.stringify(answer)}\n` : 'left the cluster; the agent is exiting\n',
      );
    });
}

export function registerClientCommands(program: Command, write: (text: string) => void): void {
  registerReadCommands(program, write);
  registerWriteCommands(program, write);
}
