/**
 * Real `shoal agent` processes for the hostile suite (issue 12, "as an attacker on loopback
 * would"): each in its own temp data dir on a cluster port taken from the OS, its HTTP API on
 * 127.0.0.1, its JSON log kept. Reads what an operator sees: `/metrics` samples, `/v1/members`,
 * `/v1/health`, `security` log lines. `stopAgents()` ends only the processes started here (by
 * PID, through shoal-process.ts) and removes their dirs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from '../../src/base/address.js';
import { freeClusterAddresses } from '../../src/transport/free-port.js';
import type { Member } from '../../src/node/node.js';
import {
  agentStarted,
  killChildren,
  logLines,
  spawnShoal,
  type Child,
} from '../helpers/shoal-process.js';
import { until } from '../helpers/wait.js';

export interface Agent {
  name: string;
  child: Child;
  /** `http://127.0.0.1:PORT` */
  http: string;
  id: string;
  address: Address;
  dataDir: string;
}

const dirs: string[] = [];

export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `shoal-agents-${name}-`));
  dirs.push(dir);
  return dir;
}

export interface AgentSpec {
  name: string;
  /** Flags beyond name, bind, http, data dir and profile (`local`). */
  args?: string[];
  /** Names of earlier agents in the same `startAgents` call to join. */
  join?: string[];
  dataDir?: string;
}

/**
 * Starts the agents at once (their cluster addresses are taken first, so one may join another
 * that is still starting) and waits until each logged "agent started".
 */
export async function startAgents(specs: readonly AgentSpec[]): Promise<Agent[]> {
  const addresses = (await freeClusterAddresses(specs.length)) as Address[];
  const addressOf = (name: string): Address => {
    const at = specs.findIndex((s) => s.name === name);
    if (at < 0) throw new Error(`no agent ${name} to join`);
    return addresses[at] as Address;
  };
  const started = specs.map((spec, i) => {
    const dataDir = spec.dataDir ?? tempDir(spec.name);
    const join = (spec.join ?? []).flatMap((name) => ['--join', addressOf(name)]);
    const child = spawnShoal([
      ...['agent', '--name', spec.name, '--bind', addresses[i] as string],
      ...['--http', '127.0.0.1:0', '--profile', 'local', '--data-dir', dataDir],
      ...join,
      ...(spec.args ?? []),
    ]);
    return { spec, child, dataDir, address: addresses[i] as Address };
  });
  return Promise.all(
    started.map(async ({ spec, child, dataDir, address }) => {
      const { http, id } = await agentStarted(child, 60_000);
      return { name: spec.name, child, http, id, address, dataDir };
    }),
  );
}

export function stopAgents(): void {
  killChildren();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function getJson<T>(agent: Agent, path: string): Promise<T> {
  const res = await fetch(`${agent.http}${path}`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as T;
}

export async function members(agent: Agent): Promise<Member[]> {
  return (await getJson<{ members: Member[] }>(agent, '/v1/members')).members;
}

/** The `/metrics` samples: `name{labels}` (or `name`) -> value. */
export async function metrics(agent: Agent): Promise<Map<string, number>> {
  const res = await fetch(`${agent.http}/metrics`, { signal: AbortSignal.timeout(5000) });
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The `security` log lines (`event: security`), optionally of one reason. */
export function securityLines(agent: Agent, reason?: string): Array<Record<string, unknown>> {
  return logLines(agent.child).filter(
    (l) => l['event'] === 'security' && (reason === undefined || l['reason'] === reason),
  );
}

/** The base64 public key in an agent's identity file (public: every record carries it). */
export function publicKeyOf(dataDir: string): string {
  const doc = JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as {
    publicKey: string;
  };
  return doc.publicKey;
}

/** Waits until every agent sees exactly the others alive (and nothing else). */
export async function converged(agents: readonly Agent[], timeoutMs = 30_000): Promise<void> {
  const ids = agents.map((a) => a.id).sort();
  await until(
    async () => {
      for (const agent of agents) {
        const seen = await members(agent);
        const alive = seen.filter((m) => m.state === 'alive').map((m) => m.id);
        if (alive.sort().join() !== ids.join() || seen.length !== ids.length) return undefined;
      }
      return true;
    },
    timeoutMs,
    `${agents.map((a) => a.name).join(', ')} see each other alive`,
  );
}
