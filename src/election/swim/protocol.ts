/**
 * The `swim` leader as the generic driver runs it (src/base/protocol.ts): the core and its store
 * (the highest term seen, `election/swim-term`, decimal). No wire: claims travel as membership
 * labels, which the wiring (node/mode-swim.ts) sets from `publish-claim`.
 */
import { counterFileStore } from '../../base/persisted.js';
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
import { CLAIM_LABEL, initSwimLeader, nextDeadline, SEEN_LABEL, step } from './step.js';
import type { SwimLeaderRecord, SwimLeaderTypes } from './types.js';

/** Where the highest term seen lives, relative to the data dir. The format (decimal text) is on disk: keep it. */
export const SWIM_TERM_FILE = 'election/swim-term';

export const SWIM_LEADER_CORE: Core<SwimLeaderTypes> = {
  name: 'swim-leader',
  inputKinds: kinds<CoreInput<SwimLeaderTypes>['kind']>()(['tick', 'persisted', 'view-changed']),
  effectKinds: kinds<SwimLeaderTypes['effect']['kind']>()(['publish-claim', 'leader']),
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

export const SWIM_LEADER_STORE: Store<Term, SwimLeaderRecord> = counterFileStore(
  SWIM_TERM_FILE,
  'term',
  term,
  (record: SwimLeaderRecord) => record.term,
);

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
  if (claim !== undefined) out[CLAIM_LABEL] = String(claim);
  if (contested !== undefined) out[SEEN_LABEL] = String(contested);
  return out;
}
