/**
 * `createNode` options (INTERFACE.md, "Library"): the schema, its defaults and the one place
 * they are validated. A bad value throws ShoalError ERR_INVALID_CONFIG naming the field, the
 * value and what is allowed; the CLI maps that to exit status 2.
 */
import { z } from 'zod';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import { raftLiteConfig } from '../election/raft-lite/config.js';
import { staticConfig } from '../election/static/config.js';
import { workerServerConfig, type WorkerServerSettings } from '../worker/core/config.js';
import { listenAddressProblem, peerAddressProblem } from './addresses.js';
import { raftConfig, type RaftSettings } from '../raft/config.js';
import { ADMISSION_ENTRIES_MAX, admissionPolicy, CA_KEYS_MAX } from './admission.js';

/** A string refined by `problem` (undefined: valid), whose message is the problem found. */
function checkedString(problem: (text: string) => string | undefined): z.ZodString {
  return z.string().superRefine((text, ctx) => {
    const found = problem(text);
    if (found !== undefined) ctx.addIssue({ code: 'custom', message: found });
  }) as unknown as z.ZodString;
}

/** Where this node listens (`bind`, `advertise`, the agent's HTTP address): an IP literal and a port. */
export const listenAddressSchema = checkedString(listenAddressProblem);
/** A peer's cluster address (seeds, peers, join addresses): an IP literal or a DNS name, and a port. */
export const peerAddressSchema = checkedString(peerAddressProblem);
const address = peerAddressSchema;

/** Keys that would set an object's prototype when assigned: refused in options, config and bodies. */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__'];

/** Deepest nesting `findForbiddenKey` walks; options and config files are far shallower. */
const FORBIDDEN_KEY_DEPTH_MAX = 64;

/**
 * The path (`labels.__proto__`) of the first own key in FORBIDDEN_KEYS anywhere in `value`
 * (plain objects and arrays, at most FORBIDDEN_KEY_DEPTH_MAX deep), or undefined. Checked before
 * validation: a schema copies objects by assignment, so such a key would vanish (or set the
 * copy's prototype) before any rule could see it.
 */
