/**
 * Raw gRPC clients of the etcd endpoint for its own tests, built from the same protocol
 * definitions, so a test can send exactly the message it means (edge values, wrong ids, raw
 * bytes that do not parse) and see every response of a stream in order. Every call has a
 * deadline; every stream is bounded by the waits below.
 */
import {
  credentials as grpcCredentials,
  loadPackageDefinition,
  makeGenericClientConstructor,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { etcdPackage, type ServiceName } from '../../src/etcd/proto.js';
import { waitFor } from '../helpers/wait.js';

/** Deadline of one unary call in these tests. */
export const CALL_DEADLINE_MS = 10_000;

type Unary = (
  request: object,
  options: { deadline: number },
  callback: (err: ServiceError | null, response: Record<string, unknown>) => void,
) => void;

type ServiceClient = Client & Record<string, unknown>;

export function serviceClient(
  address: string,
  service: ServiceName,
  creds: ChannelCredentials = grpcCredentials.createInsecure(),
): ServiceClient {
  const pkg = loadPackageDefinition(etcdPackage()) as unknown as {
    etcdserverpb: Record<string, new (address: string, creds: ChannelCredentials) => ServiceClient>;
  };
  const ctor = pkg.etcdserverpb[service];
  if (ctor === undefined) throw new Error(`no service ${service}`);
  return new ctor(address, creds);
}

export interface CallResult {
  readonly error: ServiceError | null;
  readonly response: Record<string, unknown> | undefined;
}

/** One unary call; resolves with the error or the response (never rejects). */
export function call(
  client: ServiceClient,
  method: string,
  request: object,
  deadlineMs = CALL_DEADLINE_MS,
): Promise<CallResult> {
  const fn = client[method] as Unary | undefined;
  if (typeof fn !== 'function') throw new Error(`no method ${method}`);
  return new Promise((resolve) =>
    fn.call(client, request, { deadline: Date.now() + deadlineMs }, (error, response) =>
      resolve({ error, response: error === null ? response : undefined }),
    ),
  );
}

/** A unary call that must succeed. */
export async function ok(
  client: ServiceClient,
  method: string,
  request: object,
): Promise<Record<string, unknown>> {
  const { error, response } = await call(client, method, request);
  if (error !== null) throw new Error(`${method} failed: ${error.code} ${error.details}`);
  return response ?? {};
}

/** Sends raw bytes to `path` (`/etcdserverpb.KV/Range`) and returns the status. */
export function rawCall(
  address: string,
  path: string,
  bytes: Buffer,
): Promise<ServiceError | null> {
  const Ctor = makeGenericClientConstructor(
    {
      raw: {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    'raw',
  );
  const client = new Ctor(address, grpcCredentials.createInsecure()) as unknown as Client & {
    raw: (b: Buffer, o: object, cb: (e: ServiceError | null) => void) => void;
  };
  return new Promise((resolve) =>
    client.raw(bytes, { deadline: Date.now() + CALL_DEADLINE_MS }, (err) => {
      client.close();
      resolve(err);
    }),
  );
}

/** A bidirectional stream whose responses and end status are recorded in order. */
export interface RecordedStream {
  readonly responses: Record<string, unknown>[];
  /** Set when the stream ended: null for OK. */
  readonly ended: () => ServiceError | null | undefined;
  write(request: object): void;
  /** Waits (bounded) until `check(responses)` holds. */
  until(check: (responses: Record<string, unknown>[]) => boolean, what: string): Promise<void>;
  /** Waits (bounded) for the stream to end; its error (null for OK). */
  end(): Promise<ServiceError | null>;
  /** The client is done sending (half-close). */
  halfClose(): void;
  cancel(): void;
}

export function openStream(client: ServiceClient, method: string): RecordedStream {
  const open = client[method] as
    ((options: object) => ClientDuplexStream<object, object>) | undefined;
  if (typeof open !== 'function') throw new Error(`no method ${method}`);
  const stream = open.call(client, {});
  const responses: Record<string, unknown>[] = [];
  let ended: ServiceError | null | undefined;
  stream.on('data', (r: Record<string, unknown>) => responses.push(r));
  stream.on('error', (err: ServiceError) => (ended ??= err));
  stream.on('status', (s: { code: number }) => {
    if (s.code === 0) ended ??= null;
  });
  return {
    responses,
    ended: () => ended,
    write: (request) => stream.write(request),
    until: (check, what) =>
      waitFor(
        () => check(responses),
        CALL_DEADLINE_MS,
        () => `${what}; got ${JSON.stringify(responses)}`,
      ),
    async end() {
      await waitFor(() => ended !== undefined, CALL_DEADLINE_MS, 'the stream ends');
      return ended ?? null;
    },
    halfClose: () => stream.end(),
    cancel: () => stream.cancel(),
  };
}
