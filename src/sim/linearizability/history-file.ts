/**
 * The JSON history file: how a history recorded by real processes (a bench client against etcd,
 * later against Shoal) or by the simulator is saved and handed to `npm run lincheck -- FILE`.
 *
 * ```json
 * { "format": "shoal-history", "version": 1, "model": "kv", "source": "etcd 3.4, 3 members",
 *   "operations": [
 *     { "clientId": 0, "input": { "kind": "put", "key": "x", "value": "1" },
 *       "callMs": 10.25, "returnMs": 11.5, "output": { "revision": 7 } },
 *     { "clientId": 1, "input": { "kind": "get", "key": "x" }, "callMs": 12 } ] }
 * ```
 *
 * Times are milliseconds (fractions allowed) on one clock shared by every client; an operation
 * without `returnMs` and `output` timed out or lost its client. Inputs and outputs are those of
 * the kv model (kv-model.ts). Unknown fields are errors, so a typo cannot silently weaken a
 * check. Everything is validated before the checker sees it; a bad file is refused with
 * ERR_HISTORY_INVALID naming the operation and the field, and nothing is checked.
 */
import { z } from 'zod';
import { ShoalError } from '../../base/errors.js';
import { validateOperations } from './check.js';
import type { KvInput, KvOutput } from './kv-model.js';
import type { Operation } from './model.js';

export const HISTORY_FORMAT = 'shoal-history';
export const HISTORY_VERSION = 1;
/** Operations in one history file. @defaultValue 1_000_000 */
export const HISTORY_OPERATIONS_MAX = 1_000_000;
/** Bytes of one history file. @defaultValue 512 MiB */
export const HISTORY_FILE_BYTES_MAX = 512 * 1024 * 1024;
/** Characters of one key or value. @defaultValue 65_536 */
export const HISTORY_STRING_CHARS_MAX = 65_536;

export interface KvHistory {
  readonly model: 'kv';
  /** Where the history came from, free text. */
  readonly source?: string;
  readonly operations: readonly Operation<KvInput, KvOutput>[];
}

const text = z.string().max(HISTORY_STRING_CHARS_MAX);
const revision = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const time = z.number().finite();

const inputSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('get'), key: text }).strict(),
  z.object({ kind: z.literal('put'), key: text, value: text }).strict(),
  z.object({ kind: z.literal('delete'), key: text }).strict(),
  z
    .object({
      kind: z.literal('cas'),
      key: text,
      compare: z.discriminatedUnion('target', [
        z.object({ target: z.literal('value'), value: text.nullable() }).strict(),
        z.object({ target: z.literal('modRevision'), modRevision: revision }).strict(),
      ]),
      value: text.nullable(),
    })
    .strict(),
]);

/** The output fields each input kind may carry (the rest are refused). */
const outputSchemas = {
  get: z.object({ value: text.nullable(), modRevision: revision.optional() }).strict(),
  put: z.object({ revision: revision.optional() }).strict(),
  delete: z
    .object({
      deleted: z.union([z.literal(0), z.literal(1)]).optional(),
      revision: revision.optional(),
    })
    .strict(),
  cas: z.object({ succeeded: z.boolean(), revision: revision.optional() }).strict(),
} as const;

const operationSchema = z
  .object({
    clientId: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    input: inputSchema,
    callMs: time,
    returnMs: time.optional(),
    output: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    format: z.literal(HISTORY_FORMAT),
    version: z.literal(HISTORY_VERSION),
    model: z.literal('kv'),
    source: text.optional(),
    operations: z.array(z.unknown()).max(HISTORY_OPERATIONS_MAX),
  })
  .strict();

function invalid(message: string): ShoalError {
  return new ShoalError('ERR_HISTORY_INVALID', message);
}

function describeIssue(where: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return `${where}: invalid`;
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return `${where}${path}: ${issue.message}`;
}

function parseOperation(raw: unknown, index: number): Operation<KvInput, KvOutput> {
  const where = `operations[${index}]`;
  const parsed = operationSchema.safeParse(raw);
  if (!parsed.success) throw invalid(describeIssue(where, parsed.error));
  const { clientId, input, callMs, returnMs, output } = parsed.data;
  if (output === undefined)
    return returnMs === undefined
      ? { clientId, input, callMs }
      : { clientId, input, callMs, returnMs };
  const checked = outputSchemas[input.kind].safeParse(output);
  if (!checked.success) throw invalid(describeIssue(`${where}.output`, checked.error));
  const out = Object.fromEntries(
    Object.entries(checked.data).filter(([, v]) => v !== undefined),
  ) as KvOutput;
  return returnMs === undefined
    ? { clientId, input, callMs, output: out }
    : { clientId, input, callMs, returnMs, output: out };
}

/** Parses and validates a history file's text; throws ERR_HISTORY_INVALID naming what is wrong. */
export function parseHistoryFile(textContent: string): KvHistory {
  if (textContent.length > HISTORY_FILE_BYTES_MAX)
    throw invalid(
      `the file is larger than HISTORY_FILE_BYTES_MAX (${HISTORY_FILE_BYTES_MAX} bytes)`,
    );
  let json: unknown;
  try {
    json = JSON.parse(textContent);
  } catch (err) {
    throw invalid(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const file = fileSchema.safeParse(json);
  if (!file.success) throw invalid(describeIssue('history', file.error));
  const operations = file.data.operations.map(parseOperation);
  validateOperations(operations);
  return file.data.source === undefined
    ? { model: 'kv', operations }
    : { model: 'kv', source: file.data.source, operations };
}

/** Whether any operation records a revision: the kv model then checks revisions. */
export function recordsRevisions(operations: readonly Operation<KvInput, KvOutput>[]): boolean {
  return operations.some(
    (op) =>
      op.output?.revision !== undefined ||
      op.output?.modRevision !== undefined ||
      (op.input.kind === 'cas' && op.input.compare.target === 'modRevision'),
  );
}

/** The file's text: one operation per line, so histories diff and grep well. */
export function formatHistoryFile(history: KvHistory): string {
  const head = {
    format: HISTORY_FORMAT,
    version: HISTORY_VERSION,
    model: history.model,
    ...(history.source === undefined ? {} : { source: history.source }),
  };
  const ops = history.operations.map((op) => `    ${JSON.stringify(op)}`).join(',\n');
  const headText = JSON.stringify(head).slice(0, -1);
  return `${headText},\n  "operations": [\n${ops}\n  ]\n}\n`;
}
