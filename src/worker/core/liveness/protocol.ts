/** The liveness tracker as a protocol core on the one contract (src/base/protocol.ts): no wire, no store. */
import { kinds, type Core, type CoreInput, type Protocol } from '../../../base/protocol.js';
import { describeEffect, describeInput } from './describe.js';
import { checkInvariants, checkTransition, snapshot } from './invariants.js';
import { initLiveness, nextDeadline, step } from './step.js';
import type { LivenessTypes } from './types.js';

export const LIVENESS_CORE: Core<LivenessTypes> = {
  name: 'worker-liveness',
  inputKinds: kinds<CoreInput<LivenessTypes>['kind']>()([
    'tick',
    'persisted',
    'records',
    'lead',
    'unlead',
    'heartbeat',
    'marked',
  ]),
  effectKinds: kinds<LivenessTypes['effect']['kind']>()(['reply', 'mark']),
  init: (config, _persisted, ctx) => initLiveness(config, ctx.now),
  step: (state, input, ctx) => step(state, input, ctx),
  nextDeadline: (state) => nextDeadline(state) as ReturnType<Core<LivenessTypes>['nextDeadline']>,
  describeInput,
  describeEffect,
  describeRecord: () => 'none',
  checkInvariants,
  snapshot,
  checkTransition,
};

export const LIVENESS_PROTOCOL: Protocol<LivenessTypes> = { core: LIVENESS_CORE };
