/**
 * Control orders: `control.end` (the workers running now drain what came before it, then stop) and
 * `control.interrupt` (they abort in-flight work and stop). The fold keeps the latest order of each kind
 * per queue; the runtime compares it with when its workers started.
 *
 * Invariant: no reservation outlives an order. Events after an order are for the workers that come
 * later, so none binds to a running worker's reservation.
 * @module
 */
import type { RecordOf } from '../../engine/records.js';
import { queueOf } from './event-index.js';
import { unreserve } from './reservations.js';
import type { DispatchState } from './state.js';

export function ordered(
  state: DispatchState,
  r: RecordOf<'control.end'> | RecordOf<'control.interrupt'>,
): void {
  const q = queueOf(state, r.queue);
  if (r.type === 'control.end') q.endedAt = r.position;
  else q.interruptedAt = r.position;
  for (const sub of [...q.reserved]) unreserve(state, sub);
}
