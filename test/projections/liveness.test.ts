import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  deathOf,
  dispatchFold,
  foldAll,
  resultRef,
  type DispatchState,
  type RecordDraft,
  type StoredRecord,
} from '../../index.js';
import {
  acquired,
  batch,
  crashed,
  extended,
  published,
  registered,
  reported,
  result,
  reserved,
  SUB,
  stampAll,
  worker,
} from '../support/drafts.js';
import { foldWithInvariants } from '../support/log.js';

// Positions 0–1 are events, 2 registers `q/s`, 3 and 4 are workers A and B joining (TTL 100 ms).
const setup: [number, RecordDraft][] = [
  [1000, published('a')],
  [1000, published('b')],
  [1000, registered()],
  [1000, worker('worker.joined', 'A')],
  [1000, worker('worker.joined', 'B')],
];

function records(...rest: [number, RecordDraft][]): StoredRecord[] {
  return stampAll([...setup, ...rest]);
}

function fold(...rest: [number, RecordDraft][]): DispatchState {
  return foldAll(dispatchFold, records(...rest));
}

function sub(state: DispatchState) {
  const s = state.subscribers.get(SUB);
  if (!s) throw new Error('subscriber missing');
  return s;
}

/** The invariant checker's violations over the log. */
function violations(log: StoredRecord[]): string[] {
  return foldWithInvariants(log).violations.map((v) => `${v.kind}: ${v.message}`);
}

const LONG = 60_000;

describe('the claims of a dead worker (liveness)', () => {
  it('end with worker.left crashed: the first report of the attempt counts as a failure, retried', () => {
    const log = records(
      [1010, acquired({ event: 0, worker: 'A', leaseMs: LONG })], // 5
      [1020, worker('worker.heartbeat', 'A')],
      [1030, crashed('A')], // 7
      [1040, reported({ event: 0, worker: 'A', by: 'B', retryAt: 1100 })], // 8: counts
      [1041, reported({ event: 0, worker: 'A', by: 'C', retryAt: 1100 })], // 9: a second report
      [1042, result({ event: 0, worker: 'A' })], // 10: the dead worker's own late result
    );
    const s = foldAll(dispatchFold, log);
    expect(sub(s).items.get(0)).toMatchObject({
      status: 'retry',
      failures: 1,
      availableAt: 1100,
      attempt: 1,
    });
    expect(sub(s).counts).toMatchObject({ failed: 1, done: 0, rejected: 1 }); // only 10 is fenced
    expect(s.rejected.has(resultRef({ position: 8 }))).toBe(false);
    expect(s.rejected.has(resultRef({ position: 9 }))).toBe(true);
    expect(s.rejected.has(resultRef({ position: 10 }))).toBe(true);
    expect(violations(log)).toEqual([]);
  });

  it('takes no report while the worker lives, and none after its claim moved on', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A', leaseMs: LONG })],
      [1020, reported({ event: 0, worker: 'A', by: 'B', retryAt: 1100 })], // A is alive: rejected
      [1030, result({ event: 0, worker: 'A', status: 'failed', retryAt: 1040 })], // A's own failure
      [1050, acquired({ event: 0, worker: 'B', attempt: 2, leaseMs: LONG })],
      [1060, crashed('A')],
      [1070, reported({ event: 0, worker: 'A', by: 'B', attempt: 1 })], // A no longer holds it
    );
    expect(sub(s).items.get(0)).toMatchObject({ status: 'claimed', owner: 'B', attempt: 2, failures: 1 });
    expect(sub(s).counts.failed).toBe(1);
    expect(sub(s).counts.rejected).toBe(0);
  });

  it('past the retry limit (no retryAt), the report makes the event dead', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A', leaseMs: LONG })],
      [1030, crashed('A')],
      [1040, reported({ event: 0, worker: 'A', by: 'B' })],
    );
    expect(sub(s).items.get(0)?.status ?? 'finished').toBe('finished'); // dead, and left the hot view
    expect(sub(s).counts).toMatchObject({ failed: 1, dead: 1 });
    expect([...sub(s).dead]).toEqual([0]);
  });

  it('a dead worker keeps no lease for itself, yet its claim blocks others until reported', () => {
    const s = fold(
      [1010, acquired({ event: 0, worker: 'A', leaseMs: LONG })],
      [1030, crashed('A')],
      [1040, extended({ event: 0, worker: 'A', leaseMs: LONG })], // ignored
      [1050, acquired({ event: 0, worker: 'B', attempt: 2, leaseMs: LONG })], // loses: not reported yet
    );
    expect(sub(s).items.get(0)).toMatchObject({ status: 'claimed', owner: 'A', attempt: 1 });
    expect(deathOf(s, sub(s).items.get(0)!, s.time)).toEqual({ at: 1030, how: 'exited with code 3' });
    const after = fold(
      [1010, acquired({ event: 0, worker: 'A', leaseMs: LONG })],
      [1030, crashed('A')],
      [1040, reported({ event: 0, worker: 'A', by: 'B', retryAt: 1045 })],
      [1050, acquired({ event: 0, worker: 'B', attempt: 2, leaseMs: LONG })],
    );
    expect(sub(after).items.get(0)).toMatchObject({ status: 'claimed', owner: 'B', attempt: 2 });
  });

  it('a worker with no heartbeat for its TTL is dead by log time, and its claims stay dead if it comes back', () => {
    const log = records(
      [1010, acquired({ event: 0, worker: 'A', leaseMs: LONG })], // 5
      [1090, reported({ event: 0, worker: 'A', by: 'B', retryAt: 2000 })], // 6: A beats until 1100
      [1150, worker('worker.heartbeat', 'B')],
      [1200, worker('worker.heartbeat', 'A')], // 8: A is back, its claim at 5 is not
      [1210, acquired({ event: 1, worker: 'A', leaseMs: LONG })], // 9: a new claim of A lives
      [1220, result({ event: 0, worker: 'A' })], // 10: fenced
      [1230, reported({ event: 0, worker: 'A', by: 'B', retryAt: 2000 })], // 11: counts
      [1240, reported({ event: 1, worker: 'A', by: 'B' })], // 12: A lives: rejected
    );
    const s = foldAll(dispatchFold, log);
    expect(sub(s).items.get(0)).toMatchObject({ status: 'retry', failures: 1 });
    expect(sub(s).items.get(1)).toMatchObject({ status: 'claimed', owner: 'A' });
    for (const p of [6, 10, 12]) expect(s.rejected.has(resultRef({ position: p })), `${p}`).toBe(true);
    expect(s.rejected.has(resultRef({ position: 11 }))).toBe(false);
    expect(violations(log)).toEqual([]);
  });

  it('reports of several events in one results.recorded, and a bound event of a dead reservation', () => {
    const log = records(
      [1010, reserved('A', 1, LONG, LONG)], // 5
      [1020, published('c')], // 6: bound to A as published
      [
        1030,
        batch(
          'claims.acquired',
          [0, 1].map((event) => acquired({ event, worker: 'A', leaseMs: LONG })),
        ),
      ],
      [1040, crashed('A', 'killed by SIGKILL')],
      [
        1050,
        {
          ...(batch(
            'results.recorded',
            [0, 1, 6].map((event) => reported({ event, worker: 'A', by: 'B', retryAt: 1100 })),
          ) as Record<string, unknown>),
          reportedBy: 'B',
        } as RecordDraft,
      ],
    );
    const s = foldAll(dispatchFold, log);
    for (const p of [0, 1, 6])
      expect(sub(s).items.get(p), `${p}`).toMatchObject({ status: 'retry', failures: 1 });
    expect(sub(s).counts.failed).toBe(3);
    expect(violations(log)).toEqual([]);
  });

  it('workers unknown to the fold (logs from before worker records counted) keep lease-only rules', () => {
    const s = foldAll(
      dispatchFold,
      stampAll([
        [1000, published('a')],
        [1000, registered()],
        [1010, acquired({ event: 0, worker: 'X', leaseMs: 100 })],
        [1020, reported({ event: 0, worker: 'X', by: 'B' })], // X never joined: not known dead
        [1030, result({ event: 0, worker: 'X' })],
      ]),
    );
    expect(sub(s).counts).toMatchObject({ done: 1, failed: 0 });
  });
});

