/**
 * The agent's configuration (INTERFACE.md, "Command line"): one zod schema, the ONE place agent
 * settings are validated. Values arrive in layers of increasing precedence, a YAML config file,
 * `SHOAL_*` environment variables, then command-line flags (config-layers.ts reads them); the
 * merged result is checked here and mapped onto `createNode` options plus the agent-only fields
 * (HTTP address, token, log level).
 *
 * A bad value throws ShoalError ERR_INVALID_CONFIG whose message names the field, where it came
 * from (`--http`, `SHOAL_HTTP`, `agent.yaml`), the value and what is allowed; the CLI exits 2.
 * Node-level rules (address, name, key syntax) are reused from `nodeOptionsSchema` so one rule
 * is written once. Mode kinds beyond `single`/`swim` are passed through: createNode decides.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ShoalError } from '../base/errors.js';
import { familyOf, resolvePeerAddresses } from '../node/addresses.js';
import {
  DEFAULT_CLUSTER_ID,
  listenAddressSchema,
  nodeOptionsSchema,
  peerAddressSchema,
  showValue,
  type NodeOptions,
} from '../node/options.js';

export { showValue } from '../node/options.js';
import { admissionConfigFields, admissionOf, checkOwnAdmission } from './admission-config.js';
import { readKeyLines } from './key-files.js';
import {
  grpcConfigFields,
  grpcEndpointOf,
  type EtcdEndpointConfig,
} from '../etcd/agent-endpoint.js';

/** Mode kinds the agent accepts (INTERFACE.md, "Modes"); createNode validates each kind's fields. */
export const AGENT_MODE_KINDS = [
  'single',
  'static',
  'swim',
  'raft-lite',
  'raft',
  'worker-server',
  'worker',
] as const;
/** Modes that take a full `peers` list, and modes that take `join` seeds. */
const PEER_MODES: readonly string[] = ['static', 'raft-lite', 'raft', 'worker-server'];
const SEED_MODES: readonly string[] = ['swim', 'raft-lite', 'raft'];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const DEFAULT_HTTP_ADDRESS = '127.0.0.1:7947';
/** Upper bound on `join` / `peers` list lengths (matches the node's seed list bound). */
export const AGENT_ADDRESS_LIST_MAX = 1024;

const node = nodeOptionsSchema.shape;
const addressList = z.array(peerAddressSchema).max(AGENT_ADDRESS_LIST_MAX);

export const agentConfigSchema = z
  .object({
    name: node.name.optional(),
    /** Defaults to `./data/<name>`, so several local agents do not share an identity. */
    dataDir: node.dataDir.optional(),
    bind: listenAddressSchema.default('127.0.0.1:7946'),
    advertise: listenAddressSchema.optional(),
    /** The HTTP API's listen address. */
    http: listenAddressSchema.default(DEFAULT_HTTP_ADDRESS),
    /** When set, POST endpoints require `Authorization: Bearer <httpToken>`. */
    httpToken: z
      .string()
      .min(16, 'must be at least 16 characters')
      .max(256)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
    mode: z.enum(AGENT_MODE_KINDS).default('swim'),
    /** The mode's own settings beyond the lists (e.g. `requireQuorum`); checked by createNode. */
    modeOptions: z.record(z.string(), z.unknown()).optional(),
    join: addressList.default([]),
    peers: addressList.default([]),
    clusterId: node.clusterId,
    profile: node.profile,
    gossipCarrier: node.gossipCarrier,
    logLevel: z.enum(LOG_LEVELS).default('info'),
    labels: node.labels,
    keyring: node.keyring,
    /** A file with one base64 key per line (the first is primary); read by config-layers.ts. */
    keyringFile: z.string().min(1).optional(),
    /** The etcd gRPC endpoint and its TLS files (src/etcd/agent-endpoint.ts). */
    ...grpcConfigFields,
    /** Who may be a member (swim): allow and deny lists, CA key files, this node's certificate. */
    ...admissionConfigFields,
    /** worker-server: the workers' gRPC listener, and this server's worker CA directory. */
    workerListen: listenAddressSchema.optional(),
    workerCaDir: z.string().min(1).optional(),
    /** worker: the worker-servers' workerListen addresses, the token file, the identity dir. */
    servers: addressList.optional(),
    tokenFile: z.string().min(1).optional(),
    identityDir: z.string().min(1).optional(),
    /** BENCHMARKS ONLY (`--fsync-delay-ms`): each durable write reports success this much later. */
    fsyncDelayMs: z.coerce.number().int().min(0).max(10_000).default(0),
    /** The registry's eager pushes (NodeOptions.eagerPushesMax); 0 turns them off. */
    eagerPushesMax: z.coerce.number().int().min(0).max(1024).optional(),
    /** Chain replication (NodeOptions.chain): pull interval, largest entry, entries kept. */
    chainPullIntervalMs: z.coerce.number().int().min(10).max(3_600_000).optional(),
    chainPayloadBytesMax: z.coerce.number().int().min(1).max(1_048_576).optional(),
    chainEntriesKeptMax: z.coerce.number().int().min(1).max(1_048_576).optional(),
  })
  .strict();

