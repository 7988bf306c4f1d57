import type { StoredRecord } from '../engine/records.js';

/**
 * A view of the log: `initial()` makes an empty state, `evolve(state, record)` folds one record into it.
 * Folds are deterministic and do no I/O; time comes from the records, never from the clock, so replaying a
 * log yields exactly the views the live system had. For speed, `evolve` may update the state in place and
 * return it: whoever calls it owns the state.
 */
export interface Fold<S> {
  initial(): S;
  evolve(state: S, record: StoredRecord): S;
}

/** Folds an array (or any iterable) of records from the initial state. */
export function foldAll<S>(fold: Fold<S>, records: Iterable<StoredRecord>): S {
  let state = fold.initial();
  for (const r of records) state = fold.evolve(state, r);
  return state;
}
