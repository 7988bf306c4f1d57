/**
 * Idempotency keys: the first `event.published` of a queue with a given `headers.key` is the event for
 * `keyTtl` ms of log time (default 24 h, like NATS JetStream's duplicate window); a publish with the
 * same key within that window is its twin, kept in the log but never indexed nor dispatched; after it,
 * the key is free and the next publish with it is a new event.
 *
 * Invariant: `QueueState.keys` maps each live key to the position of its first event and
 * `QueueState.keyUntil` to the log time it expires, both in the order the keys were made (log time
 * never decreases, so the oldest expire first and are dropped from the front: memory stays bounded by
 * the keys of one window).
 * @module
 */
import { KEY_TTL_MS, type RecordOf } from '../../engine/records.js';
import type { QueueState } from './state.js';

/** The part of a queue that keeps its idempotency keys. */
export type KeyWindow = Pick<QueueState, 'keys' | 'keyUntil'>;

/** Whether `r` is the first event of its queue with its key (or has none); notes the key if so. */
export function firstOfKey(q: KeyWindow, r: RecordOf<'event.published'>): boolean {
  expireKeys(q, r.time);
  const key = r.headers.key;
  if (key === undefined) return true;
  if (q.keys.has(key)) return false;
  q.keys.set(key, r.position);
  q.keyUntil.set(key, r.time + (r.keyTtl ?? KEY_TTL_MS));
  return true;
}

/** Drops the keys whose window ended at or before `time`, oldest first. */
function expireKeys(q: KeyWindow, time: number): void {
  for (const [key, until] of q.keyUntil) {
    if (until > time) return;
    q.keyUntil.delete(key);
    q.keys.delete(key);
  }
}

/** The event `key` names at log time `now`, if its window is still open. */
export function liveKey(q: QueueState | undefined, key: string, now: number): number | undefined {
  const until = q?.keyUntil.get(key);
  return until !== undefined && until > now ? q?.keys.get(key) : undefined;
}
