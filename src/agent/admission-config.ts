/**
 * The agent's admission settings (docs/security.md, "Admission"; docs/cli.md): who may be a
 * member of a `swim` cluster beyond the cluster id, as flags, `SHOAL_*` variables and config-file
 * fields, mapped onto createNode's `admission` option.
 *
 * | field | flag | value |
 * | --- | --- | --- |
 * | `admissionAllow` | `--admission-allow ID|KEY ...` | NodeIds or base64 public keys admitted by name |
 * | `admissionDeny` | `--admission-deny ID|KEY ...` | revoked, whatever else admits them |
 * | `admissionCa` | `--admission-ca FILE ...` | files of cluster CA public keys (`ca.pub` of `shoal ca create`), one per line |
 * | `admissionCert` | `--admission-cert FILE` | this node's certificate (`shoal ca sign`) |
 *
 * Files are read here, so a missing or malformed one is an exit-2 error naming the field. A
 * certificate needs a CA to check it (without one the node would admit everyone while looking
 * protected). Whether the policy admits the node itself needs its key: `checkOwnAdmission`
 * runs before createNode, so that error names the field too.
 */
import { z } from 'zod';
import type { ShoalError } from '../base/errors.js';
import { loadOrCreateIdentity } from '../identity/identity.js';
import { publicKeyHex } from '../identity/member-crypto.js';
import {
  ADMISSION_ENTRIES_MAX,
  admissionCheck,
  admissionEntryId,
  admissionPolicy,
  CA_KEYS_MAX,
  keyFromBase64,
  ownAdmissionRefusal,
  parseNodeCertificate,
  type AdmissionOptions,
} from '../node/admission.js';
import { readKeyLines, readTrimmed } from './key-files.js';

const entries = z
  .array(
    z.string().refine((entry) => admissionEntryId(entry) !== undefined, {
      message:
        'must be a NodeId (32 lowercase hex) or a base64 Ed25519 public key (44 characters; `shoal identity --json` prints both)',
    }),
  )
  .max(ADMISSION_ENTRIES_MAX);

/** The schema fields (config.ts spreads them into the agent schema). */
export const admissionConfigFields = {
  admissionAllow: entries.optional(),
  admissionDeny: entries.optional(),
  admissionCa: z.array(z.string().min(1)).min(1).max(CA_KEYS_MAX).optional(),
  admissionCert: z.string().min(1).optional(),
};

type AdmissionFields = {
  [K in keyof typeof admissionConfigFields]?: z.output<(typeof admissionConfigFields)[K]>;
};

/** Builds the ERR_INVALID_CONFIG naming a field, its source and value (config.ts `invalid`). */
export type InvalidField = (field: string, value: unknown, allowed: string) => ShoalError;

/** Fields that are lists of strings in `SHOAL_*` variables (comma-separated). */
export const ADMISSION_LIST_FIELDS = ['admissionAllow', 'admissionDeny', 'admissionCa'] as const;

/** The CA public keys (base64) in the `admissionCa` files. */
function caKeysOf(files: readonly string[], invalid: InvalidField): string[] {
  const keys: string[] = [];
  for (const file of files) {
    let lines: string[];
    try {
      lines = readKeyLines(file);
    } catch (err) {
      throw invalid('admissionCa', file, (err as Error).message);
    }
    if (lines.length === 0)
      throw invalid('admissionCa', file, 'holds no key (one base64 public key per line)');
    for (const [i, line] of lines.entries()) {
      if (keyFromBase64(line) === undefined)
        throw invalid(
          'admissionCa',
          file,
          `line ${i + 1} is not a base64 Ed25519 public key (the ca.pub of shoal ca create; never the private ca.key)`,
        );
      keys.push(line);
    }
  }
  if (keys.length > CA_KEYS_MAX)
    throw invalid('admissionCa', files, `holds ${keys.length} keys; at most ${CA_KEYS_MAX}`);
  return keys;
}

/** The certificate text in the `admissionCert` file, decoded and for this cluster. */
function certificateOf(file: string, clusterId: string, invalid: InvalidField): string {
  let text: string;
  try {
    text = readTrimmed(file);
  } catch (err) {
    throw invalid('admissionCert', file, (err as Error).message);
  }
  let clusterOf: string;
  try {
    clusterOf = parseNodeCertificate(text).clusterId;
  } catch (err) {
    const why = (err as Error).message.replace(/^invalid node option admission: /, '');
    throw invalid('admissionCert', file, `${why} (write one with shoal ca sign)`);
  }
  if (clusterOf !== clusterId)
    throw invalid(
      'admissionCert',
      file,
      `certifies a member of cluster ${JSON.stringify(clusterOf)}, but clusterId is ${JSON.stringify(clusterId)}`,
    );
  return text;
}

/** createNode's `admission` option from the agent fields, or undefined when none is set. */
export function admissionOf(
  config: AdmissionFields & { mode: string; clusterId: string },
  invalid: InvalidField,
): AdmissionOptions | undefined {
  const given = (
    ['admissionAllow', 'admissionDeny', 'admissionCa', 'admissionCert'] as const
  ).filter((field) => config[field] !== undefined);
  const first = given[0];
  if (first === undefined) return undefined;
  if (config.mode !== 'swim')
    throw invalid(
      first,
      config[first],
      `admission applies to mode swim, but mode is ${config.mode}`,
    );
  if (config.admissionCert !== undefined && config.admissionCa === undefined)
    throw invalid(
      'admissionCert',
      config.admissionCert,
      'given without admissionCa (--admission-ca): give the CA public key that checks certificates, or this node admits everyone',
    );
  const ca = config.admissionCa === undefined ? undefined : caKeysOf(config.admissionCa, invalid);
  const certificate =
    config.admissionCert === undefined
      ? undefined
      : certificateOf(config.admissionCert, config.clusterId, invalid);
  return {
    allow: config.admissionAllow,
    deny: config.admissionDeny,
    ca,
    certificate,
  };
}

/** The agent field each part of createNode's `admission` option comes from. */
const FIELD_OF = { allow: 'admissionAllow', deny: 'admissionDeny', certificate: 'admissionCert' };

/**
 * Refuses a policy that would refuse this node itself (a certificate for another key, expired,
 * or none where one is needed; its own id denied), naming the agent field. Loads (or creates)
 * the node's identity, as createNode would a moment later. `certificateFile` is shown as the
 * certificate's value.
 */
export async function checkOwnAdmission(
  node: { dataDir: string; clusterId: string; admission?: AdmissionOptions | undefined },
  certificateFile: string | undefined,
  invalid: InvalidField,
): Promise<void> {
  const { admission, clusterId, dataDir } = node;
  if (admission === undefined) return;
  const identity = await loadOrCreateIdentity(dataDir);
  const policy = admissionPolicy(admission, clusterId);
  const refusal = ownAdmissionRefusal(policy, admissionCheck(policy, clusterId, Date.now), {
    id: identity.nodeId,
    publicKey: publicKeyHex(identity),
  });
  if (refusal === undefined) return;
  const value = refusal.field === 'certificate' ? certificateFile : admission[refusal.field];
  const hint =
    refusal.field === 'deny'
      ? ''
      : `; certify this node with shoal ca sign --data-dir ${dataDir} --cluster-id ${clusterId} and give it --admission-cert, or add ${identity.nodeId} to --admission-allow`;
  throw invalid(FIELD_OF[refusal.field], value, `${refusal.reason}${hint}`);
}
