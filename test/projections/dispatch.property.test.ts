import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dispatchFold, type StoredRecord, type RecordDraft } from '../../index.js';
import {
  acquired,
  extended,
  published,
  registered,
  released,
  result,
  stampAll,
  SUB,
} from '../support/drafts.js';

const WORKERS = ['A', 'B', 'C'] as const;
const EVENTS = [0, 1, 2] as const; // positions of the events in the log
const LEASE = 100;

/** One competing-claim step of a random interleaving. */
const step = fc.record({
  kind: fc.constantFrom('acquire', 'acquire', 'extend', 'release', 'ok', 'fail', 'retry'),
  worker: fc.constantFrom(...WORKERS),
  event: fc.constantFrom(...EVENTS),
  attempt: fc.integer({ min: 1, max: 3 }),
  dt: fc.integer({ min: 0, max: 80 }),
  leaseMs: fc.integer({ min: 1, max: LEASE }),
});
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

function draftOf(s: Step, time: number): RecordDraft {
  const a = { event: s.event, worker: s.worker, attempt: s.attempt };
  switch (s.kind) {
    case 'acquire':
      return acquired({ ...a, leaseMs: s.leaseMs });
    case 'extend':
      return extended({ ...a, leaseMs: s.leaseMs });
    case 'release':
      return released(a);
    case 'ok':
      return result(a);
    case 'fail':
      return result({ ...a, status: 'failed' });
    case 'retry':
      return result({ ...a, status: 'failed', retryAt: time + s.dt });
  }
}

function toLog(steps: readonly Step[]): StoredRecord[] {
  let time = 1000;
  const timed: [number, RecordDraft][] = [
    [time, published('a')],
    [time, published('b')],
    [time, published('c')],
    [time, registered()],
  ];
  for (const s of steps) {
    time += s.dt;
    timed.push([time, draftOf(s, time)]);
  }
  return stampAll(timed);
}

/** What each worker may believe it holds: its winning claim, extended by its own valid extensions. */
interface Lease {
  attempt: number;
  until: number;
}

describe('claims fold under random interleavings of three competing workers', () => {
  it('never lets two workers hold a live lease on the same event, and accepts results only from the holder', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const state = dispatchFold.initial();
        // leases[worker][event]: a per-worker record of the leases it won, independent of the fold's
        // single `owner` field, so an overlap would show up as two live entries.
        const leases = new Map<string, Map<number, Lease>>(WORKERS.map((w) => [w, new Map()]));
        const finished = new Set<number>();
        for (const r of toLog(steps)) {
          const rejectedBefore = state.rejected.size;
          dispatchFold.evolve(state, r);
          if (r.position < 4) continue;
          const c = r as StoredRecord & { eventPosition: number; workerId: string; attempt: number };
          const mine = leases.get(c.workerId)!;
          const held = mine.get(c.eventPosition);
          const live = held !== undefined && held.until > r.time && held.attempt === c.attempt;
          const item = state.subscribers.get(SUB)!.items.get(c.eventPosition);

          if (r.type === 'claim.acquired' && item?.claimPosition === r.position) {
            // The fold gave the lease to this claim: nobody may hold a live one, and the event is open.
            for (const [w, m] of leases) {
              const other = m.get(c.eventPosition);
              if (other && other.until > r.time)
                throw new Error(`claim at ${r.position} by ${c.workerId} won while ${w} held a live lease`);
            }
            expect(finished.has(c.eventPosition)).toBe(false);
            mine.set(c.eventPosition, { attempt: c.attempt, until: r.time + (r.leaseMs as number) });
          } else if (r.type === 'claim.extended' && live) {
            held.until = Math.max(held.until, r.time + (r.leaseMs as number));
          } else if (r.type === 'claim.released' && live) {
            mine.delete(c.eventPosition);
          } else if (r.type === 'result.recorded') {
            const accepted = state.rejected.size === rejectedBefore;
            // Accepted exactly when it comes from the worker holding a live lease with this attempt.
            expect(accepted).toBe(live);
            if (accepted) {
              mine.delete(c.eventPosition);
              if (r.retryAt === undefined) finished.add(c.eventPosition);
            }
          }

          // At this position: at most one worker holds a live lease per event, and it is the fold's owner.
          for (const e of EVENTS) {
            const holders = WORKERS.filter((w) => (leases.get(w)!.get(e)?.until ?? 0) > r.time);
            expect(holders.length).toBeLessThanOrEqual(1);
            const it = state.subscribers.get(SUB)!.items.get(e);
            const foldHolder = it?.status === 'claimed' && it.leaseUntil > r.time ? it.owner : undefined;
            expect(foldHolder).toBe(holders[0]);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('generates interleavings where claims actually compete (the property above is not vacuous)', () => {
    let contested = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 60 }), (steps) => {
        const state = dispatchFold.initial();
        const owners = new Set<string>();
        for (const r of toLog(steps)) {
          dispatchFold.evolve(state, r);
          const item = state.subscribers.get(SUB)?.items.get(0);
          if (item?.owner !== undefined) owners.add(item.owner);
        }
        if (owners.size > 1) contested++;
      }),
      { numRuns: 200 },
    );
    expect(contested).toBeGreaterThan(20);
  });
});