describe('claims, deaths and reports under random interleavings', () => {
  const step = fc.record({
    kind: fc.constantFrom(
      'acquire',
      'acquire',
      'extend',
      'ok',
      'retry',
      'beat',
      'beat',
      'crash',
      'report',
      'report',
    ),
    worker: fc.constantFrom('A', 'B', 'C'),
    by: fc.constantFrom('A', 'B', 'C'),
    event: fc.constantFrom(0, 1),
    attempt: fc.integer({ min: 1, max: 3 }),
    dt: fc.integer({ min: 0, max: 80 }),
  });

  it('accepts at most one result per event and attempt, and the invariant checker agrees with the fold', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        let time = 1000;
        const timed: [number, RecordDraft][] = [
          ...setup,
          ...(['A', 'B', 'C'] as const).map((w): [number, RecordDraft] => [
            1000,
            worker('worker.heartbeat', w, 300),
          ]),
        ];
        for (const s of steps) {
          time += s.dt;
          const a = { event: s.event, worker: s.worker, attempt: s.attempt };
          const draft =
            s.kind === 'acquire'
              ? acquired({ ...a, leaseMs: 150 })
              : s.kind === 'extend'
                ? extended({ ...a, leaseMs: 150 })
                : s.kind === 'ok'
                  ? result(a)
                  : s.kind === 'retry'
                    ? result({ ...a, status: 'failed', retryAt: time + s.dt })
                    : s.kind === 'beat'
                      ? worker('worker.heartbeat', s.worker, 300)
                      : s.kind === 'crash'
                        ? crashed(s.worker)
                        : reported({ ...a, by: s.by, retryAt: time + s.dt });
          timed.push([time, draft]);
        }
        const log = stampAll(timed);
        expect(violations(log)).toEqual([]);
        const state = foldAll(dispatchFold, log);
        const accepted = new Set<string>();
        for (const r of log) {
          if (r.type !== 'result.recorded' || state.rejected.has(resultRef(r))) continue;
          const { eventPosition, attempt } = r as unknown as { eventPosition: number; attempt: number };
          const key = `${eventPosition}/${attempt}`;
          expect(accepted.has(key), key).toBe(false);
          accepted.add(key);
        }
      }),
      { numRuns: 300 },
    );
  });
});
