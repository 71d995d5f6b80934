/**
 * The parts of etcd's Cluster and Maintenance services a client needs to find and check
 * members: MemberList, Status (etcdctl endpoint status), and Alarm's list (etcdctl alarm list;
 * Shoal raises no alarms, so the list is empty and disarming one is a no-op). The rest of both
 * services (member changes, defragment, hash, snapshot, move-leader, raising an alarm) is not
 * served: membership changes go through Shoal's own API (`shoal raft add`), and the store has
 * no backend file to defragment or hash (docs/etcd.md, "What is not served").
 */
import { status as Status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { memberIdOf, type KvMember } from '../node/kv-service.js';
import { wireHeader } from './convert.js';
import { unary, type Endpoint } from './endpoint.js';
import type { WireAlarmRequest } from './proto.js';
import { shoalStatus } from './status.js';

/** A member's Raft address as a URL, for etcd's peerURLs (Shoal's Raft transport is TCP). */
export function peerUrl(address: string): string {
  return `tcp://${address}`;
}

function wireMember(m: KvMember): object {
  return {
    ID: m.memberId,
    name: m.name,
    peerURLs: [peerUrl(m.address)],
    clientURLs: m.grpcUrls ?? [],
    isLearner: m.learner,
  };
}

export function clusterHandlers(ep: Endpoint): UntypedServiceImplementation {
  return {
    MemberList: unary<object>(ep, 'Cluster/MemberList', async () => {
      const { members, header } = await ep.kv.members();
      return { header: wireHeader(ep.seen(header)), members: members.map(wireMember) };
    }),
  };
}

export function maintenanceHandlers(ep: Endpoint): UntypedServiceImplementation {
  return {
    Status: unary<object>(ep, 'Maintenance/Status', async () => {
      const [status, { members }] = await Promise.all([ep.kv.status(), ep.kv.members()]);
      const header = ep.seen(status.header);
      const self = members.find((m) => m.memberId === header.memberId);
      return {
        header: wireHeader(header),
        version: status.version,
        dbSize: status.dbSizeBytes,
        leader: status.leader === undefined ? '0' : memberIdOf(status.leader),
        raftIndex: status.raftIndex,
        raftTerm: header.raftTerm,
        raftAppliedIndex: status.raftAppliedIndex,
        errors: [],
        dbSizeInUse: status.dbSizeBytes,
        isLearner: self?.learner ?? false,
      };
    }),
    Alarm: unary<WireAlarmRequest>(ep, 'Maintenance/Alarm', async (w) => {
      if (w.action === 'ACTIVATE')
        throw shoalStatus(
          Status.UNIMPLEMENTED,
          'raising alarms is not served: Shoal has no storage quota alarms',
        );
      if (w.action !== 'GET' && w.action !== 'DEACTIVATE')
        throw shoalStatus(Status.INVALID_ARGUMENT, `unknown AlarmRequest.action ${w.action}`);
      return { header: wireHeader(await ep.header()), alarms: [] };
    }),
  };
}
