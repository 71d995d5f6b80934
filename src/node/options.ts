/**
 * `createNode` options (INTERFACE.md, "Library"): the schema, its defaults and the one place
 * they are validated. A bad value throws ShoalError ERR_INVALID_CONFIG naming the field, the
 * value and what is allowed; the CLI maps that to exit status 2.
 */
import { z } from 'zod';
import { splitAddress } from '../base/address.js';
import { ShoalError } from '../base/errors.js';
import { LIMITS } from '../base/limits.js';
import { raftLiteConfig } from '../election/raft-lite/config.js';
import { staticConfig } from '../election/static/config.js';
import { ADMISSION_ENTRIES_MAX, admissionPolicy, CA_KEYS_MAX } from './admission.js';

const address = z.string().refine((s) => splitAddress(s) !== undefined, {
  message: 'must be host:port (e.g. 127.0.0.1:7946 or [::1]:7946) with a port in 0..65535',
});

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
    bind: address.default('127.0.0.1:7946'),
    /** The address peers should use, when it differs from `bind` (NAT, 0.0.0.0 binds). */
    advertise: address.optional(),
    mode: modeSchema,
    clusterId: z
      .string()
      .min(1)
      .max(LIMITS.clusterIdBytesMax)
      .regex(/^[\w.-]+$/, 'must be letters, digits, . _ -')
      .default('default'),
    keyring: z.array(base64Key).min(1).max(LIMITS.keyringKeysMax).optional(),
    labels: z
      .record(z.string(), z.string())
      .refine((labels) => Object.keys(labels).every((k) => !k.startsWith(RESERVED_LABEL_PREFIX)), {
        message: `label keys starting with "${RESERVED_LABEL_PREFIX}" are reserved for Shoal's own use (leader claims)`,
      })
      .default({}),
    profile: z.enum(['lan', 'wan', 'local']).default('lan'),
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
  const shown = value === undefined ? 'missing' : JSON.stringify(value);
  return `${field} (${shown}): ${issue.message}`;
}

export function resolveNodeOptions(input: unknown): ResolvedNodeOptions {
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

/** Admission entries and the certificate decode; admission needs gossip membership (swim). */
function checkAdmission(options: ResolvedNodeOptions): void {
  if (options.admission === undefined) return;
  if (options.mode.kind !== 'swim')
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid node option admission: it applies to swim mode (gossip membership), not ${options.mode.kind}`,
    );
  admissionPolicy(options.admission, options.clusterId);
}

/**
 * The mode's protocol config, resolved once here so that a bad combination (a heartbeat longer
 * than half the failure threshold, ...) is refused before anything is bound or written. Each
 * protocol's config function owns its defaults and rules; the wiring calls the same function.
 */
function checkModeConfig(mode: ResolvedNodeOptions['mode']): void {
  if (mode.kind === 'static') staticConfig(mode, new Set(mode.peers).size);
  if (mode.kind === 'raft-lite') raftLiteConfig(mode);
}
