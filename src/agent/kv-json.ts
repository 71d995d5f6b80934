/**
 * The JSON shapes of the agent's replicated-store API (docs/http-api.md, "Replicated store"):
 * keys from URL paths (percent-decoded to bytes, so any key can be named), key-values and txn
 * results rendered with their bytes as UTF-8 text when they are valid UTF-8 and as base64 with
 * `"encoding":"base64"` (`"keyEncoding"` for the key) when they are not, and the txn body schema.
 */
import { z } from 'zod';
import type { KeyValueView, TxnOp, TxnOpResult, TxnSpec, WatchEventView } from '../node/node-kv.js';
import { HttpError } from './http-errors.js';

const strict = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as UTF-8 text, or undefined when they are not valid UTF-8. */
function utf8(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export interface KvJson {
  key: string;
  keyEncoding?: 'base64';
  value?: string;
  encoding?: 'base64';
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: number;
}

/** A key-value as JSON; `withValue` false leaves the value out (a delete event's key-value has none). */
export function kvJson(kv: KeyValueView, withValue = true): KvJson {
  const keyText = utf8(kv.keyBytes);
  const out: KvJson =
    keyText === undefined
      ? ({ key: base64(kv.keyBytes), keyEncoding: 'base64' } as KvJson)
      : ({ key: keyText } as KvJson);
  if (withValue) {
    const valueText = utf8(kv.value);
    if (valueText === undefined) {
      out.value = base64(kv.value);
      out.encoding = 'base64';
    } else out.value = valueText;
  }
  out.createRevision = kv.createRevision;
  out.modRevision = kv.modRevision;
  out.version = kv.version;
  if (kv.lease !== undefined) out.lease = kv.lease;
  return out;
}

export function txnResultJson(result: TxnOpResult): object {
  switch (result.op) {
    case 'put':
      return {
        op: 'put',
        revision: result.revision,
        ...(result.prevKv ? { prevKv: kvJson(result.prevKv) } : {}),
      };
    case 'get':
      return {
        op: 'get',
        kvs: result.kvs.map((kv) => kvJson(kv)),
        more: result.more,
        count: result.count,
      };
    case 'delete':
      return { op: 'delete', deleted: result.deleted, revision: result.revision };
    case 'txn':
      return {
        op: 'txn',
        succeeded: result.succeeded,
        results: result.results.map(txnResultJson),
        revision: result.revision,
      };
  }
}

export function watchEventJson(event: WatchEventView): object {
  return {
    type: event.type,
    kv: kvJson(event.kv, event.type === 'put'),
    revision: event.revision,
    ...(event.prevKv === undefined ? {} : { prevKv: kvJson(event.prevKv) }),
  };
}

/** The bytes of a key named by the URL path after `prefix` (percent-decoded byte by byte). */
export function keyFromPath(url: string, prefix: string): Uint8Array {
  const path = url.split('?')[0] ?? '';
  const raw = path.slice(prefix.length);
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== '%') {
      out.push(...encoder.encode(c));
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex))
      throw new HttpError(
        400,
        'ERR_HTTP_BAD_REQUEST',
        `the key in the path has a bad percent-escape at "${raw.slice(i, i + 3)}"`,
      );
    out.push(Number.parseInt(hex, 16));
    i += 2;
  }
  return Uint8Array.from(out);
}

// ---- txn bodies ----

const text = z.string().max(4 * 1024 * 1024);
const revisionNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const target = z.enum(['version', 'createRevision', 'modRevision', 'lease']);
const compareOp = z.enum(['=', '!=', '<', '>']);

const compareSchema = z.union([
  z.object({ key: text, target: z.literal('value'), op: compareOp, value: text }).strict(),
  z.object({ key: text, target, op: compareOp, value: revisionNumber }).strict(),
]);

/** How many ops one branch may list in a body (the store refuses beyond txnOpsMax anyway). */
export const TXN_BODY_OPS_MAX = 1024;

