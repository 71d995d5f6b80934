/**
 * Issue 12's audit, end to end, as an attacker on loopback would run it: a 3-node swim cluster of
 * real `shoal agent` processes, with no keyring and with one, and an attacker that knows only what
 * is public (the HTTP API's member table, the nodes' public keys, the cluster id and profile) and
 * holds no member's private key, only one of its own. Each forgery of the list
 * (sim/scenarios/forgeries.ts: a left at 2^53 - 3, the phantom leader with a huge term, instant
 * dead and left, rename and readdress, 100 phantoms by push-pull, ping-req reflection, ...) is
 * sent to one agent and must:
 *
 * - change nothing any agent believes beyond one refutation (`/v1/members` everywhere);
 * - move a counter an operator sees on that agent's `/metrics` (with a keyring: the
 *   `auth_failed` drops, since the attacker cannot even be heard);
 * - write a `security` warn line to its log (rate-limited: a flood of one reason costs one line
 *   per 10 s, while the counter counts every forgery).
 *
 * Afterwards the cluster is one healthy view under one leader, no agent's peer cache
 * (`membership/peers.json`, its future seeds) names anything but the three agents, and nothing
 * was reflected to the attacker. A stream connection with a bad hello is closed and counted on
 * `/metrics` too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import { toHex } from '../../src/base/hex.js';
import { incarnation } from '../../src/base/units.js';
import { MEMBERSHIP_COUNTER_METRICS } from '../../src/agent/protocol-metrics.js';
import type { PublicKey } from '../../src/identity/signed.js';
import { encodeMessage } from '../../src/membership/codec.js';
import { clusterWideOf, configFingerprint, membershipConfig } from '../../src/membership/config.js';
import { SECURITY_COUNTERS } from '../../src/membership/security.js';
import type { CounterName } from '../../src/membership/types.js';
import type { Member } from '../../src/node/node.js';
import { PEER_CACHE_FILE } from '../../src/node/peer-cache.js';
import {
  FORGERY_COUNTERS,
  FORGERY_KINDS,
  forge,
  type Forger,
  type Target,
} from '../../src/sim/scenarios/forgeries.js';
import { generateKey } from '../../src/transport/keyring.js';
import { destroyRawClients, frame, rawClient } from '../transport/raw-stream.js';
import { until, waitFor } from '../helpers/wait.js';
import {
  converged,
  getJson,
  members,
  metrics,
  publicKeyOf,
  securityLines,
  startAgents,
  stopAgents,
  type Agent,
} from './agents.js';
import { SocketAttacker, attackerForger } from './sockets.js';

const CLUSTER = 'audit';
/** The profile the agents run (`--profile local`): the fingerprint every push-pull carries is public. */
const FINGERPRINT = configFingerprint(clusterWideOf(membershipConfig('LOCAL')));
/** Forgeries of one kind in the flood that shows the log's rate limit. */
const FLOOD = 50;

let attacker: SocketAttacker | undefined;
afterEach(async () => {
  await attacker?.close();
  attacker = undefined;
  destroyRawClients();
  stopAgents();
});

const REASON_OF = new Map<CounterName, string>(
  Object.entries(SECURITY_COUNTERS).map(([reason, counter]) => [counter, reason]),
);

/** What the attacker sees of an agent: its record from the HTTP API, its public key. */
async function targetOf(agent: Agent): Promise<Target> {
  const self = await getJson<Member>(agent, '/v1/self');
  const publicKey = toHex(Buffer.from(publicKeyOf(agent.dataDir), 'base64')) as PublicKey;
  return {
    name: agent.name,
    address: agent.address,
    record: {
      kind: 'alive',
      id: self.id,
      incarnation: incarnation(self.incarnation),
      name: self.name,
      address: self.address as Address,
      labels: self.labels,
      publicKey,
      certificate: undefined,
    },
    fingerprint: FINGERPRINT,
  };
}

