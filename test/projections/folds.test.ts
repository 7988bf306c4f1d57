import { describe, expect, it } from 'vitest';
import {
  dispatchFold,
  foldAll,
  resultAt,
  resultRef,
  statsFold,
  unbatched,
  workersFold,
  type DispatchState,
  type StoredRecord,
  type RecordOf,
} from '../../index.js';
import { isAlive, liveHosts } from '../../projections/workers.js';
import {
  acquired,
  batch,
  extended,
  published,
  Q,
  registered,
  released,
  reserved,
  result,
  SUB,
  stampAll,
  worker,
} from '../support/drafts.js';
import type { RecordDraft } from '../../index.js';

// Positions 0–2 are events, 3 registers the competing subscriber `q/s`; records from 4 on follow.
const setup: [number, RecordDraft][] = [
  [1000, published('a')],
  [1000, published('b')],
  [1000, published('c')],
  [1000, registered()],
];

function fold(...rest: [number, RecordDraft][]): DispatchState {
  return foldAll(dispatchFold, stampAll([...setup, ...rest]));
}

function sub(state: DispatchState) {
  const s = state.subscribers.get(SUB);
  if (!s) throw new Error('subscriber missing');
  return s;
}

/** One `claims.acquired` of `worker` for the events at these positions. */
function claimBatch(worker: string, events: number[]): RecordDraft {
  return batch(
    'claims.acquired',
    events.map((event) => acquired({ event, worker })),
  );
}

describe('batch records (claims.acquired, results.recorded)', () => {
  it('folds each claim of a batch as a claim.acquired of its own, the batch position as the token', () => {
    const one = fold([1010, claimBatch('A', [0, 1, 2])]);
    const each = fold(
      ...[0, 1, 2].map((event): [number, RecordDraft] => [1010, acquired({ event, worker: 'A' })]),
    );
    for (const p of [0, 1, 2]) {
      expect(sub(one).items.get(p)).toEqual({ ...sub(each).items.get(p), claimPosition: 4 });
    }
  });

  it('lets each item win or lose on its own: a live lease held by another keeps its event', () => {
    const s = fold([1010, acquired({ event: 0, worker: 'B' })], [1020, claimBatch('A', [0, 1])]);
    expect(sub(s).items.get(0)).toMatchObject({ owner: 'B', claimPosition: 4 });
    expect(sub(s).items.get(1)).toMatchObject({ owner: 'A', claimPosition: 5 });
  });

  it('fences one result of a batch and counts the others; the fenced one is named by position and item', () => {
    const s = fold(
      [1010, claimBatch('A', [0, 1, 2])],
      [1020, acquired({ event: 2, worker: 'B', attempt: 2 })], // not valid: A holds event 2
      [1200, acquired({ event: 2, worker: 'B', attempt: 2 })], // A's lease ran out at 1110: B holds it
      [
        1210,
        batch('results.recorded', [
          result({ event: 0, worker: 'A' }),
          result({ event: 1, worker: 'A', status: 'failed' }),
          result({ event: 2, worker: 'A' }), // fenced: B holds the lease now
        ]),
      ],
    );
    // A's lease on 0 and 1 ran out at 1110 as well: all three are fenced at 1210…
    expect(sub(s).counts).toMatchObject({ rejected: 3, done: 0 });
    expect([...s.rejected].map(resultAt)).toEqual([0, 1, 2].map((item) => ({ position: 7, item })));
    // …while in time, two count and the third is fenced.
    const t = fold(
      [1010, claimBatch('A', [0, 1])],
      [
        1050,
        batch('results.recorded', [
          result({ event: 0, worker: 'A' }),
          result({ event: 2, worker: 'A' }), // never claimed by A
          result({ event: 1, worker: 'A', status: 'failed' }),
        ]),
      ],
    );
    expect(sub(t).counts).toMatchObject({ done: 1, failed: 1, dead: 1, rejected: 1 });
    expect([...t.rejected]).toEqual([resultRef({ position: 5, item: 1 })]);
    expect(sub(t).finishedBelow).toBe(2);
  });

  it('counts batch results in the stats view', () => {
    const records = stampAll([
      ...setup,
      [1010, claimBatch('A', [0, 1])],
      [
        1050,
        batch('results.recorded', [
          result({ event: 0, worker: 'A' }),
          result({ event: 1, worker: 'A', status: 'timeout' }),
        ]),
      ],
    ]);
    expect(foldAll(statsFold, records).queues.get(Q)?.results).toEqual({
      ok: 1,
      failed: 0,
      timeout: 1,
      skipped: 0,
    });
  });

  it('unbatches into the single records the items fold as, sharing position and time', () => {
    const [, , , , r] = stampAll([
      ...setup,
      [
        1010,
        batch('results.recorded', [result({ event: 0, worker: 'A' }), result({ event: 1, worker: 'A' })]),
      ],
    ]);
    const singles = unbatched(r!) as RecordOf<'result.recorded'>[];
    expect(singles.map((x) => [x.type, x.position, x.time, x.item, x.eventPosition, x.workerId])).toEqual([
      ['result.recorded', 4, 1010, 0, 0, 'A'],
      ['result.recorded', 4, 1010, 1, 1, 'A'],
    ]);
    expect(unbatched(r!).length).toBe(2);
    const [, , , , e] = stampAll([...setup, [1010, published('d')]]);
    expect(unbatched(e!)).toEqual([e]);
  });

  it('ends a batch at its first malformed item, and ignores items beyond 1,024', () => {
    const good = acquired({ event: 0, worker: 'A' });
    const claims = batch('claims.acquired', [good]) as RecordDraft & { items: unknown[] };
    const s = fold([
      1010,
      {
        ...claims,
        items: [claims.items[0], null, { ...(claims.items[0] as object), eventPosition: 1 }],
      },
    ]);
    expect(sub(s).items.get(0)).toMatchObject({ owner: 'A' });
    expect(sub(s).items.get(1)).toBeUndefined();
    const many = Array.from({ length: 1030 }, (_, i) => ({ eventId: `x${i}`, eventPosition: i, attempt: 1 }));
    const [, , , , r] = stampAll([...setup, [1010, { ...claims, items: many }]]);
    expect(unbatched(r!)).toHaveLength(1024);
  });
});

