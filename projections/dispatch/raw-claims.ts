/**
 * Raw claims (`queue.createClaim`): `token.claimed` records name a key within a queue; the first in log
 * order takes the key, forever. Folds `token.claimed`.
 *
 * Invariant: an entry of `DispatchState.tokens`, once made, never changes (later claims of the key lose).
 * @module
 */
import type { RecordOf } from '../../engine/records.js';
import type { DispatchState } from './state.js';

/** The key of a raw claim in `DispatchState.tokens`. */
export function tokenKey(queue: string, claimId: string): string {
  return `${queue}\u0000${claimId}`;
}

export function tokenClaimed(state: DispatchState, r: RecordOf<'token.claimed'>): void {
  const key = tokenKey(r.queue, r.claimId);
  if (!state.tokens.has(key))
    state.tokens.set(key, { position: r.position, workerId: r.workerId, time: r.time });
}
