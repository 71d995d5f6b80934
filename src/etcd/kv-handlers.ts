/**
 * etcd's KV service (rpc.proto `service KV`) over the KvService: Range, Put, DeleteRange, Txn
 * and Compact. Each converts the request (convert.ts runs etcd's request checks first), calls
 * the store, and answers with the store's header (cluster id, member id, revision, raft term).
 * A Range with `serializable` reads this member's replica; otherwise the read is linearizable
 * (the KvService confirms leadership first), as in etcd. A Txn whose branches only read is a
 * read too: linearizable, since etcd's TxnRequest has no serializable flag.
 * Range, Put and Txn answers are encoded here (encode.ts), the others by gRPC from objects.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  toDeleteRangeRequest,
  toPutRequest,
  toRangeRequest,
  toTxnRequest,
  wireDelete,
  wireHeader,
  wireRevision,
} from './convert.js';
import { encodePut, encodeRange, encodeTxn } from './encode.js';
import { unary, type Endpoint } from './endpoint.js';
import type {
  WireCompactionRequest,
  WireDeleteRangeRequest,
  WirePutRequest,
  WireRangeRequest,
  WireTxnRequest,
} from './proto.js';

export function kvHandlers(ep: Endpoint): UntypedServiceImplementation {
  const kv = ep.kv;
  return {
    Range: unary<WireRangeRequest>(ep, 'KV/Range', async (w, call) => {
      const request = toRangeRequest(w);
      // A serializable read never waits: it needs no signal.
      const result = await kv.range(
        request,
        w.serializable
          ? { consistency: 'serializable' }
          : { signal: call.signal, consistency: 'linearizable' },
      );
      const header = ep.headerBytes.of(ep.seen(result.header));
      return encodeRange(header, result.kvs, result.more, result.count);
    }),
    Put: unary<WirePutRequest>(ep, 'KV/Put', async (w, call) => {
      const result = await kv.put(toPutRequest(w), { signal: call.signal });
      return encodePut(ep.headerBytes.of(ep.seen(result.header)), result.prevKv);
    }),
    DeleteRange: unary<WireDeleteRangeRequest>(ep, 'KV/DeleteRange', async (w, call) => {
      const result = await kv.deleteRange(toDeleteRangeRequest(w), { signal: call.signal });
      return { header: wireHeader(ep.seen(result.header)), ...wireDelete(result) };
    }),
    Txn: unary<WireTxnRequest>(ep, 'KV/Txn', async (w, call) => {
      const result = await kv.txn(toTxnRequest(w), { signal: call.signal });
      return encodeTxn(ep.headerBytes.of(ep.seen(result.header)), result);
    }),
    Compact: unary<WireCompactionRequest>(ep, 'KV/Compact', async (w, call) => {
      // `physical` asks etcd to wait for the on-disk compaction; Shoal's compaction is logical
      // at once and physical in slices, so there is nothing more to wait for.
      const result = await kv.compact(wireRevision(w.revision), { signal: call.signal });
      return { header: wireHeader(ep.seen(result.header)) };
    }),
  };
}
