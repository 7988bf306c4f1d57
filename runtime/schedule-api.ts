import { NotFoundError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { CatchUp, ScheduleRegistered } from '../engine/records.js';
import { hasEnded, nextSlot, scheduleKey, type ScheduleState } from '../projections/schedules.js';
import { paginate } from './paging.js';
import { caughtUp, type QueryContext } from './queue-queries.js';
import { resolveSchedule, type ScheduleOptions } from './schedule-options.js';
import type { Page, PageOptions } from './types.js';

/** A schedule as `getSchedule` / `searchSchedules` give it: its definition and what it fired. */
export interface ScheduleInfo<T = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly cron?: string;
  readonly tz?: string;
  readonly every?: number;
  readonly at?: number;
  readonly startAt?: number;
  readonly endAt?: number;
  readonly limit?: number;
  readonly payload: T;
  readonly headers: Readonly<Record<string, string>>;
  readonly catchUp: CatchUp;
  readonly maxCatchUp: number;
  /** Log time of the first registration (since the schedule was last added). */
  readonly createdAt: number;
  /** Log time of the current definition. */
  readonly updatedAt: number;
  /** The earliest slot not yet fired (ms since the epoch); null once the schedule ended. */
  readonly nextSlot: number | null;
  /** The latest slot fired; null before the first. */
  readonly lastSlot: number | null;
  /** Slots fired since the schedule was added. */
  readonly fired: number;
  /** True when it will fire no more: `limit` reached, past `endAt`, or a one-off that fired. */
  readonly ended: boolean;
}

/** Fields of the definition that make an upsert a change (a same definition appends nothing). */
const DEFINITION = [
  'cron',
  'tz',
  'every',
  'at',
  'startAt',
  'endAt',
  'limit',
  'catchUp',
  'maxCatchUp',
] as const;

export async function schedule<T>(
  m: QueryContext,
  queue: string,
  id: string,
  options: ScheduleOptions<T>,
): Promise<ScheduleInfo<T>> {
  const body = resolveSchedule(queue, id, options);
  await caughtUp(m);
  const existing = state(m, queue, id);
  if (!existing || !same(existing.def, body)) {
    const { positions } = await m.store.append([{ type: 'schedule.registered', ...body }]);
    await m.views.waitFor(positions[0] as Position);
  }
  return info<T>(state(m, queue, id) as ScheduleState);
}

/** Removes a schedule: true for the call whose record removed it, false when it was not there. */
export async function unschedule(m: QueryContext, queue: string, id: string): Promise<boolean> {
  await caughtUp(m);
  const s = state(m, queue, id);
  if (!s || s.deleted) return false;
  const { positions } = await m.store.append([{ type: 'schedule.deleted', queue, scheduleId: id }]);
  await m.views.waitFor(positions[0] as Position);
  return state(m, queue, id)?.deletedPosition === positions[0];
}

/** @throws NotFoundError when the queue has no such schedule (or it was removed). */
export async function getSchedule<T>(m: QueryContext, queue: string, id: string): Promise<ScheduleInfo<T>> {
  await caughtUp(m);
  const s = state(m, queue, id);
  if (!s || s.deleted) throw new NotFoundError('schedule', `${queue}/${id}`);
  return info<T>(s);
}

export async function searchSchedules<T>(
  m: QueryContext,
  queue: string,
  options: PageOptions,
): Promise<Page<ScheduleInfo<T>>> {
  await caughtUp(m);
  const live = [...m.views.schedules.schedules.values()]
    .filter((s) => s.queue === queue && !s.deleted)
    .sort((a, b) => a.createdPosition - b.createdPosition);
  const page = paginate(live, options, (s) => s.createdPosition);
  return { items: page.items.map((s) => info<T>(s)), nextPageId: page.nextPageId };
}

function state(m: QueryContext, queue: string, id: string): ScheduleState | undefined {
  return m.views.schedules.schedules.get(scheduleKey(queue, id));
}

function same(a: Omit<ScheduleRegistered, 'type'>, b: Omit<ScheduleRegistered, 'type'>): boolean {
  return (
    DEFINITION.every((k) => a[k] === b[k]) &&
    JSON.stringify(a.payload) === JSON.stringify(b.payload) &&
    JSON.stringify(a.headers ?? {}) === JSON.stringify(b.headers ?? {})
  );
}

function info<T>(s: ScheduleState): ScheduleInfo<T> {
  const d = s.def;
  const next = nextSlot(s);
  return {
    id: s.scheduleId,
    queue: s.queue,
    ...(d.cron === undefined ? {} : { cron: d.cron }),
    ...(d.tz === undefined ? {} : { tz: d.tz }),
    ...(d.every === undefined ? {} : { every: d.every }),
    ...(d.at === undefined ? {} : { at: d.at }),
    ...(d.startAt === undefined ? {} : { startAt: d.startAt }),
    ...(d.endAt === undefined ? {} : { endAt: d.endAt }),
    ...(d.limit === undefined ? {} : { limit: d.limit }),
    payload: d.payload as T,
    headers: d.headers ?? {},
    catchUp: d.catchUp,
    maxCatchUp: d.maxCatchUp,
    createdAt: s.createdAt,
    updatedAt: s.registeredAt,
    nextSlot: next ?? null,
    lastSlot: s.lastSlot ?? null,
    fired: s.fired,
    ended: hasEnded(s),
  };
}
