/**
 * The three sources of agent settings, in increasing precedence: a YAML config file, `SHOAL_*`
 * environment variables, command-line flags. Each is read into a raw layer (field -> value, and
 * field -> where it came from); `resolveAgentConfig` merges them (later layers win, `labels`
 * merge key by key) and hands the result to the one validator in config.ts.
 *
 * Env names are derived from the field names: `dataDir` -> `SHOAL_DATA_DIR`. Lists in env vars
 * are comma-separated (`SHOAL_JOIN=a:1,b:2`), labels are `k=v,k=v`. Unknown `SHOAL_*` variables
 * are ignored (other tools share the prefix, e.g. the CLI's `SHOAL_HTTP_TOKEN`); unknown fields
 * in the file or bad `k=v` labels are refused with ERR_INVALID_CONFIG.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ShoalError } from '../base/errors.js';
import { FORBIDDEN_KEYS, findForbiddenKey } from '../node/options.js';
import { ADMISSION_LIST_FIELDS } from './admission-config.js';
import { HTTP_JSON_DEPTH_MAX, nestsDeeperThan } from './json-body.js';
import {
  AGENT_CONFIG_FIELDS,
  showValue,
  validateAgentConfig,
  type AgentConfig,
  type FieldSources,
} from './config.js';

export interface ConfigLayer {
  values: Record<string, unknown>;
  sources: FieldSources;
}

const LIST_FIELDS = new Set<string>([
  'join',
  'peers',
  'keyring',
  'servers',
  ...ADMISSION_LIST_FIELDS,
]);
/** Flags whose name differs from the field they set (repeatable flags are singular). */
const FLAG_FIELDS: Record<string, string> = { label: 'labels', key: 'keyring' };
const FIELD_FLAGS: Record<string, string> = { labels: '--label', keyring: '--key' };

/** `dataDir` -> `SHOAL_DATA_DIR`. */
export function envNameOf(field: string): string {
  return `SHOAL_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** `dataDir` -> `--data-dir`. */
function flagNameOf(field: string): string {
  return FIELD_FLAGS[field] ?? `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function badConfig(field: string, source: string, value: unknown, allowed: string): ShoalError {
  return new ShoalError(
    'ERR_INVALID_CONFIG',
    `invalid config: ${field} (from ${source}) ${showValue(value)}: ${allowed}`,
  );
}

/** Parses `k=v` entries into a label map; a missing `=`, an empty key or `__proto__` is refused. */
export function parseLabels(entries: readonly string[], source: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0)
      throw badConfig('labels', source, entry, 'each label must be key=value with a non-empty key');
    const key = entry.slice(0, at);
    if (FORBIDDEN_KEYS.includes(key))
      throw badConfig('labels', source, entry, `the key "${key}" could set an object's prototype`);
    labels[key] = entry.slice(at + 1);
  }
  return labels;
}

/**
 * Aliases a config file may expand (yaml's `maxAliasCount`): enough for a shared label block,
 * far too few for a "billion laughs" expansion. @defaultValue 32
 */
export const CONFIG_ALIAS_COUNT_MAX = 32;

/** The path of a value that contains itself (a YAML alias inside its own anchor), or undefined. */
function findCycle(value: unknown, path: string, ancestors: unknown[]): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (ancestors.includes(value)) return path;
  if (ancestors.length > HTTP_JSON_DEPTH_MAX) return undefined;
  ancestors.push(value);
  for (const [key, child] of Object.entries(value)) {
    const found = findCycle(child, path === '' ? key : `${path}.${key}`, ancestors);
    if (found !== undefined) return found;
  }
  ancestors.pop();
  return undefined;
}

