/**
 * The `swim` leader as the generic driver runs it (src/base/protocol.ts): the core and its store
 * (the highest term seen, `election/swim-term`, decimal). No wire: claims travel as membership
 * labels, which the wiring (node/mode-swim.ts) sets from `publish-claim`.
 */
import { ShoalError } from '../../base/errors.js';
import { parseJsonRecord, parsePersistedCount, persistedCount } from '../../base/persisted.js';
import { readDurable } from '../../base/storage.js';
import {
  kinds,
  type Core,
  type CoreInput,
  type Protocol,
  type Store,
} from '../../base/protocol.js';
import { term, type Term } from '../../base/units.js';
import type { Labels } from '../../membership/messages.js';
import { describeEffect, describeInput, describeRecord } from './describe.js';
import { checkInvariants, checkTransition } from './invariants.js';
import { CLAIM_LABEL, encodeTerm, SEEN_LABEL } from './claim.js';
import { initSwimLeader, nextDeadline, step } from './step.js';
import type { SwimLeaderRecord, SwimLeaderTypes } from './types.js';

/** Where the highest term seen and the stable size live, relative to the data dir (JSON; older versions wrote the decimal term alone, still read). */
export const SWIM_TERM_FILE = 'election/swim-term';

export const SWIM_LEADER_CORE: Core<SwimLeaderTypes> = {
  name: 'swim-leader',
  inputKinds: kinds<CoreInput<SwimLeaderTypes>['kind']>()([
    'tick',
    'persisted',
    'view-changed',
    'lease-ack',
  ]),
  effectKinds: kinds<SwimLeaderTypes['effect']['kind']>()([
    'publish-claim',
    'leader',
    'lease-round',
  ]),
  init: (config, persisted, ctx) => initSwimLeader(config, persisted, ctx.now),
  step,
  nextDeadline,
  describeInput,
  describeEffect,
  describeRecord,
  checkInvariants,
  snapshot: (state) => ({
    highestTermSeen: state.highestTermSeen,
    reportedTerm: state.reportedTerm,
  }),
  checkTransition,
};

function corrupt(why: string): ShoalError {
  return new ShoalError(
    'ERR_STORAGE_CORRUPT',
    `${SWIM_TERM_FILE} ${why}; the file was left untouched: restore it from a backup, or write {"term":N,"stableSize":M} with N no lower than the last term this node used and M the cluster's size (when unsure, larger values are safe)`,
  );
}

/**
 * Parses the durable record: `{"term":N,"stableSize":M}`, or the decimal term alone that earlier
 * versions wrote (read with stable size 1: the quorum then rests on minClusterSize until the
 * node sees its cluster stable again, as before).
 */
export function parseSwimLeaderFile(bytes: Uint8Array): SwimLeaderRecord {
  if (bytes[0] !== 0x7b /* { */)
    return {
      term: term(parsePersistedCount(bytes, SWIM_TERM_FILE, 'term')),
      stableSize: 1,
    };
  const fields = parseJsonRecord(bytes, corrupt);
  return {
    term: term(persistedCount(fields.term, SWIM_TERM_FILE, 'term')),
    stableSize: persistedCount(fields.stableSize, SWIM_TERM_FILE, 'stable cluster size'),
  };
}

export const SWIM_LEADER_STORE: Store<SwimLeaderRecord, SwimLeaderRecord> = {
  load: (storage) => {
    // A name only the page cache holds is made durable before it is believed.
    const bytes = readDurable(storage, SWIM_TERM_FILE);
    return bytes === undefined ? { term: term(0), stableSize: 1 } : parseSwimLeaderFile(bytes);
  },
  write: (record) => ({
    path: SWIM_TERM_FILE,
    data: new TextEncoder().encode(
      `${JSON.stringify({ term: record.term, stableSize: record.stableSize })}\n`,
    ),
  }),
};

export const SWIM_LEADER_PROTOCOL: Protocol<SwimLeaderTypes> = {
  core: SWIM_LEADER_CORE,
  store: SWIM_LEADER_STORE,
};

/** A member's labels: the user's, plus this node's published claim and contested term. */
export function claimLabels(
  userLabels: Labels,
  claim: Term | undefined,
  contested: Term | undefined,
): Labels {
  const out: Record<string, string> = { ...userLabels };
  delete out[CLAIM_LABEL];
  delete out[SEEN_LABEL];
  if (claim !== undefined) out[CLAIM_LABEL] = encodeTerm(claim);
  if (contested !== undefined) out[SEEN_LABEL] = encodeTerm(contested);
  return out;
}