export function findForbiddenKey(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > FORBIDDEN_KEY_DEPTH_MAX)
    return undefined;
  for (const key of Object.keys(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (FORBIDDEN_KEYS.includes(key)) return at;
    const found = findForbiddenKey((value as Record<string, unknown>)[key], at, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The cluster id of a node (and a certificate) that names none. */
export const DEFAULT_CLUSTER_ID = 'default';

const base64Key = z.string().refine((s) => /^[A-Za-z0-9+/]{43}=$/.test(s), {
  message: 'must be a base64-encoded 32-byte key (44 characters, from `shoal keygen`)',
});

const positiveMs = z.number().int().min(1).max(3_600_000);

/** The modes (INTERFACE.md, "Modes"); an open union: later modes add variants here. */
export const modeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('single') }).strict(),
  z
    .object({
      kind: z.literal('swim'),
      seeds: z.array(address).max(1024).default([]),
      /** Only a view with a majority of max(minClusterSize, largest stable view seen) has a leader. Defaults: election/swim/config.ts. */
      requireQuorum: z.boolean().optional(),
      /** With requireQuorum: the least cluster size the quorum is a majority of (set it to the cluster's size). Without: no claim until a stable view this large was seen once (cold start). */
      minClusterSize: z.number().int().min(1).max(1024).optional(),
      /** Live set unchanged this long before a new leader claims; default 2 probe intervals of the profile. */
      stabilizationMs: positiveMs.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('static'),
      /** Every member's cluster address, self included. */
      peers: z.array(address).min(1).max(64),
      /** Defaults and cross-field rules: election/static/config.ts (`staticConfig`). */
      failureThresholdMs: positiveMs.optional(),
      heartbeatIntervalMs: positiveMs.optional(),
      /** Default: on for 3+ peers. */
      requireQuorum: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('raft-lite'),
      /** Bootstrap addresses of the cluster (self may be included). */
      peers: z.array(address).max(64).default([]),
      /** Defaults and cross-field rules: election/raft-lite/config.ts (`raftLiteConfig`). */
      electionTimeoutMinMs: positiveMs.optional(),
      electionTimeoutMaxMs: positiveMs.optional(),
      heartbeatIntervalMs: positiveMs.optional(),
      minClusterSize: z.number().int().min(1).max(64).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('raft'),
      /** The initial voters' addresses, self included, the same list on every node; [] to join. */
      peers: z.array(address).max(64).default([]),
      /** Members of an existing cluster to ask to add this node (with peers []); docs/design/raft-kv.md. */
      join: z.array(address).max(64).default([]),
      /** Defaults and cross-field rules: raft/config.ts (`raftConfig`), per the node's profile. */
      heartbeatIntervalMs: positiveMs.optional(),
      electionTimeoutMinMs: positiveMs.optional(),
      electionTimeoutMaxMs: positiveMs.optional(),
      preVote: z.boolean().optional(),
      checkQuorum: z.boolean().optional(),
      readMode: z.enum(['read-index', 'lease']).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('worker-server'),
      /** The Raft voters' cluster addresses, self included (docs/design/worker-tier.md). */
      peers: z
        .array(address)
        .min(3, 'a worker-server cluster has 3 to 7 Raft voters')
        .max(7, 'a worker-server cluster has 3 to 7 Raft voters'),
      /** The workers' gRPC listener. */
      workerListen: address.default('127.0.0.1:3670'),
      /** This server's worker CA (key 0600); default: <dataDir>/worker-ca. */
      workerCaDir: z.string().min(1).optional(),
      /** Defaults and cross-field rules: worker/core/config.ts (`workerServerConfig`). */
      minHeartbeatTtlMs: positiveMs.optional(),
      maxHeartbeatTtlMs: positiveMs.optional(),
      heartbeatGraceMs: positiveMs.optional(),
      maxHeartbeatsPerSecond: z.number().int().min(1).max(100_000).optional(),
      failoverHeartbeatTtlMs: positiveMs.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('worker'),
      /** Worker-servers' workerListen addresses, tried round-robin with backoff. */
      servers: z.array(address).min(1).max(16),
      /** A file holding the bootstrap token (one line); needed until the first registration. */
      tokenFile: z.string().min(1).optional(),
      /** Key, certificate and trust bundle; default: <dataDir>/worker-identity. */
      identityDir: z.string().min(1).optional(),
      /** Assignments by server stream (default) or long-poll. */
      assignments: z.enum(['stream', 'poll']).default('stream'),
    })
    .strict(),
]);

/** Label keys with this prefix carry Shoal's own gossip (swim leader claims); hidden from and refused to users. */
export const RESERVED_LABEL_PREFIX = 'shoal.';

