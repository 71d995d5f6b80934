/**
 * The registry of simulation scenarios, by name (`npm run sim -- --scenario NAME`). A protocol
 * adds its scenario here; the runner and the CLI know nothing else about it.
 */
import type { Scenario } from '../runner.js';
import { networkEcho } from './network-echo.js';
import {
  electionRaftLite,
  electionRaftLiteColdStart,
  electionRaftLiteColdStartUnsafe,
  electionRaftLiteJoin,
} from './election-raft-lite.js';
import {
  raftChurn,
  raftFile,
  raftLease,
  raftMembership,
  raftScenario,
  raftStaleReadsUnsafe,
} from './raft.js';
import { swim, swimLan, swimLoss10 } from './swim.js';
import { swimStaleView } from './swim-stale-view.js';
import { swimForgery, swimForgeryUnsafe } from './swim-forgery.js';
import {
  registry,
  registryForgery,
  registryForgeryUnsafe,
  registryLateWithdrawalUnsafe,
  registryLoss,
  registryLossNoAntiEntropyUnsafe,
  registryPiggyback,
} from './registry.js';
import { chain, chainForgery, chainForgeryUnsafe, chainPruned } from './chain.js';
import { tree, treeForgery, treeForgeryUnsafe, treeNoSyncUnsafe } from './tree.js';
import {
  workerTier,
  workerTierDedupUnsafe,
  workerTierFailoverUnsafe,
  workerTierResumeUnsafe,
  workerTierTokensUnsafe,
} from './worker-tier.js';
import {
  electionStatic,
  electionStaticColdStart,
  electionStaticColdStartUnsafe,
  electionStaticLoneMinority,
  electionStaticLoneMinorityUnsafe,
  electionStaticTermDisagreement,
} from './election-static.js';
import {
  electionSwim,
  electionSwimAp,
  electionSwimColdStart,
  electionSwimColdStartUnsafe,
  electionSwimEpochDisagreement,
  electionSwimLoneMinority,
  electionSwimLoneMinorityUnsafe,
  electionSwimRestartMinority,
  electionSwimRestartMinorityUnsafe,
} from './election-swim.js';

export const SCENARIOS: ReadonlyMap<string, Scenario<unknown>> = new Map<string, Scenario<unknown>>(
  [
    [networkEcho.name, networkEcho],
    [electionRaftLite.name, electionRaftLite as Scenario<unknown>],
    [electionRaftLiteColdStart.name, electionRaftLiteColdStart as Scenario<unknown>],
    [electionRaftLiteColdStartUnsafe.name, electionRaftLiteColdStartUnsafe as Scenario<unknown>],
    [electionRaftLiteJoin.name, electionRaftLiteJoin as Scenario<unknown>],
    [electionStatic.name, electionStatic as Scenario<unknown>],
    [electionStaticTermDisagreement.name, electionStaticTermDisagreement as Scenario<unknown>],
    [electionStaticLoneMinority.name, electionStaticLoneMinority as Scenario<unknown>],
    [electionStaticLoneMinorityUnsafe.name, electionStaticLoneMinorityUnsafe as Scenario<unknown>],
    [electionStaticColdStart.name, electionStaticColdStart as Scenario<unknown>],
    [electionStaticColdStartUnsafe.name, electionStaticColdStartUnsafe as Scenario<unknown>],
    [electionSwim.name, electionSwim as Scenario<unknown>],
    [chain.name, chain as Scenario<unknown>],
    [chainForgery.name, chainForgery as Scenario<unknown>],
    [chainForgeryUnsafe.name, chainForgeryUnsafe as Scenario<unknown>],
    [chainPruned.name, chainPruned as Scenario<unknown>],
    [tree.name, tree as Scenario<unknown>],
    [treeForgery.name, treeForgery as Scenario<unknown>],
    [treeForgeryUnsafe.name, treeForgeryUnsafe as Scenario<unknown>],
    [treeNoSyncUnsafe.name, treeNoSyncUnsafe as Scenario<unknown>],
    [electionSwimAp.name, electionSwimAp as Scenario<unknown>],
    [electionSwimEpochDisagreement.name, electionSwimEpochDisagreement as Scenario<unknown>],
    [electionSwimLoneMinority.name, electionSwimLoneMinority as Scenario<unknown>],
    [electionSwimLoneMinorityUnsafe.name, electionSwimLoneMinorityUnsafe as Scenario<unknown>],
    [electionSwimColdStart.name, electionSwimColdStart as Scenario<unknown>],
    [electionSwimColdStartUnsafe.name, electionSwimColdStartUnsafe as Scenario<unknown>],
    [electionSwimRestartMinority.name, electionSwimRestartMinority as Scenario<unknown>],
    [
      electionSwimRestartMinorityUnsafe.name,
      electionSwimRestartMinorityUnsafe as Scenario<unknown>,
    ],
    [raftScenario.name, raftScenario as Scenario<unknown>],
    [raftMembership.name, raftMembership as Scenario<unknown>],
    [raftLease.name, raftLease as Scenario<unknown>],
    [raftChurn.name, raftChurn as Scenario<unknown>],
    [raftFile.name, raftFile as Scenario<unknown>],
    [raftStaleReadsUnsafe.name, raftStaleReadsUnsafe as Scenario<unknown>],
    [swim.name, swim],
    [swimLoss10.name, swimLoss10],
    [swimLan.name, swimLan],
    [swimStaleView.name, swimStaleView],
    [swimForgery.name, swimForgery],
    [swimForgeryUnsafe.name, swimForgeryUnsafe],
    [registry.name, registry],
    [registryLoss.name, registryLoss],
    [registryLossNoAntiEntropyUnsafe.name, registryLossNoAntiEntropyUnsafe],
    [registryForgery.name, registryForgery],
    [registryForgeryUnsafe.name, registryForgeryUnsafe],
    [registryLateWithdrawalUnsafe.name, registryLateWithdrawalUnsafe],
    [registryPiggyback.name, registryPiggyback],
    [workerTier.name, workerTier as Scenario<unknown>],
    [workerTierFailoverUnsafe.name, workerTierFailoverUnsafe as Scenario<unknown>],
    [workerTierDedupUnsafe.name, workerTierDedupUnsafe as Scenario<unknown>],
    [workerTierResumeUnsafe.name, workerTierResumeUnsafe as Scenario<unknown>],
    [workerTierTokensUnsafe.name, workerTierTokensUnsafe as Scenario<unknown>],
  ],
);

/** The membership protocol, the heart of Shoal, is what a bare `npm run sim -- --seed N` exercises. */
export const DEFAULT_SCENARIO = swim.name;
