import type { Position, RecordDraft, ResultStatus, StoredRecord } from '../../index.js';

/** Builders of record drafts for fold tests: queue `q`, subscriber `q/s`. */
export const Q = 'q';
export const SUB = 'q/s';

export function published(eventId: string, extra: Record<string, unknown> = {}): RecordDraft {
  return { type: 'event.published', queue: Q, eventId, payload: { eventId }, headers: {}, ...extra };
}

export function registered(
  extra: { delivery?: 'competing' | 'broadcast'; startPosition?: Position; subscriberId?: string } = {},
): RecordDraft {
  return {
    type: 'subscriber.registered',
    queue: Q,
    subscriberId: extra.subscriberId ?? SUB,
    name: (extra.subscriberId ?? SUB).slice(Q.length + 1),
    delivery: extra.delivery ?? 'competing',
    retry: { limit: 3, minBackoff: 10, maxBackoff: 100 },
    timeout: 0,
    startPosition: extra.startPosition ?? 0,
  };
}

interface ClaimArgs {
  readonly event: Position;
  readonly worker: string;
  readonly attempt?: number;
}

function base({ event, worker, attempt = 1 }: ClaimArgs) {
  return {
    queue: Q,
    eventId: `e@${event}`,
    eventPosition: event,
    subscriberId: SUB,
    workerId: worker,
    attempt,
  };
}

export function acquired(a: ClaimArgs & { leaseMs?: number }): RecordDraft {
  return { type: 'claim.acquired', ...base(a), leaseMs: a.leaseMs ?? 100 };
}

export function extended(a: ClaimArgs & { leaseMs?: number }): RecordDraft {
  return { type: 'claim.extended', ...base(a), leaseMs: a.leaseMs ?? 100 };
}

export function released(a: ClaimArgs): RecordDraft {
  return { type: 'claim.released', ...base(a) };
}

export function result(
  a: ClaimArgs & { status?: ResultStatus; retryAt?: number; subscriberId?: string },
): RecordDraft {
  return {
    type: 'result.recorded',
    ...base(a),
    ...(a.subscriberId === undefined ? {} : { subscriberId: a.subscriberId }),
    status: a.status ?? 'ok',
    durationMs: 1,
    ...(a.status === 'failed' || a.status === 'timeout' ? { error: { name: 'Error', message: 'x' } } : {}),
    ...(a.retryAt === undefined ? {} : { retryAt: a.retryAt }),
  };
}

export function worker(
  type: 'worker.joined' | 'worker.heartbeat' | 'worker.left',
  workerId: string,
  ttlMs = 100,
): RecordDraft {
  const fields = { workerId, host: 'h', pid: 1, queues: [Q], subscribers: [SUB] };
  return type === 'worker.left' ? { type, ...fields, reason: 'shutdown' } : { type, ...fields, ttlMs };
}

/** Single claims or results of one worker as one batch record (`claims.acquired` / `results.recorded`). */
export function batch(type: 'claims.acquired' | 'results.recorded', singles: RecordDraft[]): RecordDraft {
  const first = singles[0] as unknown as Record<string, unknown>;
  const items = singles.map((s) => {
    const {
      type: _t,
      queue: _q,
      subscriberId: _s,
      workerId: _w,
      leaseMs: _l,
      ...item
    } = s as unknown as Record<string, unknown>;
    return item;
  });
  const shared = { queue: first.queue, subscriberId: first.subscriberId, workerId: first.workerId };
  return type === 'claims.acquired'
    ? { type, ...shared, leaseMs: first.leaseMs, items }
    : { type, ...shared, items };
}

/** A `claim.reserved` of `worker`: `slots` more of its slots, live for `ttlMs` (0 cancels). */
export function reserved(worker: string, slots: number, ttlMs = 1000, leaseMs = 100): RecordDraft {
  return { type: 'claim.reserved', queue: Q, subscriberId: SUB, workerId: worker, slots, leaseMs, ttlMs };
}

/** Stamps drafts as a log would: dense positions from 0, the given (non-decreasing) times. */
export function stampAll(items: readonly (readonly [time: number, draft: RecordDraft])[]): StoredRecord[] {
  return items.map(([time, draft], position) => ({ ...draft, v: 1, position, time }));
}

/** A report by `by` that `worker` died holding the event's claim: its attempt failed (retried at `retryAt`). */
export function reported(a: ClaimArgs & { by: string; retryAt?: number }): RecordDraft {
  return {
    ...(result({ ...a, status: 'failed' }) as Record<string, unknown>),
    error: { name: 'WorkerCrashedError', message: `the worker died (it crashed): worker ${a.worker}` },
    reportedBy: a.by,
  } as RecordDraft;
}

/** `worker.left { reason: 'crashed' }` appended for `workerId` by its supervisor. */
export function crashed(workerId: string, detail = 'exited with code 3'): RecordDraft {
  return {
    type: 'worker.left',
    workerId,
    host: 'h',
    pid: 1,
    queues: [],
    subscribers: [],
    reason: 'crashed',
    detail,
  };
}