type OpBody =
  | {
      op: 'put';
      key: string;
      value: string;
      lease?: number | undefined;
      prevKv?: boolean | undefined;
    }
  | {
      op: 'get' | 'delete';
      key?: string | undefined;
      prefix?: string | undefined;
      start?: string | undefined;
      end?: string | undefined;
      limit?: number | undefined;
    }
  | { op: 'txn'; txn: TxnBody };

export interface TxnBody {
  compare?: z.infer<typeof compareSchema>[] | undefined;
  success?: OpBody[] | undefined;
  failure?: OpBody[] | undefined;
  encoding?: 'utf8' | 'base64' | undefined;
}

const opSchema: z.ZodType<OpBody> = z.lazy(() =>
  z.union([
    z
      .object({
        op: z.literal('put'),
        key: text,
        value: text,
        lease: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
        prevKv: z.boolean().optional(),
      })
      .strict(),
    z
      .object({
        op: z.enum(['get', 'delete']),
        key: text.optional(),
        prefix: text.optional(),
        start: text.optional(),
        end: text.optional(),
        limit: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      })
      .strict(),
    z.object({ op: z.literal('txn'), txn: txnSchema }).strict(),
  ]),
);

export const txnSchema: z.ZodType<TxnBody> = z.lazy(() =>
  z
    .object({
      compare: z.array(compareSchema).max(TXN_BODY_OPS_MAX).optional(),
      success: z.array(opSchema).max(TXN_BODY_OPS_MAX).optional(),
      failure: z.array(opSchema).max(TXN_BODY_OPS_MAX).optional(),
      encoding: z.enum(['utf8', 'base64']).optional(),
    })
    .strict(),
);

/** The bytes a body's text stands for under `encoding`. */
function bytesOf(value: string, encoding: TxnBody['encoding']): string | Uint8Array {
  if (encoding !== 'base64') return value;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `${JSON.stringify(value.slice(0, 40))} is not base64 (the body says "encoding":"base64")`,
    );
  return Uint8Array.from(Buffer.from(value, 'base64'));
}

function opOf(body: OpBody, encoding: TxnBody['encoding']): TxnOp {
  if (body.op === 'txn') return { op: 'txn', txn: txnSpecOf({ encoding, ...body.txn }) };
  if (body.op === 'put')
    return {
      op: 'put',
      key: bytesOf(body.key, encoding),
      value: bytesOf(body.value, encoding),
      ...(body.lease === undefined ? {} : { lease: body.lease }),
      ...(body.prevKv === undefined ? {} : { prevKv: body.prevKv }),
    };
  const named = [body.key, body.prefix, body.start].filter((v) => v !== undefined).length;
  if (named !== 1)
    throw new HttpError(
      400,
      'ERR_HTTP_BAD_REQUEST',
      `a ${body.op} op names exactly one of key, prefix or start (with an optional end)`,
    );
  const range =
    body.key !== undefined
      ? { key: bytesOf(body.key, encoding) }
      : body.prefix !== undefined
        ? { prefix: bytesOf(body.prefix, encoding) }
        : {
            start: bytesOf(body.start as string, encoding),
            ...(body.end === undefined ? {} : { end: bytesOf(body.end, encoding) }),
          };
  if (body.op === 'delete') return { op: 'delete', ...range };
  return { op: 'get', ...range, ...(body.limit === undefined ? {} : { limit: body.limit }) };
}

/** A parsed txn body as node.kv's TxnSpec. */
export function txnSpecOf(body: TxnBody): TxnSpec {
  const encoding = body.encoding;
  return {
    compare: (body.compare ?? []).map((c) =>
      c.target === 'value'
        ? {
            key: bytesOf(c.key, encoding),
            target: 'value',
            op: c.op,
            value: bytesOf(c.value, encoding),
          }
        : { key: bytesOf(c.key, encoding), target: c.target, op: c.op, value: c.value },
    ),
    success: (body.success ?? []).map((op) => opOf(op, encoding)),
    failure: (body.failure ?? []).map((op) => opOf(op, encoding)),
  };
}
