import { Cron } from 'croner';
import { InvalidArgumentError } from '../engine/errors.js';
import type { CatchUp, ScheduleRegistered } from '../engine/records.js';
import { checkName } from './names.js';
import { unknownKeys } from './subscribe-options.js';

/** Options of `queue.schedule(id, options)`: exactly one of `cron`, `every` or `at`. */
export interface ScheduleOptions<T = unknown> {
  /** Cron expression, 5 fields or 6 with seconds first (`'0 9 * * 1-5'`, `'*\/10 * * * * *'`). */
  readonly cron?: string;
  /** IANA time zone of `cron` (`'Europe/Paris'`); default UTC. */
  readonly tz?: string;
  /** Interval: ms, or a duration string (`'500ms'`, `'5s'`, `'5m'`, `'1h30m'`, `'1d'`). */
  readonly every?: number | string;
  /** One-off: the time to fire (ms since the epoch, a Date, or an ISO string). */
  readonly at?: number | Date | string;
  /** No slot before this time; for `every`, slots are `startAt + k·every` (default: multiples since the epoch). */
  readonly startAt?: number | Date | string;
  /** No slot after this time: the schedule ends. */
  readonly endAt?: number | Date | string;
  /** Fire at most this many times, then the schedule ends. */
  readonly limit?: number;
  /** The payload of every fired event. */
  readonly payload: T;
  /** Headers of every fired event (beside `scheduleId`, `scheduledFor` and the slot's key). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Slots missed while no process ran: `'none'`, `'latest'` (default) or `'all'` (at most `maxCatchUp`). */
  readonly catchUp?: CatchUp;
  /** The most missed slots `catchUp: 'all'` fires; default 100. */
  readonly maxCatchUp?: number;
}

const KNOWN = new Set([
  'cron',
  'tz',
  'every',
  'at',
  'startAt',
  'endAt',
  'limit',
  'payload',
  'headers',
  'catchUp',
  'maxCatchUp',
]);
const RESERVED_HEADERS = new Set(['key', 'scheduleId', 'scheduledFor']);

/** The record body of `queue.schedule`, checked. @throws InvalidArgumentError naming the bad option. */
export function resolveSchedule(
  queue: string,
  scheduleId: string,
  o: ScheduleOptions,
): Omit<ScheduleRegistered, 'type'> {
  if (typeof scheduleId !== 'string') {
    throw new InvalidArgumentError(`schedule id must be a string, got: ${JSON.stringify(scheduleId)}`);
  }
  checkName('schedule', scheduleId);
  if (typeof (o as unknown) !== 'object' || (o as unknown) === null) {
    throw new InvalidArgumentError(`schedule options must be an object, got: ${JSON.stringify(o)}`);
  }
  unknownKeys('schedule option', o, KNOWN);
  const kinds = (['cron', 'every', 'at'] as const).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    throw new InvalidArgumentError(
      `a schedule needs exactly one of cron, every or at, got: ${kinds.length === 0 ? 'none' : kinds.join(', ')}`,
    );
  }
  if (o.tz !== undefined && o.cron === undefined)
    throw new InvalidArgumentError('tz applies to cron only; give cron with it');
  if (!('payload' in o) || o.payload === undefined) {
    throw new InvalidArgumentError('a schedule needs a payload (null, a number, a string, an object…)');
  }
  const catchUp = (o.catchUp ?? 'latest') as unknown;
  if (catchUp !== 'none' && catchUp !== 'latest' && catchUp !== 'all') {
    throw new InvalidArgumentError(
      `catchUp must be 'none', 'latest' or 'all', got: ${JSON.stringify(catchUp)}`,
    );
  }
  const maxCatchUp = o.maxCatchUp ?? 100;
  positiveInt('maxCatchUp', maxCatchUp);
  if (o.limit !== undefined) positiveInt('limit', o.limit);
  const startAt = o.startAt === undefined ? undefined : toTime('startAt', o.startAt);
  const endAt = o.endAt === undefined ? undefined : toTime('endAt', o.endAt);
  if (startAt !== undefined && endAt !== undefined && endAt < startAt) {
    throw new InvalidArgumentError(
      `endAt must not be before startAt, got: ${new Date(endAt).toISOString()} < ${new Date(startAt).toISOString()}`,
    );
  }
  const headers = checkHeaders(o.headers);
  return {
    queue,
    scheduleId,
    ...(o.cron === undefined ? {} : { cron: checkCron(o.cron, o.tz) }),
    ...(o.tz === undefined ? {} : { tz: o.tz }),
    ...(o.every === undefined ? {} : { every: duration('every', o.every) }),
    ...(o.at === undefined ? {} : { at: toTime('at', o.at) }),
    ...(startAt === undefined ? {} : { startAt }),
    ...(endAt === undefined ? {} : { endAt }),
    ...(o.limit === undefined ? {} : { limit: o.limit }),
    payload: o.payload,
    ...(headers === undefined ? {} : { headers }),
    catchUp,
    maxCatchUp,
  };
}

function checkCron(expr: unknown, tz: unknown): string {
  if (typeof expr !== 'string')
    throw new InvalidArgumentError(`cron must be a string, got: ${JSON.stringify(expr)}`);
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new InvalidArgumentError(
      `cron must have 5 fields (minute hour day month weekday) or 6 (seconds first), got ${fields}: ${JSON.stringify(expr)}`,
    );
  }
  if (tz !== undefined && typeof tz !== 'string')
    throw new InvalidArgumentError(`tz must be an IANA time zone name, got: ${JSON.stringify(tz)}`);
  try {
    const c = new Cron(expr, { paused: true, ...(tz === undefined ? {} : { timezone: tz }) });
    c.nextRun(); // croner checks the time zone only when it computes a date
  } catch (e) {
    const what =
      e instanceof TypeError && tz !== undefined
        ? `tz ${JSON.stringify(tz)}`
        : `cron ${JSON.stringify(expr)}`;
    throw new InvalidArgumentError(`${what} is not valid: ${(e as Error).message}`, { cause: e });
  }
  return expr;
}

function checkHeaders(h: unknown): Record<string, string> | undefined {
  if (h === undefined) return undefined;
  if (typeof h !== 'object' || h === null)
    throw new InvalidArgumentError('headers must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== 'string')
      throw new InvalidArgumentError(`header ${k} must be a string, got: ${JSON.stringify(v)}`);
    if (RESERVED_HEADERS.has(k))
      throw new InvalidArgumentError(`header ${k} is set by the scheduler; leave it out`);
    out[k] = v;
  }
  return out;
}

function positiveInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer, got: ${JSON.stringify(v)}`);
}

/** A time as ms since the epoch: a number, a Date or an ISO string. */
export function toTime(name: string, v: unknown): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : v;
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw new InvalidArgumentError(
      `${name} must be a time (ms since the epoch, a Date or an ISO string), got: ${JSON.stringify(v)}`,
    );
  }
  return t;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration in ms from a number or a string of number-unit parts (`'500ms'`, `'5m'`, `'1h30m'`). Five
 * units need no library.
 */
export function duration(name: string, v: unknown): number {
  let ms: number | undefined;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(v.trim())) {
    ms = 0;
    for (const [, n, unit] of v.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g))
      ms += Number(n) * (UNIT_MS[unit as string] as number);
  }
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < 1) {
    throw new InvalidArgumentError(
      `${name} must be a whole number of ms ≥ 1 or a duration like '500ms', '5s', '5m', '1h30m', '1d', got: ${JSON.stringify(v)}`,
    );
  }
  return ms;
}