export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type AgentConfigFields = keyof AgentConfigInput;
export const AGENT_CONFIG_FIELDS = Object.keys(agentConfigSchema.shape) as AgentConfigFields[];

/** The validated configuration: createNode options plus the agent-only settings. */
export interface AgentConfig {
  node: NodeOptions;
  http: string;
  httpToken: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** The keyring file the keys came from (its permissions are checked at start). */
  keyringFile?: string | undefined;
  /** The file this node's admission certificate came from (named when it does not admit this node). */
  admissionCertFile?: string | undefined;
  /** Where each field came from, for errors found after validation (a join name that does not resolve). */
  sources?: FieldSources;
  /** The etcd v3-compatible gRPC endpoint (`--grpc`), or undefined when off. */
  grpc: EtcdEndpointConfig | undefined;
}

/** Where each field's winning value came from, for error messages (`--http`, `SHOAL_HTTP`, a file). */
export type FieldSources = Partial<Record<string, string>>;

function invalid(
  field: string,
  sources: FieldSources,
  value: unknown,
  allowed: string,
): ShoalError {
  const from = sources[field] === undefined ? '' : ` (from ${sources[field]})`;
  return new ShoalError(
    'ERR_INVALID_CONFIG',
    `invalid config: ${field}${from} ${showValue(value)}: ${allowed}`,
  );
}

/** Renders a zod issue as `field (from source) value: what is allowed`. */
function describeIssue(
  issue: z.core.$ZodIssue,
  input: Record<string, unknown>,
  sources: FieldSources,
): ShoalError {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    return invalid(
      key,
      sources,
      input[key],
      `unknown field; allowed: ${AGENT_CONFIG_FIELDS.join(', ')}`,
    );
  }
  const top = String(issue.path[0] ?? '(config)');
  let value: unknown = input;
  for (const key of issue.path)
    value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  const field = issue.path.map(String).join('.') || top;
  return invalid(field, { [field]: sources[top] }, value, issue.message);
}

