/**
 * What a handler returns or throws to record its event as `skipped` with a reason instead of `ok`: the
 * event was seen and deliberately not acted on (Eventy's SkipException). Never retried. An Error, so
 * that it can be thrown from deep inside a handler.
 * @example queue.subscribe((e) => (e.payload.test ? skip('test order') : ship(e.payload)));
 */
export class Skip extends Error {
  constructor(readonly reason: string) {
    super(`skipped: ${reason}`);
    this.name = 'Skip';
  }
}

/** A {@link Skip} with `reason`. */
export function skip(reason = ''): Skip {
  return new Skip(reason);
}
