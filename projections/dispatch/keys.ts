/**
 * Idempotency keys: the first `event.published` of a queue with a given `headers.key` is the event; a
 * later publish with the same key is its twin, kept in the log but never indexed nor dispatched.
 *
 * Invariant: `QueueState.keys` maps each key to the position of its first event, and never changes a
 * mapping once made.
 * @module
 */
import type { RecordOf } from '../../engine/records.js';
import type { QueueState } from './state.js';

/** Whether `r` is the first event of its queue with its key (or has none); notes the key if so. */
export function firstOfKey(q: QueueState, r: RecordOf<'event.published'>): boolean {
  const key = r.headers.key;
  if (key === undefined) return true;
  if (q.keys.has(key)) return false;
  q.keys.set(key, r.position);
  return true;
}
