/**
 * SwimJoins (src/node/swim-joins.ts) with a scripted membership core: a join request's failure
 * names what the peers it tried said when they refused our connection, and only those. Found by
 * the issue 12 audit over a real agent: `shoal join 127.0.0.1:1` after a join through
 * 127.0.0.1:1 and 127.0.0.1:2 reported "127.0.0.1:2 refused our connection", an address the
 * operator had not given, from a refusal that arrived after its own attempt ended.
 */
import { describe, expect, it } from 'vitest';
import type { Address } from '../../src/base/address.js';
import type { NodeId } from '../../src/identity/node-id.js';
import { SwimJoins, type JoinEvent } from '../../src/node/swim-joins.js';

function scripted(seeds: Address[] = []) {
  const started: Address[][] = [];
  const published: JoinEvent[] = [];
  const later: Array<() => void> = [];
  let busy = false;
  const joins = new SwimJoins(
    {
      selfId: 'f'.repeat(32) as NodeId,
      coreBusy: () => busy,
      startAttempt: (addresses) => {
        busy = true;
        started.push(addresses);
      },
      later: (fn) => later.push(fn),
      publish: (event) => published.push(event),
      onJoined: () => undefined,
    },
    seeds,
  );
  /** Lets a request's loop go on (it awaits each attempt), then runs the next clock turn. */
  const turn = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
    for (const fn of later.splice(0)) fn();
  };
  const finish = async (detail: string): Promise<void> => {
    busy = false;
    joins.onResult({ ok: false, reason: 'unreachable', detail });
    await turn();
  };
  return { joins, started, published, turn, finish };
}

const A = '127.0.0.1:1' as Address;
const B = '127.0.0.1:2' as Address;
const C = '127.0.0.1:3' as Address;

describe('join failures name the refusals of the addresses tried', () => {
  it("a request's failure names its own addresses' refusals, not a stray one's", async () => {
    const { joins, started, turn, finish } = scripted();
    const first = joins.request([A, B]);
    await turn();
    expect(started).toEqual([[A]]);
    joins.noteRefusal(A, undefined);
    await finish('every join address failed to connect');
    expect(started).toEqual([[A], [B]]);
    joins.noteRefusal(B, 'auth_failed');
    await finish('every join address failed to connect');
    const outcome = await first;
    expect(outcome).toMatchObject({ ok: false });
    expect(outcome.ok ? '' : outcome.detail).toMatch(
      /127\.0\.0\.1:1: .*127\.0\.0\.1:1 refused our connection: connection refused.*127\.0\.0\.1:2: .*127\.0\.0\.1:2 refused our connection: it could not authenticate/,
    );

    // A late refusal of B (its attempt is over), and one of C (a probe's stream fallback, say).
    joins.noteRefusal(B, undefined);
    const second = joins.request([A]);
    joins.noteRefusal(C, undefined);
    await turn();
    expect(started.at(-1)).toEqual([A]);
    joins.noteRefusal(A, undefined);
    await finish('every join address failed to connect');
    const again = await second;
    const detail = again.ok ? '' : again.detail;
    expect(detail).toMatch(/127\.0\.0\.1:1 refused our connection/);
    expect(detail).not.toMatch(/127\.0\.0\.1:2|127\.0\.0\.1:3/);
  });

  it('a seed retry names what any seed said', async () => {
    const { joins, published, finish } = scripted([A, B]);
    joins.noteRefusal(B, 'inbound_limit');
    await finish('every join address failed to connect');
    expect(published.at(-1)).toMatchObject({
      by: 'start',
      ok: false,
      detail: expect.stringMatching(/127\.0\.0\.1:2 refused our connection: .*inbound/),
    });
  });
});