describe('claims fold', () => {
  it('gives the lease to the first claim in log order, even at the same log time', () => {
    const s = fold([1010, acquired({ event: 0, worker: 'A' })], [1010, acquired({ event: 0, worker: 'B' })]);
    const item = sub(s).items.get(0);
    expect(item).toMatchObject({ status: 'claimed', owner: 'A', claimPosition: 4, attempt: 1 });
    expect(item?.leaseUntil).toBe(1110);
  });

  it('rejects a second claim while the lease is live, for any attempt number', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1050, acquired({ event: 0, worker: 'B', attempt: 1 })],
      [1109, acquired({ event: 0, worker: 'B', attempt: 2 })],
    );
    expect(sub(s).items.get(0)).toMatchObject({ owner: 'A', claimPosition: 4, attempt: 1 });
  });

  it('gives an expired lease (by record time) to the next claim, with the attempt number after it', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      // lease runs until 1110: at 1110 it is over
      [1110, acquired({ event: 0, worker: 'B', attempt: 1 })], // stale attempt number: ignored
      [1110, acquired({ event: 0, worker: 'B', attempt: 2 })],
    );
    expect(sub(s).items.get(0)).toMatchObject({
      status: 'claimed',
      owner: 'B',
      claimPosition: 6,
      attempt: 2,
      leaseUntil: 1210,
    });
  });

  it('keeps the lease of a worker that extends it', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1100, extended({ event: 0, worker: 'A' })],
      [1150, acquired({ event: 0, worker: 'B', attempt: 2 })],
      [1150, extended({ event: 0, worker: 'B', attempt: 2 })], // not the holder: no effect
    );
    expect(sub(s).items.get(0)).toMatchObject({ owner: 'A', attempt: 1, leaseUntil: 1200 });
  });

  it('does not revive an expired lease by an extension', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1200, extended({ event: 0, worker: 'A' })],
      [1200, acquired({ event: 0, worker: 'B', attempt: 2 })],
    );
    expect(sub(s).items.get(0)).toMatchObject({ owner: 'B', attempt: 2 });
  });

  it('lets the next claim in right after a release by the holder, and ignores releases by others', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, released({ event: 0, worker: 'B' })],
      [1030, acquired({ event: 0, worker: 'B', attempt: 2 })], // A still holds
      [1040, released({ event: 0, worker: 'A' })],
      [1050, acquired({ event: 0, worker: 'B', attempt: 2 })],
    );
    expect(sub(s).items.get(0)).toMatchObject({ status: 'claimed', owner: 'B', claimPosition: 8 });
  });

  it('rejects a result from a worker that does not hold the lease', () => {
    const s = fold([1010, acquired({ event: 0, worker: 'A' })], [1020, result({ event: 0, worker: 'B' })]);
    expect(sub(s).counts).toMatchObject({ rejected: 1, done: 0 });
    expect([...s.rejected]).toEqual([resultRef({ position: 5 })]);
    expect(sub(s).items.get(0)).toMatchObject({ status: 'claimed', owner: 'A' });
    expect(sub(s).finishedBelow).toBe(0);
  });

  it('rejects a result that arrives after the holder’s lease expired', () => {
    const s = fold([1010, acquired({ event: 0, worker: 'A' })], [1110, result({ event: 0, worker: 'A' })]);
    expect(sub(s).counts).toMatchObject({ rejected: 1, done: 0 });
    expect(s.rejected.has(resultRef({ position: 5 }))).toBe(true);
    expect(sub(s).finishedBelow).toBe(0);
  });

  it('rejects a result of an older attempt once the event was claimed again', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1200, acquired({ event: 0, worker: 'A', attempt: 2 })],
      [1210, result({ event: 0, worker: 'A', attempt: 1 })],
    );
    expect(sub(s).counts.rejected).toBe(1);
    expect(sub(s).items.get(0)).toMatchObject({ status: 'claimed', attempt: 2 });
  });

  it('marks ok as done, drops finished items from the hot view and advances the finishedBelow in order', () => {
    const s1 = fold([1010, acquired({ event: 2, worker: 'A' })], [1020, result({ event: 2, worker: 'A' })]);
    expect(sub(s1).finishedBelow).toBe(0); // events 0 and 1 are still open
    expect(sub(s1).items.get(2)?.status).toBe('done');

    const s2 = fold(
      [1010, acquired({ event: 2, worker: 'A' })],
      [1020, result({ event: 2, worker: 'A' })],
      [1030, acquired({ event: 0, worker: 'B' })],
      [1040, result({ event: 0, worker: 'B' })],
    );
    expect(sub(s2).finishedBelow).toBe(1);
    expect(sub(s2).items.has(0)).toBe(false);
    expect(sub(s2).items.has(2)).toBe(true);

    const s3 = fold(
      [1010, acquired({ event: 2, worker: 'A' })],
      [1020, result({ event: 2, worker: 'A' })],
      [1030, acquired({ event: 0, worker: 'B' })],
      [1040, result({ event: 0, worker: 'B' })],
      [1050, acquired({ event: 1, worker: 'B' })],
      [1060, result({ event: 1, worker: 'B' })],
    );
    expect(sub(s3).finishedBelow).toBe(3);
    expect(sub(s3).items.size).toBe(0);
    expect(sub(s3).counts).toMatchObject({ done: 3, failed: 0, dead: 0, rejected: 0 });
  });

  it('ignores claims on a finished event', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'A' })],
      [1030, acquired({ event: 0, worker: 'B', attempt: 2 })],
      [1040, result({ event: 0, worker: 'B', attempt: 2 })],
    );
    expect(sub(s).counts).toMatchObject({ done: 1, rejected: 1 });
    expect(sub(s).items.has(0)).toBe(false);
  });

  it('schedules a retry for a failure with retryAt: no claim before that log time, attempt 2 after', () => {
    const failed: [number, RecordDraft][] = [
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'A', status: 'failed', retryAt: 1500 })],
    ];
    const s1 = fold(...failed);
    expect(sub(s1).items.get(0)).toMatchObject({
      status: 'retry',
      availableAt: 1500,
      failures: 1,
      owner: undefined,
    });
    expect(sub(s1).counts).toMatchObject({ failed: 1, dead: 0 });
    expect(sub(s1).finishedBelow).toBe(0);

    const s2 = fold(...failed, [1499, acquired({ event: 0, worker: 'B', attempt: 2 })]);
    expect(sub(s2).items.get(0)?.status).toBe('retry');

    const s3 = fold(...failed, [1500, acquired({ event: 0, worker: 'B', attempt: 2 })]);
    expect(sub(s3).items.get(0)).toMatchObject({ status: 'claimed', owner: 'B', attempt: 2 });
  });

  it('treats a timeout like a failure: retry when retryAt is set', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'A', status: 'timeout', retryAt: 1100 })],
    );
    expect(sub(s).items.get(0)?.status).toBe('retry');
    expect(sub(s).counts.failed).toBe(1);
  });

  it('marks a failure without retryAt dead, lists it in `dead` and moves past it', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'A', status: 'failed' })],
    );
    expect(sub(s).counts).toMatchObject({ failed: 1, dead: 1 });
    expect([...sub(s).dead]).toEqual([0]);
    expect(sub(s).finishedBelow).toBe(1);
    expect(sub(s).items.has(0)).toBe(false);
  });

  it('accepts `skipped` without a claim, but not over a live lease', () => {
    const s1 = fold([1010, result({ event: 0, worker: 'A', status: 'skipped', attempt: 0 })]);
    expect(sub(s1).counts.skipped).toBe(1);
    expect(sub(s1).finishedBelow).toBe(1);

    const s2 = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'B', status: 'skipped', attempt: 0 })],
    );
    expect(sub(s2).counts.skipped).toBe(0);
    expect(sub(s2).items.get(0)).toMatchObject({ status: 'claimed', owner: 'A' });
  });

  it('marks a subscriber deleted and takes no more claims for it', () => {
    const s = fold(
      [1010, { type: 'subscriber.deleted', queue: Q, subscriberId: SUB }],
      [1020, acquired({ event: 0, worker: 'A' })],
    );
    expect(sub(s).deleted).toBe(true);
    expect(sub(s).items.size).toBe(0);
  });

  it('starts a re-registration after delete afresh, and keeps progress on a plain re-registration', () => {
    const s1 = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'A' })],
      [1030, registered({ startPosition: 2 })], // same subscriber again: start position and progress stay
    );
    expect(sub(s1).finishedBelow).toBe(1);
    expect(sub(s1).reg.startPosition).toBe(0);

    const s2 = fold(
      [1010, acquired({ event: 0, worker: 'A' })],
      [1020, result({ event: 0, worker: 'A' })],
      [1030, { type: 'subscriber.deleted', queue: Q, subscriberId: SUB }],
      [1040, registered({ startPosition: 2 })],
    );
    expect(sub(s2)).toMatchObject({ deleted: false, finishedBelow: 2, registeredAt: 7 });
    expect(sub(s2).counts.done).toBe(0);
  });

  it('does not dispatch events before the subscriber’s start position', () => {
    const s = fold(
      [1010, registered({ subscriberId: 'q/late', startPosition: 2 })],
      [1020, { ...acquired({ event: 0, worker: 'A' }), subscriberId: 'q/late' }],
      [1030, { ...acquired({ event: 2, worker: 'A' }), subscriberId: 'q/late' }],
    );
    const late = s.subscribers.get('q/late');
    expect(late?.finishedBelow).toBe(2);
    expect(late?.items.has(0)).toBe(false);
    expect(late?.items.get(2)?.status).toBe('claimed');
  });

  it('holds an event published with a delay (or `at`) until its time, by record time', () => {
    const held: [number, RecordDraft][] = [
      [1000, registered()],
      [1000, published('d', { delay: 500 })],
      [1000, published('t', { availableAt: 3000 })],
    ];
    const early = foldAll(
      dispatchFold,
      stampAll([
        ...held,
        [1499, acquired({ event: 1, worker: 'A' })],
        [2999, acquired({ event: 2, worker: 'A' })],
      ]),
    );
    expect(Array.from(early.queues.get(Q)?.availableAt ?? [])).toEqual([1500, 3000]);
    expect(sub(early).items.get(1)?.status).not.toBe('claimed');
    expect(sub(early).items.get(2)?.status).not.toBe('claimed');

    const onTime = foldAll(
      dispatchFold,
      stampAll([
        ...held,
        [1500, acquired({ event: 1, worker: 'A' })],
        [3000, acquired({ event: 2, worker: 'A' })],
      ]),
    );
    expect(sub(onTime).items.get(1)?.status).toBe('claimed');
    expect(sub(onTime).items.get(2)?.status).toBe('claimed');
  });

  it('never makes an idempotency-key twin dispatchable', () => {
    const s = foldAll(
      dispatchFold,
      stampAll([
        [1000, published('first', { headers: { key: 'k' } })],
        [1000, published('twin', { headers: { key: 'k' } })],
        [1000, published('other', { headers: { key: 'k2' } })],
        [1000, registered()],
        [1010, acquired({ event: 1, worker: 'A' })],
      ]),
    );
    const q = s.queues.get(Q);
    expect(Array.from(q?.positions ?? [])).toEqual([0, 2]);
    expect(q?.keys.get('k')).toBe(0);
    expect(q?.keys.get('k2')).toBe(2);
    expect(sub(s).items.has(1)).toBe(false);
  });

  it('keeps every event position and availability time as its typed arrays grow', () => {
    const events = Array.from({ length: 300 }, (_, i): [number, RecordDraft] => [
      1000 + i,
      published(`e${i}`),
    ]);
    const records = stampAll([
      ...events,
      [2000, registered()],
      [2000, acquired({ event: 299, worker: 'A' })],
      [3000, published('late')],
    ]);
    const s = foldAll(dispatchFold, records.slice(0, -1));
    const q = s.queues.get(Q);
    const before = q?.positions;
    expect(Array.from(q?.positions ?? [])).toEqual(events.map((_, i) => i));
    expect(Array.from(q?.availableAt ?? [])).toEqual(events.map(([time]) => time));
    expect(sub(s).items.get(299)?.status).toBe('claimed');
    dispatchFold.evolve(s, records.at(-1) as StoredRecord);
    expect(before?.length).toBe(300); // what was read before is a snapshot
    expect(q?.positions.length).toBe(301);
    expect(q?.positions[300]).toBe(302);
  });

  it('gives a raw claim (token) to the first `token.claimed` in log order, forever', () => {
    const token = (workerId: string, claimId = 't1'): RecordDraft => ({
      type: 'token.claimed',
      queue: Q,
      claimId,
      workerId,
    });
    const s = foldAll(
      dispatchFold,
      stampAll([
        [1, token('A')],
        [2, token('B')],
        [3, token('B', 't2')],
        [4, { ...token('C'), queue: 'other' }],
      ]),
    );
    expect(s.tokens.size).toBe(3);
    expect([...s.tokens.values()].map((t) => [t.workerId, t.position])).toEqual([
      ['A', 0],
      ['B', 2],
      ['C', 3],
    ]);
  });

  it('counts broadcast results without claims', () => {
    const s = foldAll(
      dispatchFold,
      stampAll([
        [1, published('a')],
        [1, registered({ delivery: 'broadcast' })],
        [2, result({ event: 0, worker: 'A' })],
        [2, result({ event: 0, worker: 'B' })],
        [2, result({ event: 0, worker: 'C', status: 'failed' })],
      ]),
    );
    expect(sub(s).counts).toMatchObject({ done: 2, failed: 1, rejected: 0 });
  });

  it('skips records of unknown types but keeps the clock', () => {
    const s = fold([5000, { type: 'from.the.future', anything: 1 }]);
    expect(s.time).toBe(5000);
    expect(s.position).toBe(4);
  });
});

