/**
 * `GET /metrics` for the data plane (issue 16): the registry core's counters, what the replica
 * holds, and the data plane's own traffic on the shared port (port-split.ts counts the data
 * plane's view apart; `shoal_gossip_bytes_total` and the other port totals include it). Read from
 * `node.stats().dataPlane` at scrape time; a node without a data plane exports no samples.
 */
import type { Registry } from 'prom-client';
import { REGISTRY_COUNTER_NAMES } from '../crdt/registry/types.js';
import type { AgentNode } from './agent-node.js';

type Sample = [labels: Record<string, string>, value: number];
type Scraped = (
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: string[],
  read: () => Sample[],
) => void;

const COUNTERS: ReadonlySet<string> = new Set(REGISTRY_COUNTER_NAMES);

/** The gauges data-plane.ts adds beside the core's counters. */
const HELD = ['partitions', 'rows', 'ownRows', 'tombstones', 'queuedDeltas'] as const;

export function registerDataPlaneMetrics(
  registry: Registry,
  node: AgentNode,
  scraped: Scraped,
): void {
  const data = () => node.stats().dataPlane;
  scraped(
    registry,
    'counter',
    'shoal_registry_events_total',
    'Data-plane registry events, by event: local writes and refusals, deltas applied/stale/gap/refused, partitions merged/refused, withdrawals, restamps, digests equal/differ, signatures made/checked/invalid, data of departed owners refused, ... (docs/design/data-plane.md).',
    ['event'],
    () =>
      Object.entries(data()?.counters ?? {})
        .filter(([name]) => COUNTERS.has(name))
        .map(([event, n]) => [{ event }, n]),
  );
  scraped(
    registry,
    'gauge',
    'shoal_registry_held',
    'What this replica holds now: partitions (owners), rows (all owners), ownRows, tombstones, queuedDeltas.',
    ['what'],
    () => {
      const counters = data()?.counters;
      return counters === undefined ? [] : HELD.map((what) => [{ what }, counters[what] ?? 0]);
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_registry_bytes_total',
    'Data-plane payload bytes on the shared port, by channel (packet: gossip, stream: push-pull) and direction.',
    ['channel', 'direction'],
    () => {
      const t = data()?.transport;
      if (t === undefined) return [];
      return [
        [{ channel: 'packet', direction: 'in' }, t.packetBytesReceived],
        [{ channel: 'packet', direction: 'out' }, t.packetBytesSent],
        [{ channel: 'stream', direction: 'in' }, t.frameBytesReceived],
        [{ channel: 'stream', direction: 'out' }, t.frameBytesSent],
      ];
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_registry_decode_errors_total',
    'Data-plane messages refused by the decoder, by code.',
    ['code'],
    () => Object.entries(data()?.decodeErrors ?? {}).map(([code, n]) => [{ code }, n]),
  );
  scraped(
    registry,
    'counter',
    'shoal_registry_carrier_total',
    "The piggyback carrier (gossipCarrier 'piggyback'), by event: carried (a round's copy rode in a membership packet), alone (sent alone after the wait), no_room (a membership packet too full to carry it), received (carried frames received).",
    ['event'],
    () => {
      const c = data()?.carrier;
      if (c === undefined) return [];
      return [
        [{ event: 'carried' }, c.carried],
        [{ event: 'alone' }, c.alone],
        [{ event: 'no_room' }, c.noRoom],
        [{ event: 'received' }, c.received],
      ];
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_registry_carried_bytes_total',
    "Data-plane bytes the piggyback carrier added to membership's packets (out) and took off received frames (in); frames sent alone count in shoal_registry_bytes_total.",
    ['direction'],
    () => {
      const c = data()?.carrier;
      if (c === undefined) return [];
      return [
        [{ direction: 'out' }, c.carriedBytes],
        [{ direction: 'in' }, c.receivedBytes],
      ];
    },
  );
  registerChainMetrics(registry, data, scraped);
  registerTreeMetrics(registry, data, scraped);
}

/** The chain counters exported as `shoal_chain_events_total{event}` (data-chain.ts). */
const CHAIN_EVENTS = [
  'appended',
  'pullsSent',
  'pullsAnswered',
  'deltasSent',
  'deltasReceived',
  'entriesSent',
  'entriesReceived',
  'ownEntriesRecovered',
  'diverged',
  'pruned',
  'forks',
  'comparisons',
  'timeouts',
  'pullsWithProgress',
  'diskRepairs',
  'loadedFromDisk',
  'pullsSame',
  'pullsDescended',
  'ownersNamed',
  'digestsAnswered',
  'anchored',
  'notifiesSent',
  'notifiesReceived',
  'notifiesPulled',
  'copiesDropped',
] as const;

function registerChainMetrics(
  registry: Registry,
  data: () => ReturnType<AgentNode['stats']>['dataPlane'],
  scraped: Scraped,
): void {
  const chain = () => data()?.chain;
  scraped(
    registry,
    'counter',
    'shoal_chain_events_total',
    'Chain replication events, by event: appended, pulls sent/answered, deltas (answers with entries) sent/received, entries sent/received, own entries recovered from peers, diverged answers, pruned answers, forks found, comparisons, timeouts, pulls that brought entries, chain files repaired at boot, own entries read back from disk at boot, pulls answered same (digests agreed), pulls that descended to buckets, owners named after a descent, digests answered, copies anchored at the oldest entry a peer keeps (the owner pruned the ones before), notifications sent/received (heads changed: pull from me) and those that opened a pull, copies dropped for falling behind every entry a peer keeps (taken again, anchored).',
    ['event'],
    () => {
      const c = chain()?.counters;
      return c === undefined ? [] : CHAIN_EVENTS.map((event) => [{ event }, c[event] ?? 0]);
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_chain_refused_total',
    'Chain entries and answers refused, by reason: bad-signature, bad-prev-hash, not-next, wrong-owner, oversized, malformed, unknown-owner (no membership key), unexpected-answer.',
    ['reason'],
    () => Object.entries(chain()?.refused ?? {}).map(([reason, n]) => [{ reason }, n]),
  );
  scraped(
    registry,
    'gauge',
    'shoal_chain_held',
    "Chains held now: ownHead (seq of this node's chain), chainsHeld (other members' chains), replicaEntries (their entries, summed), forksKnown.",
    ['what'],
    () => {
      const c = chain()?.counters;
      if (c === undefined) return [];
      return (['ownHead', 'chainsHeld', 'replicaEntries', 'forksKnown'] as const).map((what) => [
        { what },
        c[what] ?? 0,
      ]);
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_chain_bytes_total',
    'Chain replication bytes on the shared port (stream frames), by direction; payload bytes of entries in shoal_chain_entry_bytes_total.',
    ['direction'],
    () => {
      const t = chain()?.transport;
      if (t === undefined) return [];
      return [
        [{ direction: 'in' }, t.frameBytesReceived],
        [{ direction: 'out' }, t.frameBytesSent],
      ];
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_chain_entry_bytes_total',
    'Payload bytes of chain entries sent to and taken from peers, by direction.',
    ['direction'],
    () => {
      const c = chain()?.counters;
      if (c === undefined) return [];
      return [
        [{ direction: 'in' }, c['entryBytesReceived'] ?? 0],
        [{ direction: 'out' }, c['entryBytesSent'] ?? 0],
      ];
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_chain_decode_errors_total',
    'Chain messages refused by the decoder, by code.',
    ['code'],
    () => Object.entries(chain()?.decodeErrors ?? {}).map(([code, n]) => [{ code }, n]),
  );
  scraped(
    registry,
    'gauge',
    'shoal_chain_last_progress_ms',
    "Convergence: the node's clock (ms since it started) at the last pull that brought entries; it stops moving once every chain held matches its peers'.",
    [],
    () => {
      const c = chain()?.counters;
      return c === undefined ? [] : [[{}, c['lastProgressMs'] ?? 0]];
    },
  );
}

/** Tree sync counters exported as `shoal_tree_events_total{event}` (data-tree.ts). */
const TREE_EVENTS = [
  'localWrites',
  'syncs',
  'syncsEqual',
  'syncsDiffered',
  'syncsWithProgress',
  'levelsDescended',
  'hashesReceived',
  'bucketRequests',
  'bucketsCompared',
  'entriesTaken',
  'entriesStale',
  'entriesSent',
  'pushesSent',
  'requestsAnswered',
  'roundTrips',
  'reshapes',
  'treesLearned',
  'tombstonesCollected',
  'expiredTombstonesSkipped',
  'timeouts',
] as const;

/** What the trees hold now, exported as `shoal_tree_held{what}`. */
const TREE_HELD = ['trees', 'keys', 'entries', 'tombstones'] as const;

function registerTreeMetrics(
  registry: Registry,
  data: () => ReturnType<AgentNode['stats']>['dataPlane'],
  scraped: Scraped,
): void {
  const tree = () => data()?.tree;
  const pick = (names: readonly string[], label: string) => (): Sample[] => {
    const c = tree()?.counters;
    return c === undefined ? [] : names.map((name) => [{ [label]: name }, c[name] ?? 0]);
  };
  const byKey = (what: 'refused' | 'decodeErrors', label: string) => (): Sample[] =>
    Object.entries(tree()?.[what] ?? {}).map(([key, n]) => [{ [label]: key }, n]);
  scraped(
    registry,
    'counter',
    'shoal_tree_events_total',
    'Shared tree sync events, by event: local writes; sync sessions started, equal at the root, differing, that took entries; levels descended (one round trip each), hashes received, bucket requests and buckets compared; entries taken, stale, sent; pushes sent; requests answered; round trips; reshapes (a tree grown a level); trees learned from peers; tombstones collected and expired ones skipped; timeouts.',
    ['event'],
    pick(TREE_EVENTS, 'event'),
  );
  scraped(
    registry,
    'counter',
    'shoal_tree_refused_total',
    'Shared tree entries and messages refused, by reason: bad-signature, unknown-writer, future-hlc, tree-full, not-a-member, unasked-key, unexpected-answer, bad-request, bad-name, too-many-trees.',
    ['reason'],
    byKey('refused', 'reason'),
  );
  scraped(
    registry,
    'gauge',
    'shoal_tree_held',
    'What the shared trees hold now: trees, keys (with a value), entries (tombstones included), tombstones.',
    ['what'],
    pick(TREE_HELD, 'what'),
  );
  scraped(
    registry,
    'counter',
    'shoal_tree_bytes_total',
    'Shared tree sync bytes on the shared port (stream frames), by direction.',
    ['direction'],
    () => {
      const t = tree()?.transport;
      return t === undefined
        ? []
        : [
            [{ direction: 'in' }, t.frameBytesReceived],
            [{ direction: 'out' }, t.frameBytesSent],
          ];
    },
  );
  scraped(
    registry,
    'counter',
    'shoal_tree_decode_errors_total',
    'Shared tree messages refused by the decoder, by code.',
    ['code'],
    byKey('decodeErrors', 'code'),
  );
}
