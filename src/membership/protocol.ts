/**
 * Membership as the generic driver runs it (src/base/protocol.ts): the core, and its store (the
 * highest incarnation used, `membership/incarnation`, decimal with a newline: the format is on
 * disk, keep it). The wire, which needs node:zlib, is wire.ts.
 */
import { ShoalError } from '../base/errors.js';
import { counterFileStore } from '../base/persisted.js';
import { kinds, type Core, type CoreInput, type Store } from '../base/protocol.js';
import { updateEncodedBytes } from './codec.js';
import { describeEffect, describeInput, describeRecord } from './describe.js';
import { checkInvariants, checkTransition, snapshot } from './invariants.js';
import { INCARNATION_MAX } from './record.js';
import { createState } from './state.js';
import { nextDeadline, step } from './step.js';
import type { MembershipRecord, MembershipTypes } from './types.js';

/** Where the incarnation lives, relative to the data dir. */
export const INCARNATION_FILE = 'membership/incarnation';

export const MEMBERSHIP_CORE: Core<MembershipTypes> = {
  name: 'membership',
  inputKinds: kinds<CoreInput<MembershipTypes>['kind']>()([
    'tick',
    'persisted',
    'start',
    'receive',
    'join',
    'leave',
    'update-labels',
    'loop-delay',
    'send-failed',
    'refused',
    'lease-round',
  ]),
  effectKinds: kinds<MembershipTypes['effect']['kind']>()([
    'send',
    'emit',
    'join-result',
    'left-done',
    'lease-ack',
    'rejected',
    'security',
  ]),
  init: (config, persisted, ctx) =>
    createState(config.config, config.self, persisted, ctx.now, config.security),
  // Piggyback budgets count the exact encoded size of each update (the core alone would estimate).
  step: (state, input, ctx) => step(state, input, ctx, updateEncodedBytes),
  nextDeadline,
  describeInput,
  describeEffect,
  describeRecord,
  checkInvariants,
  snapshot,
  checkTransition,
};

const INCARNATION_STORE: Store<number, MembershipRecord> = counterFileStore(
  INCARNATION_FILE,
  'incarnation',
  (value) => value,
  (record: MembershipRecord) => record.incarnation,
);

/**
 * The incarnation store. A node starts one above what it persisted, so a persisted incarnation
 * at INCARNATION_MAX leaves it nothing to start at: refused at boot with ERR_INCARNATION_EXHAUSTED
 * (the node cannot sign a record others would take over its previous life's), never a crash.
 */
export const MEMBERSHIP_STORE: Store<number, MembershipRecord> = {
  load: (storage) => {
    const persisted = INCARNATION_STORE.load(storage);
    if (persisted >= INCARNATION_MAX)
      throw new ShoalError(
        'ERR_INCARNATION_EXHAUSTED',
        `${INCARNATION_FILE} holds ${persisted}: this identity has used every incarnation up to INCARNATION_MAX (${INCARNATION_MAX}) and cannot start again; give the node a new identity (move identity.json and ${INCARNATION_FILE} out of the data dir)`,
      );
    return persisted;
  },
  write: INCARNATION_STORE.write,
};