describe('reservations (claim.reserved)', () => {
  // Positions 0–2 are events, 3 registers `q/s`, 4 on are the records given.
  const owners = (state: DispatchState) =>
    [...sub(state).items.values()].map((i) => [i.eventPosition, i.owner, i.claimPosition, i.attempt]);

  it('binds the next events to the reserving worker as they are folded: the event is its own claim', () => {
    const state = fold(
      [1010, reserved('A', 2, 1000, 300)],
      [1020, published('d')],
      [1030, published('e')],
      [1040, published('f')],
    );
    expect(owners(state)).toEqual([
      [5, 'A', 5, 1],
      [6, 'A', 6, 1],
    ]);
    expect(sub(state).items.get(5)).toMatchObject({ status: 'claimed', leaseUntil: 1320 });
    expect(sub(state).items.has(7)).toBe(false); // the slots ran out: f waits for a claim
    expect(sub(state).reservations.size).toBe(0);
    expect(state.queues.get(Q)?.reserved.size).toBe(0);
  });

  it('a bound event is leased: a claim on it loses, the holder’s result counts, and so does its skip', () => {
    const state = fold(
      [1010, reserved('A', 2)],
      [1020, published('d')], // 5
      [1021, published('e')], // 6
      [1030, acquired({ event: 5, worker: 'B', attempt: 2 })], // the next attempt, but inside the lease
      [1040, result({ event: 5, worker: 'A' })],
      [1050, result({ event: 6, worker: 'A', status: 'skipped' })],
    );
    expect(sub(state).counts).toMatchObject({ done: 1, skipped: 1, rejected: 0 });
    expect(state.rejected.size).toBe(0);
    expect(sub(state).finishedBelow).toBe(0); // events 0–2 are still open
  });

  it('does not bind held (delayed) events, keyed twins, or after the reservation expired', () => {
    const held = fold([1010, reserved('A', 3)], [1020, published('d', { delay: 50 })]);
    expect(sub(held).items.size).toBe(0);
    expect(sub(held).reservations.get('A')?.slots).toBe(3);

    const twins = fold(
      [1010, published('k1', { headers: { key: 'k' } })], // 4, before the reservation: not bound
      [1011, reserved('A', 3)],
      [1020, published('k2', { headers: { key: 'k' } })], // 6: a twin, never dispatched
    );
    expect(sub(twins).items.size).toBe(0);

    const expired = fold([1010, reserved('A', 3, 100)], [1110, published('d')]);
    expect(sub(expired).items.size).toBe(0);
    expect(sub(expired).reservations.size).toBe(0);
  });

  it('adds slots, renews with 0 slots, cancels with ttl 0; worker.left and control orders drop them', () => {
    const added = fold([1010, reserved('A', 1, 100)], [1050, reserved('A', 2, 100)]);
    expect(sub(added).reservations.get('A')).toEqual({ slots: 3, expiresAt: 1150, leaseMs: 100 });
    const renewed = fold(
      [1010, reserved('A', 1, 100)],
      [1100, reserved('A', 0, 100)],
      [1150, published('d')],
    );
    expect(owners(renewed)).toEqual([[6, 'A', 6, 1]]);
    const lapsed = fold([1010, reserved('A', 1, 100)], [1200, reserved('A', 0, 100)]);
    expect(sub(lapsed).reservations.size).toBe(0); // nothing left to renew
    const cancelled = fold([1010, reserved('A', 1)], [1020, reserved('A', 0, 0)], [1030, published('d')]);
    expect(sub(cancelled).items.size).toBe(0);
    const left = fold([1010, reserved('A', 1)], [1020, worker('worker.left', 'A')], [1030, published('d')]);
    expect(sub(left).items.size).toBe(0);
    const ended = fold(
      [1010, reserved('A', 1)],
      [1020, { type: 'control.end', queue: Q, timeout: 0 }],
      [1030, published('d')],
    );
    expect(sub(ended).items.size).toBe(0);
  });

  it('renews the reservations a heartbeat names (one record for every subscriber), not the others', () => {
    const beat = (worker: string, renews: string[] | undefined, ttlMs = 100): RecordDraft => ({
      type: 'worker.heartbeat',
      workerId: worker,
      host: 'h',
      pid: 1,
      queues: [Q],
      subscribers: [SUB],
      ttlMs,
      ...(renews ? { renews } : {}),
    });
    const renewed = fold([1010, reserved('A', 1, 100)], [1100, beat('A', [SUB])], [1150, published('d')]);
    expect(owners(renewed)).toEqual([[6, 'A', 6, 1]]);
    expect(sub(renewed).reservations.size).toBe(0); // its one slot was used
    const named = fold([1010, reserved('A', 1, 100)], [1100, beat('A', [SUB], 300)]);
    expect(sub(named).reservations.get('A')).toMatchObject({ slots: 1, expiresAt: 1400 });
    // a beat that does not name the subscriber, or from another worker, or an old one without `renews`
    for (const other of [beat('A', ['q/other']), beat('B', [SUB]), beat('A', undefined)]) {
      const state = fold([1010, reserved('A', 1, 100)], [1100, other], [1150, published('d')]);
      expect(sub(state).items.size).toBe(0);
      expect(sub(state).reservations.size).toBe(0); // expired at 1110, dropped when d came
    }
    const lapsed = fold([1010, reserved('A', 1, 100)], [1200, beat('A', [SUB])]);
    expect(sub(lapsed).reservations.size).toBe(0); // expired before the beat: nothing to renew
    expect(lapsed.queues.get(Q)?.reserved.size).toBe(0);
  });

  it('gives each event to the worker with the most slots left, the earliest reservation on a tie', () => {
    const state = fold(
      [1010, reserved('A', 1)],
      [1011, reserved('B', 2)],
      [1020, published('d')], // B (2 > 1)
      [1021, published('e')], // A (tie 1:1, A reserved first)
      [1022, published('f')], // B
      [1023, published('g')], // none left
    );
    expect(owners(state)).toEqual([
      [6, 'B', 6, 1],
      [7, 'A', 7, 1],
      [8, 'B', 8, 1],
    ]);
  });

  it('drops the reservations of a deleted subscriber, and of one registered again as broadcast', () => {
    const deleted = fold(
      [1010, reserved('A', 2)],
      [1020, { type: 'subscriber.deleted', queue: Q, subscriberId: SUB }],
      [1030, published('d')],
    );
    expect(sub(deleted).reservations.size).toBe(0);
    expect(sub(deleted).items.size).toBe(0);
    expect(deleted.queues.get(Q)?.reserved.size).toBe(0);
    const broadcast = fold(
      [1010, reserved('A', 2)],
      [1020, registered({ delivery: 'broadcast' })],
      [1030, published('d')],
    );
    expect(sub(broadcast).items.size).toBe(0);
    expect(sub(broadcast).reservations.size).toBe(0);
  });

  it('ignores a reservation for a broadcast or unknown subscriber', () => {
    const state = foldAll(
      dispatchFold,
      stampAll([
        [1000, registered({ delivery: 'broadcast' })],
        [1010, reserved('A', 2)],
        [1020, published('d')],
      ]),
    );
    expect(sub(state).items.size).toBe(0);
    expect(sub(state).reservations.size).toBe(0);
  });
});

