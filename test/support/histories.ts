import fc from 'fast-check';
import type { Position, RecordDraft, StoredRecord } from '../../index.js';
import { slotKey } from '../../projections/schedules.js';
import {
  acquired,
  batch,
  crashed,
  extended,
  published,
  Q,
  registered,
  released,
  reported,
  reserved,
  result,
  SUB,
  worker,
} from './drafts.js';

/** Queue `q` has subscribers `q/s` (competing) and `q/b` (broadcast); queue `lone` has none. */
export const BROADCAST = 'q/b';
const WORKERS = ['A', 'B', 'C'] as const;

/** One step of a random history: a kind, and picks that the builder maps onto what the log holds. */
const step = fc.record({
  kind: fc.constantFrom(
    'publish',
    'publish',
    'publish',
    'publish-lone',
    'publish-keyed',
    'publish-delayed',
    'acquire',
    'acquire',
    'acquire-batch',
    'extend',
    'release',
    'reserve',
    'ok',
    'ok',
    'ok-batch',
    'fail',
    'retry',
    'skip',
    'broadcast-ok',
    'report-crash',
    'heartbeat',
    'join',
    'left',
    'crashed',
    'end',
    'interrupt',
    'redrive',
    'schedule',
    'schedule-fire',
    'schedule-delete',
    'token',
    'delete-sub',
    'reregister',
    'foreign',
  ),
  worker: fc.constantFrom(...WORKERS),
  pick: fc.nat({ max: 1000 }),
  attempt: fc.constantFrom(1, 1, 1, 2, 3),
  dt: fc.integer({ min: 0, max: 60 }),
});
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

/** Random histories of realistic records, stamped from position 0. */
export const histories = fc
  .array(step, { minLength: 1, maxLength: 200, size: 'large' })
  .map((steps) => build(steps));

function build(steps: readonly Step[]): StoredRecord[] {
  let time = 1_000_000;
  const events: Position[] = [];
  const log: StoredRecord[] = [];
  const add = (draft: RecordDraft | undefined): void => {
    if (draft) log.push({ ...draft, v: 1, position: log.length, time });
  };
  add(worker('worker.joined', 'A', 500));
  add(registered());
  // Half the histories have a broadcast subscriber too (which keeps events open until each worker ran them).
  if (steps.length % 2 === 0) add(registered({ delivery: 'broadcast', subscriberId: BROADCAST }));
  // Claims made so far: most results and extensions come from a claim's worker for its attempt.
  const claims: { event: Position; worker: string; attempt: number }[] = [];
  for (const s of steps) {
    time += s.dt;
    const event = events.length === 0 ? undefined : (events[s.pick % events.length] as Position);
    if (s.kind.startsWith('publish') && s.kind !== 'publish-lone') events.push(log.length);
    const held = s.pick % 4 !== 0 ? claims[s.pick % Math.max(1, claims.length)] : undefined;
    const fresh = { event: event ?? 0, worker: s.worker, attempt: s.attempt };
    const a = s.kind === 'acquire' ? fresh : (held ?? fresh);
    if (s.kind === 'acquire' && event !== undefined) claims.push(a);
    add(draftOf(s, a, event, time));
  }
  return log;
}

function draftOf(
  s: Step,
  a: { event: Position; worker: string; attempt: number },
  event: Position | undefined,
  time: number,
): RecordDraft | undefined {
  switch (s.kind) {
    case 'publish':
      return published(`e${s.pick}`, s.pick % 5 === 0 ? { priority: s.pick % 3 } : {});
    case 'publish-lone':
      return { ...published(`l${s.pick}`), queue: 'lone' };
    case 'publish-keyed':
      return published(`k${s.pick}`, { headers: { key: `key${s.pick % 4}` }, keyTtl: 200 });
    case 'publish-delayed':
      return published(`d${s.pick}`, s.pick % 2 === 0 ? { delay: s.dt * 3 } : { availableAt: time + s.dt });
    case 'acquire':
      return event === undefined ? undefined : acquired({ ...a, leaseMs: 50 + s.dt });
    case 'acquire-batch':
      return event === undefined
        ? undefined
        : batch('claims.acquired', [acquired(a), acquired({ ...a, event: event + 1 })]);
    case 'extend':
      return event === undefined ? undefined : extended(a);
    case 'release':
      return event === undefined ? undefined : released(a);
    case 'reserve':
      return reserved(s.worker, s.pick % 3, 100 + s.dt);
    case 'ok':
      return event === undefined ? undefined : result(a);
    case 'ok-batch':
      return event === undefined
        ? undefined
        : batch('results.recorded', [result(a), result({ ...a, event: event + 1, status: 'skipped' })]);
    case 'fail':
      return event === undefined ? undefined : result({ ...a, status: 'failed' });
    case 'retry':
      return event === undefined ? undefined : result({ ...a, status: 'failed', retryAt: time + s.dt });
    case 'skip':
      return event === undefined ? undefined : result({ ...a, status: 'skipped' });
    case 'broadcast-ok':
      return event === undefined ? undefined : result({ ...a, subscriberId: BROADCAST });
    case 'report-crash':
      return event === undefined ? undefined : reported({ ...a, by: 'A', retryAt: time + 5 });
    case 'heartbeat':
      return worker('worker.heartbeat', s.worker, 200);
    case 'join':
      return worker('worker.joined', s.worker, 100 + s.dt);
    case 'left':
      return worker('worker.left', s.worker);
    case 'crashed':
      return crashed(s.worker);
    case 'end':
      return { type: 'control.end', queue: Q, timeout: 100 };
    case 'interrupt':
      return { type: 'control.interrupt', queue: Q };
    case 'redrive':
      return event === undefined
        ? undefined
        : { type: 'events.redriven', queue: Q, subscriberId: SUB, eventPositions: [event] };
    case 'schedule':
      return {
        type: 'schedule.registered',
        queue: Q,
        scheduleId: `s${s.pick % 2}`,
        payload: { n: s.pick },
        every: 10 + s.dt,
        catchUp: 'latest',
        maxCatchUp: 3,
      };
    case 'schedule-fire': {
      const id = `s${s.pick % 2}`;
      const slot = Math.floor(time / 10) * 10;
      return published(`f${s.pick}`, {
        headers: { scheduleId: id, scheduledFor: new Date(slot).toISOString(), key: slotKey(id, slot) },
      });
    }
    case 'schedule-delete':
      return { type: 'schedule.deleted', queue: Q, scheduleId: `s${s.pick % 2}` };
    case 'token':
      return {
        type: 'token.claimed',
        queue: Q,
        claimId: `c${s.pick % 3}`,
        workerId: s.worker,
        data: { at: time },
      };
    case 'delete-sub':
      return { type: 'subscriber.deleted', queue: Q, subscriberId: s.pick % 2 === 0 ? SUB : BROADCAST };
    case 'reregister':
      if (s.pick % 4 === 2) return { ...registered(), rateLimit: { max: 2, perMs: 50 } };
      return s.pick % 2 === 0 ? registered() : registered({ delivery: 'broadcast', subscriberId: BROADCAST });
    case 'foreign':
      return { type: 'x.custom', n: s.pick };
  }
}