export const nodeOptionsSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\w.@-]+$/, 'must be 1-128 letters, digits, or . _ - @'),
    dataDir: z.string().min(1),
    /**
     * BENCHMARKS ONLY: every durable write of the node's disk (a WAL batch's fdatasync, a file
     * replaced, created or removed) reports success this many ms late, to measure a slower disk
     * (FsStorage `fsyncDelayMs`). 0, the default, in every real deployment.
     */
    fsyncDelayMs: z.number().int().min(0).max(10_000).default(0),
    /** Where the node listens; an IP literal in production (`checkListenAddresses`), any host the simulator names. */
    bind: address.default('127.0.0.1:7946'),
    /** The address peers should use, when it differs from `bind` (NAT, 0.0.0.0 binds). */
    advertise: address.optional(),
    mode: modeSchema,
    clusterId: z
      .string()
      .min(1)
      .max(LIMITS.clusterIdBytesMax)
      .regex(/^[\w.-]+$/, 'must be letters, digits, . _ -')
      .default(DEFAULT_CLUSTER_ID),
    keyring: z.array(base64Key).min(1).max(LIMITS.keyringKeysMax).optional(),
    labels: z
      .record(z.string(), z.string())
      .refine((labels) => Object.keys(labels).every((k) => !k.startsWith(RESERVED_LABEL_PREFIX)), {
        message: `label keys starting with "${RESERVED_LABEL_PREFIX}" are reserved for Shoal's own use (leader claims)`,
      })
      .default({}),
    profile: z.enum(['lan', 'wan', 'local']).default('lan'),
    /**
     * How the data plane's gossip rounds travel (swim mode, docs/design/data-plane.md, "Piggyback
     * carrier"): `own` packets every gossip round (default: half the time to reach everyone), or
     * `piggyback` in membership's packets when they have room (12-13% fewer bytes, twice the time).
     */
    gossipCarrier: z.enum(['own', 'piggyback']).default('own'),
    /**
     * Deltas the data plane's registry pushes at once, each to `gossipFanout` members, before its
     * next gossip round (swim mode, docs/design/data-plane.md, "Eager push"): a write reaches most
     * members within milliseconds instead of a round. 0 turns eager pushes off.
     * @defaultValue 4
     */
    eagerPushesMax: z.number().int().min(0).max(1024).optional(),
    /**
     * Chain replication (swim and single modes; docs/design/data-plane.md, "Chains on the
     * network"): how often a node pulls from one random member (`pullIntervalMs`, default 1000:
     * at steady state a pull costs about 80 bytes whatever the cluster's size, and an entry
     * reaches every member within about one interval), the largest entry (`payloadBytesMax`, default
     * 65,536) and the entries kept in memory per chain (`entriesKeptMax`, default 4,096: a member
     * further behind a chain than that cannot take it).
     */
    chain: z
      .object({
        pullIntervalMs: z.number().int().min(10).max(3_600_000).optional(),
        payloadBytesMax: z.number().int().min(1).max(1_048_576).optional(),
        entriesKeptMax: z.number().int().min(1).max(1_048_576).optional(),
      })
      .strict()
      .optional(),
    /**
     * Who may be a member (swim mode), beyond the cluster id: NodeIds or public keys by name, a
     * cluster CA's certificates, and revocations (node/admission.ts, docs/security.md). Absent:
     * any node that reaches a port may join.
     */
    admission: z
      .object({
        allow: z.array(z.string()).max(ADMISSION_ENTRIES_MAX).optional(),
        deny: z.array(z.string()).max(ADMISSION_ENTRIES_MAX).optional(),
        ca: z.array(base64Key).min(1).max(CA_KEYS_MAX).optional(),
        certificate: z.string().min(1).max(1024).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type NodeOptions = z.input<typeof nodeOptionsSchema>;
export type ResolvedNodeOptions = z.output<typeof nodeOptionsSchema>;
export type ClusterMode = ResolvedNodeOptions['mode'];

/** Longest rendering of a refused value in an error message. */
const SHOWN_VALUE_CHARS_MAX = 80;

/** `value` as JSON for an error message, cut to SHOWN_VALUE_CHARS_MAX; never throws (cycles, depth). */
export function showValue(value: unknown): string {
  if (value === undefined) return 'missing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[...]' : typeof value === 'object' ? '{...}' : String(value);
  }
  return text.length > SHOWN_VALUE_CHARS_MAX ? `${text.slice(0, SHOWN_VALUE_CHARS_MAX)}…` : text;
}

/** Renders the first zod issue as `field (value): what is allowed`. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    if (issue.path.length > 0)
      return `${issue.keys.join(', ')}: unknown field in ${issue.path.map(String).join('.')}`;
    return `${issue.keys.join(', ')}: unknown field; allowed: ${Object.keys(nodeOptionsSchema.shape).join(', ')}`;
  }
  const field = issue.path.map(String).join('.') || '(options)';
  let value: unknown = input;
  for (const key of issue.path)
    value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  return `${field} (${showValue(value)}): ${issue.message}`;
}

export function resolveNodeOptions(input: unknown): ResolvedNodeOptions {
  const forbidden = findForbiddenKey(input);
  if (forbidden !== undefined)
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid node option ${forbidden}: the key "__proto__" is refused (it could set an object's prototype)`,
    );
  const parsed = nodeOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const text = first ? describeIssue(first, input) : parsed.error.message;
    throw new ShoalError('ERR_INVALID_CONFIG', `invalid node option ${text}`);
  }
  checkModeConfig(parsed.data.mode);
  checkAdmission(parsed.data);
  return parsed.data;
}

/**
 * Admission entries and the certificate decode; admission needs gossip membership (swim) or
 * raft's authenticated connections (raft).
 */
function checkAdmission(options: ResolvedNodeOptions): void {
  if (options.admission === undefined) return;
  if (options.mode.kind !== 'swim' && options.mode.kind !== 'raft')
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid node option admission: it applies to swim and raft modes, not ${options.mode.kind}`,
    );
  admissionPolicy(options.admission, options.clusterId);
}

/**
 * Production listens on real interfaces: `bind` and `advertise` must be IP literals (a name
 * would be gossiped as the node's address and never equal the address peers see). The
 * simulator names its hosts, so this is checked by createNode, not by the schema.
 */
export function checkListenAddresses(options: ResolvedNodeOptions): void {
  for (const field of ['bind', 'advertise'] as const) {
    const value = options[field];
    const problem = value === undefined ? undefined : listenAddressProblem(value);
    if (problem !== undefined)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `invalid node option ${field} (${showValue(value)}): ${problem}`,
      );
  }
}

/**
 * The mode's protocol config, resolved once here so that a bad combination (a heartbeat longer
 * than half the failure threshold, ...) is refused before anything is bound or written. Each
 * protocol's config function owns its defaults and rules; the wiring calls the same function.
 */
function checkModeConfig(mode: ResolvedNodeOptions['mode']): void {
  if (mode.kind === 'static') staticConfig(mode, new Set(mode.peers).size);
  if (mode.kind === 'raft-lite') raftLiteConfig(mode);
  if (mode.kind === 'raft') {
    raftConfig(raftSettingsOf(mode));
    if (mode.peers.length > 0 && mode.join.length > 0)
      throw new ShoalError(
        'ERR_INVALID_CONFIG',
        `invalid node option mode: give peers (${showValue(mode.peers)}: the initial voters, to start a new cluster) or join (${showValue(mode.join)}: members of an existing cluster), not both`,
      );
  }
  if (mode.kind === 'worker-server') workerServerConfig(workerServerSettingsOf(mode));
}

/** The worker-tier settings a `worker-server` mode sets (the rest are defaults). */
export function workerServerSettingsOf(
  mode: Extract<ClusterMode, { kind: 'worker-server' }>,
): WorkerServerSettings {
  const settings: WorkerServerSettings = {};
  for (const field of [
    'minHeartbeatTtlMs',
    'maxHeartbeatTtlMs',
    'heartbeatGraceMs',
    'maxHeartbeatsPerSecond',
    'failoverHeartbeatTtlMs',
  ] as const) {
    const value = mode[field];
    if (value !== undefined) settings[field] = value;
  }
  return settings;
}

/** The Raft settings a `raft` mode sets (the rest come from the profile). */
export function raftSettingsOf(mode: Extract<ClusterMode, { kind: 'raft' }>): RaftSettings {
  const settings: RaftSettings = {};
  if (mode.heartbeatIntervalMs !== undefined)
    settings.heartbeatIntervalMs = mode.heartbeatIntervalMs;
  if (mode.electionTimeoutMinMs !== undefined)
    settings.electionTimeoutMinMs = mode.electionTimeoutMinMs;
  if (mode.electionTimeoutMaxMs !== undefined)
    settings.electionTimeoutMaxMs = mode.electionTimeoutMaxMs;
  if (mode.preVote !== undefined) settings.preVote = mode.preVote;
  if (mode.checkQuorum !== undefined) settings.checkQuorum = mode.checkQuorum;
  if (mode.readMode !== undefined) settings.readMode = mode.readMode;
  return settings;
}