/** What every agent believes about every member. */
async function beliefs(agents: readonly Agent[]): Promise<Map<string, Member>> {
  const out = new Map<string, Member>();
  for (const agent of agents)
    for (const m of await members(agent)) out.set(`${agent.name}>${m.name}:${m.id}`, m);
  return out;
}

async function counted(agent: Agent, counters: readonly CounterName[]): Promise<number> {
  const samples = await metrics(agent);
  return counters.reduce((sum, c) => sum + (samples.get(MEMBERSHIP_COUNTER_METRICS[c][0]) ?? 0), 0);
}

async function authDropped(agent: Agent): Promise<number> {
  return (await metrics(agent)).get('shoal_packets_dropped_total{reason="auth_failed"}') ?? 0;
}

/** Waits for one leader everywhere; returns it and its term (`leader term`). */
async function oneLeader(agents: readonly Agent[]): Promise<string> {
  return until(
    async () => {
      const leaders = new Set<string>();
      for (const agent of agents) {
        const { leader, term } = await getJson<{ leader: string | null; term: number }>(
          agent,
          '/v1/leader',
        );
        leaders.add(`${leader} term ${term}`);
      }
      const [only] = leaders;
      return leaders.size === 1 && !only?.startsWith('null') ? only : undefined;
    },
    20_000,
    'one leader everywhere',
  );
}

async function cluster(keyring: string[]): Promise<{ agents: Agent[]; leader: string }> {
  const args = ['--cluster-id', CLUSTER, ...keyring.flatMap((k) => ['--key', k])];
  const agents = await startAgents([
    { name: 'a', args },
    { name: 'b', args, join: ['a'] },
    { name: 'c', args, join: ['a'] },
  ]);
  await converged(agents);
  return { agents, leader: await oneLeader(agents) };
}

/** Sends one forgery of `kind` to `to` about `victim`; resolves once `to` counted it. */
async function strike(
  forger: Forger,
  kind: (typeof FORGERY_KINDS)[number],
  agents: readonly Agent[],
  to: Agent,
  victim: Agent,
  sealed: boolean,
): Promise<void> {
  const targets = await Promise.all(agents.map(targetOf));
  const target = (agent: Agent) => targets[agents.indexOf(agent)] as Target;
  const forged = forge(forger, kind, target(to), target(victim), targets);
  if (forged === undefined) throw new Error(`no ${kind} forgery`);
  const counters = FORGERY_COUNTERS[kind];
  const before = sealed ? await authDropped(to) : await counted(to, counters);
  const bytes = encodeMessage(forged.message, CLUSTER);
  const sender = attacker as SocketAttacker;
  if (forged.channel === 'packet') await sender.sendPacket(to.address, bytes);
  else await sender.sendFrame(to.address, bytes);
  await until(
    async () =>
      (sealed ? await authDropped(to) : await counted(to, counters)) > before ? true : undefined,
    10_000,
    `${to.name} counts the ${kind} forgery on /metrics`,
  );
}

/** Every belief as it was, but for one refutation (incarnation + 1) at most; nothing new. */
function unchanged(kind: string, before: Map<string, Member>, after: Map<string, Member>): void {
  expect([...after.keys()].sort(), `${kind}: the same members everywhere`).toEqual(
    [...before.keys()].sort(),
  );
  for (const [key, was] of before) {
    const now = after.get(key) as Member;
    expect([now.name, now.address, now.state, now.labels], `${kind}: ${key}`).toEqual([
      was.name,
      was.address,
      was.state,
      was.labels,
    ]);
    expect(now.incarnation, `${kind}: ${key}`).toBeLessThanOrEqual(was.incarnation + 1);
  }
}

/** Peer caches name only the agents (phantoms never became future seeds). */
function peerCachesClean(agents: readonly Agent[]): void {
  const real = new Set<string>(agents.map((a) => a.address));
  for (const agent of agents) {
    let peers: string[];
    try {
      peers = (
        JSON.parse(readFileSync(join(agent.dataDir, PEER_CACHE_FILE), 'utf8')) as {
          peers: string[];
        }
      ).peers;
    } catch {
      continue;
    }
    expect(
      peers.filter((p) => !real.has(p)),
      `${agent.name}'s ${PEER_CACHE_FILE}`,
    ).toEqual([]);
  }
}