/** `a, b or c`. */
function oneOf(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/** Cross-field rules: each list goes with the modes that use it. */
function checkModeFields(config: z.output<typeof agentConfigSchema>, sources: FieldSources): void {
  if (config.peers.length > 0 && !PEER_MODES.includes(config.mode)) {
    throw invalid(
      'peers',
      sources,
      config.peers,
      `only used by mode ${oneOf(PEER_MODES)}, but mode is ${config.mode}`,
    );
  }
  const only = (
    field: 'workerListen' | 'workerCaDir' | 'servers' | 'tokenFile' | 'identityDir',
    kind: string,
  ) => {
    if (config[field] !== undefined && config.mode !== kind)
      throw invalid(
        field,
        sources,
        config[field],
        `only used by mode ${kind}, but mode is ${config.mode}`,
      );
  };
  only('workerListen', 'worker-server');
  only('workerCaDir', 'worker-server');
  only('servers', 'worker');
  only('tokenFile', 'worker');
  only('identityDir', 'worker');
  if (config.join.length > 0 && !SEED_MODES.includes(config.mode)) {
    throw invalid(
      'join',
      sources,
      config.join,
      `only used by mode ${oneOf(SEED_MODES)}, but mode is ${config.mode}; static modes list every member in peers`,
    );
  }
}

/**
 * The node's cluster mode from the flat agent fields: `join` is swim's `seeds` and, for
 * raft-lite, more bootstrap `peers`; `modeOptions` (file only) adds the kind's own settings
 * (`requireQuorum`, `failureThresholdMs`, ...), which createNode validates.
 */
function modeOf(config: z.output<typeof agentConfigSchema>): NodeOptions['mode'] {
  const mode: Record<string, unknown> = { ...config.modeOptions, kind: config.mode };
  if (config.mode === 'swim') mode['seeds'] = config.join;
  if (config.mode === 'static') mode['peers'] = config.peers;
  if (config.mode === 'raft-lite') mode['peers'] = [...new Set([...config.peers, ...config.join])];
  // raft: peers start a new cluster (the initial voters); join asks an existing member to add us.
  if (config.mode === 'raft') {
    mode['peers'] = config.peers;
    mode['join'] = config.join;
  }
  // The worker tier (docs/design/worker-tier.md): servers are Raft voters plus a gRPC listener.
  if (config.mode === 'worker-server') {
    mode['peers'] = config.peers;
    if (config.workerListen !== undefined) mode['workerListen'] = config.workerListen;
    if (config.workerCaDir !== undefined) mode['workerCaDir'] = config.workerCaDir;
  }
  if (config.mode === 'worker') {
    mode['servers'] = config.servers ?? [];
    if (config.tokenFile !== undefined) mode['tokenFile'] = config.tokenFile;
    if (config.identityDir !== undefined) mode['identityDir'] = config.identityDir;
  }
  return mode as NodeOptions['mode'];
}

/**
 * The gossip keys: `keyring` as given, or read from `keyringFile` (one base64 key per line, the
 * first is primary; blank lines and `#` comments ignored). Giving both is ambiguous: refused.
 */
function keyringOf(
  config: z.output<typeof agentConfigSchema>,
  sources: FieldSources,
): string[] | undefined {
  if (config.keyringFile === undefined) return config.keyring;
  if (config.keyring !== undefined) {
    throw invalid(
      'keyringFile',
      sources,
      config.keyringFile,
      `give either keyring (--key) or keyringFile (--keyring-file), not both`,
    );
  }
  let keys: string[];
  try {
    keys = readKeyLines(config.keyringFile);
  } catch (err) {
    throw invalid('keyringFile', sources, config.keyringFile, (err as Error).message);
  }
  const parsed = node.keyring.safeParse(keys);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(
      'keyringFile',
      sources,
      config.keyringFile,
      `line ${Number(issue?.path[0] ?? 0) + 1}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** The default node name: this host's name, cut to the characters names allow. */
export function defaultNodeName(): string {
  return (
    hostname()
      .replace(/[^\w.@-]/g, '-')
      .slice(0, 128) || 'shoal'
  );
}

/** Validates merged raw settings; throws ERR_INVALID_CONFIG naming field, source, value, rule. */
export function validateAgentConfig(
  input: Record<string, unknown>,
  sources: FieldSources = {},
): AgentConfig {
  const parsed = agentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw issue === undefined
      ? new ShoalError('ERR_INVALID_CONFIG', parsed.error.message)
      : describeIssue(issue, input, sources);
  }
  const config = parsed.data;
  checkModeFields(config, sources);
  const keyring = keyringOf(config, sources);
  const admission = admissionOf(config, (field, value, allowed) =>
    invalid(field, sources, value, allowed),
  );
  const name = config.name ?? defaultNodeName();
  const nodeOptions: NodeOptions = {
    name,
    dataDir: config.dataDir ?? join('data', name),
    bind: config.bind,
    mode: modeOf(config),
    clusterId: config.clusterId,
    labels: config.labels,
    profile: config.profile,
    gossipCarrier: config.gossipCarrier,
    ...(config.fsyncDelayMs === 0 ? {} : { fsyncDelayMs: config.fsyncDelayMs }),
    ...(config.advertise === undefined ? {} : { advertise: config.advertise }),
    ...(keyring === undefined ? {} : { keyring }),
    ...(admission === undefined ? {} : { admission }),
    ...(config.eagerPushesMax === undefined ? {} : { eagerPushesMax: config.eagerPushesMax }),
    ...chainOptionsOf(config),
  };
  return {
    node: nodeOptions,
    http: config.http,
    httpToken: config.httpToken,
    logLevel: config.logLevel,
    keyringFile: config.keyringFile,
    admissionCertFile: config.admissionCert,
    sources,
    grpc: grpcEndpointOf(config, (field, value, allowed) =>
      invalid(field, sources, value, allowed),
    ),
  };
}

/**
 * The config with every peer name (`join`, `peers`) resolved to an address (node/addresses.ts),
 * before the node is created; ERR_INVALID_CONFIG names the field, its source and the value of
 * one that is malformed or does not resolve (the CLI exits 2).
 */
export async function resolveAgentAddresses(config: AgentConfig): Promise<AgentConfig> {
  const mode = config.node.mode as {
    kind: string;
    seeds?: string[];
    peers?: string[];
    join?: string[];
  };
  // [agent field, mode field] pairs whose names are resolved.
  const lists: [string, 'seeds' | 'peers' | 'join'][] =
    mode.kind === 'swim'
      ? [['join', 'seeds']]
      : mode.kind === 'raft'
        ? [
            ['peers', 'peers'],
            ['join', 'join'],
          ]
        : [['peers', 'peers']];
  let resolvedMode = { ...mode };
  for (const [field, key] of lists) {
    const list = mode[key];
    if (list === undefined || list.length === 0) continue;
    const from = config.sources?.[field];
    const resolved = await resolvePeerAddresses(
      list,
      familyOf(config.node.advertise ?? config.node.bind ?? ''),
      () => `invalid config: ${field}${from === undefined ? '' : ` (from ${from})`}`,
    );
    resolvedMode = { ...resolvedMode, [key]: resolved };
  }
  return {
    ...config,
    node: { ...config.node, mode: resolvedMode as NodeOptions['mode'] },
  };
}

/**
 * Refuses, before the node starts, an admission policy that would refuse this node itself,
 * naming the agent field and its source (the CLI exits 2); loads or creates the identity.
 */
export async function checkAgentAdmission(config: AgentConfig): Promise<void> {
  const { node } = config;
  await checkOwnAdmission(
    {
      dataDir: node.dataDir,
      clusterId: node.clusterId ?? DEFAULT_CLUSTER_ID,
      admission: node.admission,
    },
    config.admissionCertFile,
    (field, value, allowed) => invalid(field, config.sources ?? {}, value, allowed),
  );
}

/** The agent's flat chain fields as `NodeOptions.chain` (absent when none is set). */
function chainOptionsOf(config: z.output<typeof agentConfigSchema>): Pick<NodeOptions, 'chain'> {
  const chain = {
    ...(config.chainPullIntervalMs === undefined
      ? {}
      : { pullIntervalMs: config.chainPullIntervalMs }),
    ...(config.chainPayloadBytesMax === undefined
      ? {}
      : { payloadBytesMax: config.chainPayloadBytesMax }),
    ...(config.chainEntriesKeptMax === undefined
      ? {}
      : { entriesKeptMax: config.chainEntriesKeptMax }),
  };
  return Object.keys(chain).length === 0 ? {} : { chain };
}
