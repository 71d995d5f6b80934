/**
 * Proposals to this member's own Raft core (src/node/raft-core-requests.ts): the proposals of
 * one turn of the event loop reach the core as ONE `propose-batch` input after the turn (a lone
 * one as a plain `propose`), each answered by its own request id; a close before the turn ends
 * proposes nothing and answers each as lost.
 */
import { describe, expect, it } from 'vitest';
import { CoreRequests, type CoreInputs } from '../../src/node/raft-core-requests.js';
import type { Proposal, RequestOutcome } from '../../src/raft/types.js';
import { SimClock } from '../../src/sim/clock.js';

function setup() {
  const proposed: { single: number[]; batches: number[][] } = { single: [], batches: [] };
  const inputs: CoreInputs = {
    propose: (_data, requestId) => proposed.single.push(requestId),
    proposeBatch: (proposals: readonly Proposal[]) =>
      proposed.batches.push(proposals.map((p) => p.requestId as number)),
    read: () => undefined,
    changeConfig: () => undefined,
    transferLeadership: () => undefined,
  };
  const turns: (() => void)[] = [];
  const requests = new CoreRequests(inputs, new SimClock(), (callback) => turns.push(callback));
  const endTurn = (): void => {
    for (const callback of turns.splice(0)) callback();
  };
  return { requests, proposed, endTurn };
}

const ok = (index: number): RequestOutcome => ({
  ok: true,
  index: index as never,
  term: 1 as never,
});

describe('core requests', () => {
  it('steps one turn of proposals as one batch, each answered under its own id', async () => {
    const { requests, proposed, endTurn } = setup();
    const answers = [1, 2, 3].map((n) => requests.propose(new Uint8Array([n])));
    expect(proposed).toEqual({ single: [], batches: [] });
    endTurn();
    expect(proposed).toEqual({ single: [], batches: [[1, 2, 3]] });
    for (const id of [3, 1, 2])
      requests.onOutcome({ kind: 'propose-result', requestId: id, outcome: ok(10 + id) });
    expect(await Promise.all(answers)).toEqual([ok(11), ok(12), ok(13)]);
    const lone = requests.propose(new Uint8Array([4]));
    endTurn();
    expect(proposed.single).toEqual([4]);
    requests.onOutcome({ kind: 'propose-result', requestId: 4, outcome: ok(14) });
    expect(await lone).toEqual(ok(14));
  });

  it('proposes nothing once closed before the turn ended; each waiting proposal is lost', async () => {
    const { requests, proposed, endTurn } = setup();
    const answers = [1, 2].map((n) => requests.propose(new Uint8Array([n])));
    requests.close();
    endTurn();
    expect(proposed).toEqual({ single: [], batches: [] });
    for (const answer of await Promise.all(answers))
      expect(answer.ok === false && answer.reason).toBe('unknown');
  });
});
