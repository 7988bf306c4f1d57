// Compile-time checks (run by `npm run typecheck`) plus their runtime half: the record union and the
// error guard narrow the way users write them.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  isEventyError,
  isRecord,
  NotFoundError,
  stamp,
  type LogRecord,
  type ResultStatus,
} from '../../index.js';

describe('narrowing for users', () => {
  it('a LogRecord narrows on type', () => {
    const r = stamp(
      {
        type: 'result.recorded',
        queue: 'q',
        subscriberId: 's',
        workerId: 'w',
        eventId: 'e',
        eventPosition: 0,
        attempt: 1,
        status: 'ok',
        durationMs: 1,
      },
      1,
      2,
    ) as LogRecord;
    if (r.type === 'result.recorded') {
      expectTypeOf(r.status).toEqualTypeOf<ResultStatus>();
      expectTypeOf(r.queue).toEqualTypeOf<string>();
      expect(r.status).toBe('ok');
    } else expect.unreachable();
    expect(isRecord(r, 'result.recorded') && r.attempt).toBe(1);
    expect(isRecord(r, 'event.published')).toBe(false);
  });

  it('isEventyError narrows to the class of the code', () => {
    const e: unknown = new NotFoundError('event', 'abc');
    if (isEventyError(e, 'not-found')) {
      expectTypeOf(e).toEqualTypeOf<NotFoundError>();
      expectTypeOf(e.code).toEqualTypeOf<'not-found'>();
      expect(e.id).toBe('abc');
    } else expect.unreachable();
    expect(isEventyError(e, 'conflict')).toBe(false);
    const any: unknown = new Error('plain');
    if (isEventyError(any) && any.code === 'not-found') expectTypeOf(any).toEqualTypeOf<NotFoundError>();
    expect(isEventyError(any)).toBe(false);
  });
});