describe.each([
  ['no keyring', false],
  ['a keyring', true],
])('the issue 12 audit over three real agents, %s', (_what, sealed) => {
  it('each forgery changes nothing, is counted on /metrics and logged; the cluster stays one', async () => {
    const { agents, leader } = await cluster(sealed ? [generateKey()] : []);
    attacker = await SocketAttacker.open(sealed);
    const forger = attackerForger(attacker, CLUSTER);
    const kinds = FORGERY_KINDS.filter((k) => k !== 'replay');
    for (const [i, kind] of kinds.entries()) {
      const to = agents[i % 3] as Agent;
      const victim = agents[(i + 1) % 3] as Agent;
      const before = await beliefs(agents);
      await strike(forger, kind, agents, to, victim, sealed);
      unchanged(kind, before, await beliefs(agents));
      if (sealed) continue;
      // The log line: one of the reasons of the counters that moved (an unexpected ack is noise
      // a lossy network makes too, so it is counted but not logged).
      const reasons = FORGERY_COUNTERS[kind].flatMap((c) => REASON_OF.get(c) ?? []);
      if (reasons.length === 0) continue;
      await waitFor(
        () => reasons.some((reason) => securityLines(to, reason).length > 0),
        10_000,
        `${to.name} logs ${kind} as ${reasons.join(' or ')}`,
      );
    }
    await converged(agents);
    // The same leader at the same term: no phantom claim, no forged one, was ever followed.
    expect(await oneLeader(agents)).toBe(leader);
    peerCachesClean(agents);
    expect(attacker.received, 'datagrams reflected to the attacker').toBe(0);
    for (const agent of agents)
      expect(securityLines(agent).every((l) => l['level'] === 40)).toBe(true);
  }, 120_000);
});

describe('floods and streams over real agents', () => {
  it('a flood of one forgery is counted in full and logged once; a bad hello is closed and counted', async () => {
    const [a, b] = await startAgents([
      { name: 'a', args: ['--cluster-id', CLUSTER] },
      { name: 'b', args: ['--cluster-id', CLUSTER], join: ['a'] },
    ]);
    if (a === undefined || b === undefined) throw new Error('2 agents');
    await converged([a, b]);
    attacker = await SocketAttacker.open(false);
    const forger = attackerForger(attacker, CLUSTER, 0x5a, 7);
    const forged = forge(forger, 'forged-left', await targetOf(a), await targetOf(b), []);
    const bytes = encodeMessage(forged?.message as never, CLUSTER);
    const invalid = MEMBERSHIP_COUNTER_METRICS.signaturesInvalid[0];
    const before = (await metrics(a)).get(invalid) ?? 0;
    for (let i = 0; i < FLOOD; i++) await attacker.sendPacket(a.address, bytes);
    await until(
      async () => (((await metrics(a)).get(invalid) ?? 0) >= before + FLOOD ? true : undefined),
      10_000,
      `a counts all ${FLOOD} forgeries`,
    );
    // The first is logged at once; the rest fall within securityLogIntervalMs (10 s).
    expect(securityLines(a, 'signature_invalid')).toHaveLength(1);
    expect((await members(a)).every((m) => m.state === 'alive')).toBe(true);

    const closed = 'shoal_stream_connections_closed_total{reason="bad_hello"}';
    const closedBefore = (await metrics(a)).get(closed) ?? 0;
    const client = await rawClient(a.address);
    client.socket.write(frame(new Uint8Array([0xde, 0xad, 0xbe, 0xef])));
    await waitFor(() => client.closed(), 10_000, 'a closes the connection');
    expect(client.refusal()).toBe('bad_hello');
    expect((await metrics(a)).get(closed)).toBe(closedBefore + 1);
  }, 90_000);
});
