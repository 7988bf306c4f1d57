import { Observable, scan, shareReplay, type OperatorFunction } from 'rxjs';
import type { Position } from '../engine/position.js';
import type { StoredRecord } from '../engine/records.js';
import type { LogStore } from '../engine/storage.js';
import type { Fold } from './fold.js';

/**
 * The one place a log becomes an Observable: follows `store` from `from`, completing when unsubscribed
 * (which aborts the follow) and erroring when the store fails.
 */
export function liveRecords$(store: LogStore, from: Position = 0): Observable<StoredRecord> {
  return new Observable<StoredRecord>((subscriber) => {
    const controller = new AbortController();
    void (async () => {
      try {
        for await (const r of store.follow({ from, signal: controller.signal })) subscriber.next(r);
        subscriber.complete();
      } catch (e) {
        subscriber.error(e);
      }
    })();
    return () => controller.abort();
  });
}

/** Folds a record stream into a view, sharing the latest state with every subscriber. */
export function foldView<S>(fold: Fold<S>): OperatorFunction<StoredRecord, S> {
  return (records$) =>
    records$.pipe(
      scan((state: S, r: StoredRecord) => fold.evolve(state, r), fold.initial()),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
}