describe('workers fold', () => {
  it('judges liveness by the ttl against log time, and ends it with worker.left', () => {
    const s = foldAll(
      workersFold,
      stampAll([
        [1000, worker('worker.joined', 'A', 100)],
        [1000, worker('worker.joined', 'B', 100)],
        [1050, worker('worker.heartbeat', 'A', 100)],
        [1120, worker('worker.joined', 'C', 100)],
      ]),
    );
    const [a, b, c] = ['A', 'B', 'C'].map((id) => s.workers.get(id)!);
    expect(s.time).toBe(1120);
    expect(isAlive(a!, s.time)).toBe(true); // beat at 1050, alive until 1150
    expect(isAlive(b!, s.time)).toBe(false); // silent since 1000
    expect(a!.lastBeat).toBe(1050);
    expect(a!.joinedAt).toBe(1000);
    expect(liveHosts(s, SUB)).toEqual(['A', 'C']);
    expect(liveHosts(s, 'q/other')).toEqual([]);

    const leaving = stampAll([
      ...Array<[number, RecordDraft]>(4).fill([0, { type: 'pad' }]),
      [1121, worker('worker.left', 'C')],
    ]);
    const left = workersFold.evolve(s, leaving[4]!);
    expect(left.workers.get('C')?.leftAt).toBe(1121);
    expect(liveHosts(left, SUB)).toEqual(['A']);
    expect(isAlive(c!, 1121)).toBe(false);
  });

  it('drops workers gone for an hour of log time', () => {
    const s = foldAll(
      workersFold,
      stampAll([
        [1000, worker('worker.joined', 'A')],
        [1000, worker('worker.left', 'A')],
        [1000 + 3_600_001, worker('worker.joined', 'B')],
        [1000 + 3_600_002, worker('worker.left', 'B')],
      ]),
    );
    expect([...s.workers.keys()]).toEqual(['B']);
  });
});

describe('stats fold', () => {
  it('counts events and results by status per queue', () => {
    const s = foldAll(
      statsFold,
      stampAll([
        [1, published('a')],
        [1, published('b')],
        [2, result({ event: 0, worker: 'A' })],
        [3, result({ event: 1, worker: 'A', status: 'failed' })],
        [4, result({ event: 1, worker: 'A', status: 'timeout' })],
        [5, result({ event: 1, worker: 'A', status: 'skipped' })],
      ]),
    );
    expect(s.queues.get(Q)).toMatchObject({
      published: 2,
      results: { ok: 1, failed: 1, timeout: 1, skipped: 1 },
      lastTime: 5,
    });
    expect(s.queues.get(Q)?.throughput).toBeGreaterThan(0);
  });
});