/** The document of a config file; a cycle, a `__proto__` key or deep nesting is refused. */
function parseConfigYaml(text: string, path: string): unknown {
  const refuse = (why: string): ShoalError =>
    new ShoalError('ERR_INVALID_CONFIG', `invalid config: config file ${path} ${why}`);
  let values: unknown;
  try {
    const doc = parseDocument(text, { uniqueKeys: true });
    const first = doc.errors[0];
    if (first !== undefined) throw first;
    values = doc.toJS({ maxAliasCount: CONFIG_ALIAS_COUNT_MAX }) ?? {};
  } catch (err) {
    // The parser recurses per level; it reports the overflow as a RangeError or a parse error.
    if (err instanceof RangeError || /Maximum call stack/.test((err as Error).message))
      throw refuse(`nests too deeply to parse (over ${HTTP_JSON_DEPTH_MAX} levels is refused)`);
    const line = (err as Error).message.split('\n')[0] ?? '';
    throw refuse(`is not valid YAML: ${line.replace(/:$/, '')}`);
  }
  const cycle = findCycle(values, '', []);
  if (cycle !== undefined)
    throw refuse(
      `has an alias cycle: ${cycle} refers back to a node that contains it; an alias may not contain itself`,
    );
  const forbidden = findForbiddenKey(values);
  if (forbidden !== undefined)
    throw refuse(`has the key ${forbidden}, refused: it could set an object's prototype`);
  if (nestsDeeperThan(values, HTTP_JSON_DEPTH_MAX))
    throw refuse(`nests deeper than ${HTTP_JSON_DEPTH_MAX} levels`);
  return values;
}

/** Reads the YAML config file; a missing, unreadable or non-mapping file is a config error. */
export function fileLayer(path: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid config: config file ${path} cannot be read (${String((err as { code?: unknown }).code ?? err)})`,
    );
  }
  const values = parseConfigYaml(text, path);
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ShoalError(
      'ERR_INVALID_CONFIG',
      `invalid config: config file ${path} must be a YAML mapping of field: value (fields: ${AGENT_CONFIG_FIELDS.join(', ')})`,
    );
  }
  const record = values as Record<string, unknown>;
  return { values: record, sources: Object.fromEntries(Object.keys(record).map((k) => [k, path])) };
}

/** Reads every known field's `SHOAL_*` variable. */
export function envLayer(env: Readonly<Record<string, string | undefined>>): ConfigLayer {
  const layer: ConfigLayer = { values: {}, sources: {} };
  for (const field of AGENT_CONFIG_FIELDS) {
    const name = envNameOf(field);
    const text = env[name];
    if (text === undefined || text === '') continue;
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    layer.values[field] =
      field === 'labels' ? parseLabels(items, name) : LIST_FIELDS.has(field) ? items : text;
    layer.sources[field] = name;
  }
  return layer;
}

/** The flags commander parsed (camelCase keys); `config` names the file and is not a field. */
export function flagLayer(flags: Readonly<Record<string, unknown>>): ConfigLayer {
  const layer: ConfigLayer = { values: {}, sources: {} };
  for (const [key, value] of Object.entries(flags)) {
    if (key === 'config' || value === undefined) continue;
    const field = FLAG_FIELDS[key] ?? key;
    layer.values[field] = field === 'labels' ? parseLabels(value as string[], '--label') : value;
    layer.sources[field] = flagNameOf(field);
  }
  return layer;
}

/** Merges layers, later ones winning; `labels` merge key by key. */
export function mergeLayers(layers: readonly ConfigLayer[]): ConfigLayer {
  const merged: ConfigLayer = { values: {}, sources: {} };
  for (const layer of layers) {
    for (const [field, value] of Object.entries(layer.values)) {
      const previous = merged.values[field];
      const mergeable = field === 'labels' && isPlainObject(previous) && isPlainObject(value);
      merged.values[field] = mergeable ? { ...previous, ...value } : value;
      merged.sources[field] = layer.sources[field];
    }
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads file (from `--config` or `SHOAL_CONFIG`), env and flags, then validates once. */
export function resolveAgentConfig(
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): AgentConfig {
  const file = (flags['config'] as string | undefined) ?? env['SHOAL_CONFIG'];
  const layers = [
    ...(file === undefined || file === '' ? [] : [fileLayer(file)]),
    envLayer(env),
    flagLayer(flags),
  ];
  const merged = mergeLayers(layers);
  return validateAgentConfig(merged.values, merged.sources);
}
