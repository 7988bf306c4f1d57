import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isEventyError, type StoredRecord } from '../../index.js';
import { QueueEvents } from '../../projections/dispatch/event-index.js';
import {
  foldStates,
  initialStates,
  openEventPositions,
  type FoldStates,
  type Snapshot,
} from '../../projections/snapshot.js';
import { decodeSnapshot, encodeSnapshot, encodeStates } from '../../projections/snapshot-codec.js';
import { histories } from '../support/histories.js';

function foldRange(states: FoldStates, records: readonly StoredRecord[]): FoldStates {
  for (const r of records) foldStates(states, r);
  return states;
}

function parts(q: unknown): unknown {
  if (!(q instanceof QueueEvents)) throw new Error('a queue that is not a QueueEvents');
  return q.toParts();
}

/** The states as plain values: the queues' event indexes (a class with private fields) as their parts. */
function plain(s: FoldStates): unknown {
  const queues = new Map([...s.dispatch.queues].map(([k, q]) => [k, parts(q)]));
  return { ...s, dispatch: { ...s.dispatch, queues } };
}

function snapshotAt(log: readonly StoredRecord[], k: number): Snapshot {
  const states = foldRange(initialStates(), log.slice(0, k + 1));
  const events = openEventPositions(states.dispatch).map((p) => log[p]) as Snapshot['events'];
  return { position: k, time: log[k]?.time ?? 0, states, events };
}

const split = histories.chain((log) =>
  fc.tuple(fc.constant(log), fc.integer({ min: 0, max: log.length - 1 })),
);

describe('snapshots of the folds', () => {
  it('fold(0..n) equals decode(encode(fold(0..k))) folded on with k+1..n, for all four views', () => {
    fc.assert(
      fc.property(split, ([log, k]) => {
        const whole = foldRange(initialStates(), log);
        const snap = decodeSnapshot(encodeSnapshot(snapshotAt(log, k)).bytes, 'test');
        expect(snap.position).toBe(k);
        for (const q of snap.states.dispatch.queues.values()) expect(q).toBeInstanceOf(QueueEvents);
        const resumed = foldRange(snap.states, log.slice(k + 1));
        expect(plain(resumed)).toStrictEqual(plain(whole));
        // Shared references survive: a queue's reservations are the subscribers themselves.
        for (const q of resumed.dispatch.queues.values()) {
          for (const sub of q.reserved) expect(resumed.dispatch.subscribers.get(sub.id)).toBe(sub);
        }
        // The same bytes again: nothing (order of a Map, a field) differs where toStrictEqual is lenient.
        expect(encodeStates(resumed)).toStrictEqual(encodeStates(whole));
      }),
      { numRuns: 150 },
    );
  });

  it('carries every event still open later: those open at n published by k are open at k', () => {
    fc.assert(
      fc.property(split, ([log, k]) => {
        // A subscriber registered afresh after k starts over at its start position: it may reopen events.
        fc.pre(!log.slice(k + 1).some((r) => r.type === 'subscriber.registered'));
        // A broadcast worker first seen after k starts at the subscriber's start: retention cannot keep that.
        fc.pre(!log.some((r) => r.type === 'subscriber.registered' && r.delivery === 'broadcast'));
        const atK = new Set(openEventPositions(snapshotAt(log, k).states.dispatch));
        const atN = openEventPositions(foldRange(initialStates(), log).dispatch).filter((p) => p <= k);
        for (const p of atN) expect(atK.has(p)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('histories finish some events and leave others open (the properties above are not vacuous)', () => {
    let both = 0;
    fc.assert(
      fc.property(histories, (log) => {
        const s = foldRange(initialStates(), log);
        const finished = s.dispatch.subscribers.get('q/s')?.finishedBelow ?? 0;
        if (finished > 0 && openEventPositions(s.dispatch).length > 0) both++;
      }),
      { numRuns: 200 },
    );
    expect(both).toBeGreaterThan(20);
  });
});

describe('snapshot bytes', () => {
  const log = fc.sample(histories, { numRuns: 1, seed: 7 })[0] as StoredRecord[];
  const { bytes } = encodeSnapshot(snapshotAt(log, log.length - 1));

  function decodeError(b: Uint8Array): string {
    try {
      decodeSnapshot(b, 'x');
    } catch (e) {
      expect(isEventyError(e, 'corrupt-record')).toBe(true);
      return (e as Error).message;
    }
    throw new Error('decoded');
  }

  it('refuses any flipped byte, a cut, another magic and a newer formatVersion, saying what it expected', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, x) => {
          const damaged = Uint8Array.from(bytes);
          damaged[at] = (damaged[at] as number) ^ x;
          expect(decodeError(damaged)).toMatch(/snapshot x is unusable/);
        },
      ),
      { numRuns: 200 },
    );
    expect(decodeError(bytes.subarray(0, bytes.length - 1))).toMatch(/expected/);
    expect(decodeError(bytes.subarray(0, 5))).toMatch(/expected a header of 14/);
    const newer = Uint8Array.from(bytes);
    newer[5] = 2;
    expect(decodeError(newer)).toMatch(/formatVersion 2, expected 1/);
  });
});
