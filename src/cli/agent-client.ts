/**
 * The CLI's client for an agent's HTTP API: Node's global fetch with a timeout. A refused or
 * timed-out connection is ERR_AGENT_UNREACHABLE with a message that says how to start an
 * agent; an error answer keeps the agent's code and message.
 */
import { splitAddress } from '../base/address.js';
import { ERROR_CODES, ShoalError, type ErrorCode } from '../base/errors.js';
import { DEFAULT_HTTP_ADDRESS } from '../agent/config.js';

/** How long one CLI request may take (a join may wait for the cluster to answer). */
export const AGENT_REQUEST_TIMEOUT_MS = 10_000;

export interface ClientOptions {
  http: string;
  token?: string | undefined;
  timeoutMs?: number;
}

/** The agent address from `--http`, then `SHOAL_HTTP`, then the default. */
export function agentAddress(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const address = flag ?? (env['SHOAL_HTTP'] || DEFAULT_HTTP_ADDRESS);
  if (splitAddress(address) === undefined)
    throw new ShoalError(
      'ERR_INVALID_ARGUMENT',
      `--http ${JSON.stringify(address)}: must be the agent's HTTP address host:port (e.g. ${DEFAULT_HTTP_ADDRESS})`,
    );
  return address;
}

function unreachable(http: string, err: unknown): ShoalError {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const reason = String(cause?.code ?? cause?.message ?? (err as Error).name ?? err);
  return new ShoalError(
    'ERR_AGENT_UNREACHABLE',
    `cannot reach a Shoal agent at http://${http} (${reason}). Is one running? Start one with: shoal agent --http ${http} --name <name> [--join <host:port>], or point at another with --http <host:port>`,
    { cause: err },
  );
}

async function errorOf(response: Response): Promise<ShoalError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code =
      typeof error?.code === 'string' && error.code in ERROR_CODES
        ? (error.code as ErrorCode)
        : 'ERR_AGENT_RESPONSE';
    return new ShoalError(
      code,
      `the agent answered ${response.status}: ${String(error?.message ?? text)}`,
    );
  } catch {
    return new ShoalError(
      'ERR_AGENT_RESPONSE',
      `the agent answered ${response.status} with a body that is not Shoal's JSON: is it a Shoal agent at that address?`,
    );
  }
}

/** One request; resolves to the parsed JSON answer or throws a ShoalError. */
export async function agentRequest<T>(
  options: ClientOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(`http://${options.http}${path}`, {
      method,
      headers,
      signal: AbortSignal.timeout(options.timeoutMs ?? AGENT_REQUEST_TIMEOUT_MS),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw unreachable(options.http, err);
  }
  if (!response.ok) throw await errorOf(response);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ShoalError(
      'ERR_AGENT_RESPONSE',
      `the agent at http://${options.http} answered ${path} with something that is not JSON: is it a Shoal agent?`,
    );
  }
}

export interface AgentCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** A JSON body (sent as application/json), or raw bytes (application/octet-stream). */
  json?: unknown;
  bytes?: Uint8Array;
  signal?: AbortSignal;
}

/**
 * One request whose answer the caller reads itself (raw bytes, a stream, a 404 it expects):
 * the Response when the status is 2xx or in `accept`, else the agent's error as a ShoalError.
 * A refused or timed-out connection is ERR_AGENT_UNREACHABLE.
 */
export async function agentFetch(
  options: ClientOptions,
  call: AgentCall,
  accept: readonly number[] = [],
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (call.json !== undefined) headers['content-type'] = 'application/json';
  if (call.bytes !== undefined) headers['content-type'] = 'application/octet-stream';
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const body =
    call.json !== undefined
      ? JSON.stringify(call.json)
      : call.bytes !== undefined
        ? call.bytes
        : undefined;
  let response: Response;
  try {
    response = await fetch(`http://${options.http}${call.path}`, {
      method: call.method,
      headers,
      signal: call.signal ?? AbortSignal.timeout(options.timeoutMs ?? AGENT_REQUEST_TIMEOUT_MS),
      ...(body === undefined ? {} : { body }),
    });
  } catch (err) {
    throw unreachable(options.http, err);
  }
  if (response.ok || accept.includes(response.status)) return response;
  throw await errorOf(response);
}
