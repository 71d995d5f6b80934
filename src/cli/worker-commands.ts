/**
 * `shoal token create`, `shoal workers`, `shoal scale`: clients of a `worker-server` agent's
 * HTTP API (docs/cli.md, "Worker tier"; src/worker/http.ts). `--json` prints the API's answer
 * unchanged. `token create` prints the token alone on stdout (it is a credential: pipe it into
 * the worker's token file), and its id and expiry on stderr.
 */
import type { Command } from 'commander';
import { ShoalError } from '../base/errors.js';
import { agentAddress, agentRequest, type ClientOptions } from './agent-client.js';
import { formatTable } from './client-commands.js';

interface Flags {
  http?: string;
  httpToken?: string;
  json?: boolean;
}

interface WorkerRow {
  id: string;
  name: string;
  status: string;
  reason: string;
  labels: Record<string, string>;
  certNotAfterMs: number;
  ttlMs?: number;
  expiresInMs?: number;
  assignments: number;
}

interface WorkersAnswer {
  workers: WorkerRow[];
  ttlBaseMs: number;
  leading: boolean;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `24h`, `7d`, `500ms` (one number and one unit) in ms; ERR_INVALID_ARGUMENT otherwise. */
export function parseDurationMs(flag: string, text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  const value = match === null ? NaN : Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `${flag} ${JSON.stringify(text)}: a positive number and a unit, e.g. 90s, 15m, 24h, 7d`,
    );
  return value;
}

/** `--label k=v` (repeatable) into labels; ERR_INVALID_ARGUMENT for one without `=`. */
export function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new ShoalError(
        'ERR_INVALID_ARGUMENT',
        `--label ${JSON.stringify(pair)}: must be key=value`,
      );
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

function parseCount(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `${flag} ${JSON.stringify(text)}: must be an integer of at least ${min}`,
    );
  return value;
}

function clientOptions(flags: Flags): ClientOptions {
  const env = process.env;
  return {
    http: agentAddress(flags.http, env),
    token: flags.httpToken ?? (env['SHOAL_HTTP_TOKEN'] || undefined),
  };
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${Math.round(ms / 1000)}s`;
}

export function formatWorkers(answer: WorkersAnswer): string {
  const rows = answer.workers.map((w) => [
    w.name,
    w.id,
    w.status,
    seconds(w.ttlMs),
    seconds(w.expiresInMs),
    String(w.assignments),
    Object.entries(w.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  ]);
  const head = `${answer.workers.length} workers, TTL base ${seconds(answer.ttlBaseMs)}${answer.leading ? '' : ' (TTLs are shown by the leader)'}\n`;
  return (
    head +
    formatTable([['NAME', 'ID', 'STATE', 'TTL', 'EXPIRES IN', 'ASSIGNMENTS', 'LABELS'], ...rows])
  );
}

function withFlags(command: Command, write: boolean): Command {
  command
    .option('--http <host:port>', 'the agent HTTP API address (env SHOAL_HTTP)', undefined)
    .option('--json', 'print the API answer as JSON');
  if (write)
    command.option(
      '--http-token <token>',
      'bearer token, if the agent requires one (env SHOAL_HTTP_TOKEN)',
    );
  return command;
}

export function registerWorkerCommands(
  program: Command,
  write: (text: string) => void,
  writeErr: (text: string) => void = (t) => process.stderr.write(t),
): void {
  const token = program.command('token').description('worker bootstrap tokens (worker-server)');
  withFlags(
    token.command('create').description('print a new worker bootstrap token (on a worker-server)'),
    true,
  )
    .option('--ttl <duration>', 'lifetime, e.g. 24h, 7d', '24h')
    .option('--max-uses <n>', 'registrations the token allows', '1')
    .option(
      '--label <k=v>',
      'a label every worker registering with it gets (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .action(async (flags: Flags & { ttl: string; maxUses: string; label: string[] }) => {
      const body = {
        ttlMs: parseDurationMs('--ttl', flags.ttl),
        maxUses: parseCount('--max-uses', flags.maxUses, 1),
        labels: parseLabels(flags.label),
      };
      const answer = await agentRequest<{ token: string; tokenId: string; expiresAtMs: number }>(
        clientOptions(flags),
        'POST',
        '/v1/tokens',
        body,
      );
      if (flags.json) return write(`${JSON.stringify(answer)}\n`);
      write(`${answer.token}\n`);
      writeErr(
        `token ${answer.tokenId}: ${body.maxUses} use(s), expires ${new Date(answer.expiresAtMs).toISOString()}\n`,
      );
    });
  withFlags(
    program.command('workers').description('the workers of a worker-server, with state and TTL'),
    false,
  ).action(async (flags: Flags) => {
    const answer = await agentRequest<WorkersAnswer>(clientOptions(flags), 'GET', '/v1/workers');
    write(flags.json ? `${JSON.stringify(answer)}\n` : formatWorkers(answer));
  });
  withFlags(
    program
      .command('scale')
      .description('set a service’s replicas across the worker tier (on a worker-server)'),
    true,
  )
    .argument('<service>', 'the service name')
    .argument('<replicas>', 'desired replicas (0 removes them all)')
    .action(async (service: string, replicas: string, flags: Flags) => {
      const answer = await agentRequest<{ service: string; replicas: number; generation: number }>(
        clientOptions(flags),
        'POST',
        `/v1/scale/${encodeURIComponent(service)}`,
        { replicas: parseCount('replicas', replicas, 0) },
      );
      write(
        flags.json
          ? `${JSON.stringify(answer)}\n`
          : `${answer.service}: ${answer.replicas} replicas (generation ${answer.generation})\n`,
      );
    });
}
