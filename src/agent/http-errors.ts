/**
 * Error answers of the agent's HTTP API: every 4xx/5xx is `{"error":{"code","message"}}` with a
 * code from the ERROR_CODES registry (docs/errors.md). Fastify's own request errors (bad JSON,
 * wrong content type, body too large) are mapped here so a malformed request is a readable 400,
 * never a crash, and errors thrown by the node map by code to a fitting status.
 */
import { ShoalError, type ErrorCode } from '../base/errors.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** An error that carries its HTTP status. */
export class HttpError extends ShoalError {
  constructor(
    readonly statusCode: number,
    code: ErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** HTTP status for an error a node operation threw, by its ShoalError code. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  ERR_INVALID_ARGUMENT: 400,
  ERR_INVALID_CONFIG: 400,
  ERR_TRANSPORT_ADDRESS: 400,
  ERR_HTTP_BAD_REQUEST: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_NOT_FOUND: 404,
  ERR_HTTP_BODY_TOO_LARGE: 413,
  ERR_JOIN_FAILED: 502,
  ERR_TRANSPORT_CLOSED: 503,
  // The replicated store (mode raft; docs/http-api.md, "Replicated store").
  ERR_CAS_FAILED: 409,
  ERR_TOO_LARGE: 413,
  ERR_TOO_MANY_OPS: 400,
  ERR_DUPLICATE_KEY: 400,
  ERR_KEY_NOT_FOUND: 404,
  ERR_COMPACTED: 410,
  ERR_FUTURE_REVISION: 400,
  ERR_LEASE_NOT_FOUND: 404,
  ERR_LEASE_EXISTS: 409,
  ERR_LEASE_TTL_TOO_LARGE: 400,
  ERR_TOO_MANY_LEASES: 503,
  ERR_TOO_MANY_WATCHERS: 503,
  ERR_SESSION_STALE: 409,
  ERR_SESSION_EXPIRED: 409,
  ERR_CHANGE_PENDING: 409,
  ERR_NO_LEADER: 503,
  ERR_NOT_LEADER: 503,
  ERR_QUEUE_FULL: 503,
  ERR_TIMEOUT: 504,
  ERR_ABORTED: 503,
  // The worker tier's reserved prefix (worker-server mode; docs/design/worker-tier.md).
  ERR_RESERVED_KEY: 403,
};

/** Seconds a client should wait before retrying, for the answers that say "not now" (503s). */
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = {
  ERR_NO_LEADER: 1,
  ERR_NOT_LEADER: 1,
  ERR_QUEUE_FULL: 1,
  ERR_TOO_MANY_WATCHERS: 5,
  ERR_TOO_MANY_LEASES: 5,
};

/** The Retry-After of an error answer with `code`, when it has one. */
export function retryAfterSeconds(code: ErrorCode): number | undefined {
  return RETRY_AFTER_SECONDS[code];
}

/** Maps anything thrown while handling a request to a status and a body; unknown errors are 500s. */
export function toErrorAnswer(err: unknown): { statusCode: number; body: ErrorBody } {
  if (err instanceof HttpError)
    return {
      statusCode: err.statusCode,
      body: { error: { code: err.code, message: err.message } },
    };
  const fastifyStatus = (err as { statusCode?: unknown }).statusCode;
  const code = (err as { code?: unknown }).code;
  const message = (err as { message?: unknown }).message;
  const text = typeof message === 'string' ? message : String(err);
  if (
    typeof code === 'string' &&
    code.startsWith('FST_') &&
    typeof fastifyStatus === 'number' &&
    fastifyStatus < 500
  ) {
    const tooLarge = fastifyStatus === 413;
    return {
      statusCode: fastifyStatus,
      body: {
        error: {
          code: tooLarge ? 'ERR_HTTP_BODY_TOO_LARGE' : 'ERR_HTTP_BAD_REQUEST',
          message: text,
        },
      },
    };
  }
  if (err instanceof ShoalError)
    return {
      statusCode: STATUS_BY_CODE[err.code] ?? 500,
      body: { error: { code: err.code, message: text } },
    };
  return {
    statusCode: 500,
    body: {
      error: {
        code: 'ERR_INTERNAL',
        message: 'internal error while handling the request; see the agent log',
      },
    },
  };
}
