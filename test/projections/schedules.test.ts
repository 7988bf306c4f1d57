import { describe, expect, it } from 'vitest';
import { foldAll } from '../../projections/fold.js';
import { slotsOf } from '../../projections/schedule-slots.js';
import {
  dueSlots,
  MAX_ON_TIME,
  hasEnded,
  nextSlot,
  scheduleKey,
  schedulesFold,
  slotKey,
  type ScheduleState,
} from '../../projections/schedules.js';
import { stamp, type RecordDraft, type ScheduleTiming, type StoredRecord } from '../../engine/records.js';

const iso = (s: string): number => Date.parse(s);

describe('cron slots with a time zone across DST (fixed clock)', () => {
  it('spring forward in Europe/Berlin: a 02:30 job runs once, at the end of the gap (03:00 CEST)', () => {
    const s = slotsOf({ cron: '30 2 * * *', tz: 'Europe/Berlin' });
    const runs = s.between(iso('2026-03-27T12:00:00Z'), iso('2026-03-31T12:00:00Z'), 10);
    expect(runs.map((t) => new Date(t).toISOString())).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(s.next(iso('2026-03-28T12:00:00Z'))).toBe(iso('2026-03-29T01:00:00Z'));
  });

  it('fall back in Europe/Berlin: 02:30 runs once although the hour repeats; an hourly job runs every real hour', () => {
    const daily = slotsOf({ cron: '30 2 * * *', tz: 'Europe/Berlin' });
    expect(daily.between(iso('2026-10-24T12:00:00Z'), iso('2026-10-25T12:00:00Z'), 10)).toEqual([
      iso('2026-10-25T00:30:00Z'), // 02:30 CEST, the first of the two 02:30s
    ]);
    const hourly = slotsOf({ cron: '0 * * * *', tz: 'Europe/Berlin' });
    expect(hourly.between(iso('2026-10-24T23:30:00Z'), iso('2026-10-25T03:30:00Z'), 10)).toEqual([
      iso('2026-10-25T00:00:00Z'), // 02:00 CEST
      iso('2026-10-25T01:00:00Z'), // 02:00 CET
      iso('2026-10-25T02:00:00Z'),
      iso('2026-10-25T03:00:00Z'),
    ]);
  });

  it('America/New_York: 9:00 on weekdays is 14:00Z before the change and 13:00Z after', () => {
    const s = slotsOf({ cron: '0 9 * * 1-5', tz: 'America/New_York' });
    expect(s.next(iso('2026-03-06T00:00:00Z'))).toBe(iso('2026-03-06T14:00:00Z')); // Fri, EST
    expect(s.next(iso('2026-03-06T15:00:00Z'))).toBe(iso('2026-03-09T13:00:00Z')); // Mon, EDT
  });

  it('6 fields: seconds first; without tz the expression is read in UTC', () => {
    const s = slotsOf({ cron: '*/10 * * * * *' });
    expect(s.between(iso('2026-01-01T00:00:00Z'), iso('2026-01-01T00:00:30Z'), 10)).toEqual([
      iso('2026-01-01T00:00:10Z'),
      iso('2026-01-01T00:00:20Z'),
      iso('2026-01-01T00:00:30Z'),
    ]);
    expect(slotsOf({ cron: '0 9 * * *' }).next(0)).toBe(iso('1970-01-01T09:00:00Z'));
  });

  it('between keeps only the latest max slots; startAt and endAt bound them', () => {
    const t: ScheduleTiming = { every: 100, startAt: 1050, endAt: 1550 };
    expect(slotsOf(t).between(0, 10_000, 3)).toEqual([1350, 1450, 1550]);
    expect(slotsOf(t).next(0)).toBe(1050);
    expect(slotsOf(t).next(1550)).toBeUndefined();
    expect(slotsOf({ every: 100 }).between(1000, 1300, 100)).toEqual([1100, 1200, 1300]);
  });

  it('first keeps the earliest max slots, for every, cron (with tz), a one-off and bounds', () => {
    expect(slotsOf({ every: 100, startAt: 1050, endAt: 1550 }).first(0, 10_000, 3)).toEqual([
      1050, 1150, 1250,
    ]);
    expect(slotsOf({ every: 100 }).first(1000, 1250, 100)).toEqual([1100, 1200]);
    const paris = slotsOf({ cron: '0 9 * * *', tz: 'Europe/Paris' });
    expect(paris.first(iso('2026-03-27T12:00:00Z'), iso('2026-04-30T00:00:00Z'), 3)).toEqual([
      iso('2026-03-28T08:00:00Z'),
      iso('2026-03-29T07:00:00Z'), // summer time from 29 March
      iso('2026-03-30T07:00:00Z'),
    ]);
    expect(paris.first(iso('2026-03-27T12:00:00Z'), iso('2026-03-29T06:00:00Z'), 3)).toHaveLength(1);
    expect(slotsOf({ at: 500 }).first(0, 499, 5)).toEqual([]);
    expect(slotsOf({ at: 500 }).first(0, 500, 5)).toEqual([500]);
  });
});

let position = 0;
function at(time: number, draft: RecordDraft): StoredRecord {
  return stamp(draft, position++, time);
}
function reg(
  time: number,
  timing: ScheduleTiming & { catchUp?: 'none' | 'latest' | 'all'; maxCatchUp?: number },
) {
  return at(time, {
    type: 'schedule.registered',
    queue: 'q',
    scheduleId: 'job',
    payload: 1,
    catchUp: 'latest',
    maxCatchUp: 100,
    ...timing,
  });
}
function fire(time: number, slot: number, key = slotKey('job', slot)): StoredRecord {
  return at(time, {
    type: 'event.published',
    queue: 'q',
    eventId: `e${position}`,
    payload: 1,
    headers: { key, scheduleId: 'job', scheduledFor: new Date(slot).toISOString() },
  });
}
function job(records: StoredRecord[]): ScheduleState {
  const s = foldAll(schedulesFold, records).schedules.get(scheduleKey('q', 'job'));
  if (!s) throw new Error('no schedule');
  return s;
}

describe('schedules fold (log time only)', () => {
  it('counts the first event of each slot; a twin of the same key is not a second fire', () => {
    const s = job([reg(1000, { every: 100 }), fire(1101, 1100), fire(1102, 1100), fire(1203, 1200)]);
    expect(s.fired).toBe(2);
    expect(s.lastSlot).toBe(1200);
    expect(nextSlot(s)).toBe(1300);
    expect(dueSlots(s, 1300, 300)).toEqual([1300]);
  });

  it('the first slot is after the registration; an upsert takes effect from the next slot', () => {
    const first = [reg(1050, { every: 100 })];
    expect(nextSlot(job(first))).toBe(1100);
    // Replaced at 1120 by every:250: slot 1100 is still owed (no lost slot), then 1250, 1500…
    const s = job([...first, reg(1120, { every: 250 })]);
    expect(dueSlots(s, 1600, -Infinity)).toEqual([1100, 1250, 1500]);
    const after = job([...first, reg(1120, { every: 250 }), fire(1121, 1100)]);
    expect(nextSlot(after)).toBe(1250);
    // Nothing of the old definition after the upsert: no 1200, 1300.
    expect(dueSlots(after, 1400, -Infinity)).toEqual([1250]);
  });

  it('catch-up after downtime: none drops missed slots, latest fires the last, all at most maxCatchUp', () => {
    const down = (catchUp: 'none' | 'latest' | 'all') =>
      job([reg(1000, { every: 100, catchUp, maxCatchUp: 3 }), fire(1101, 1100)]);
    // Nobody ran from 1100 on; a scheduler that starts hosting the queue says which slots it missed:
    // those due before `lateBefore` (its start less its lateAfterMs).
    expect(dueSlots(down('none'), 2050, 1750)).toEqual([1800, 1900, 2000]);
    expect(dueSlots(down('none'), 2020, 1990)).toEqual([2000]);
    expect(dueSlots(down('latest'), 2020, 1990)).toEqual([2000]);
    expect(dueSlots(down('latest'), 2090, 2060)).toEqual([2000]);
    expect(dueSlots(down('none'), 2090, 2060)).toEqual([]);
    expect(dueSlots(down('all'), 2090, 2060)).toEqual([1800, 1900, 2000]);
    // A slot exactly at lateBefore is on time.
    expect(dueSlots(down('none'), 2090, 2000)).toEqual([2000]);
  });

  it('slots due while a scheduler hosted the queue all fire, however late it looks at them', () => {
    // Hosting since 1050: a stall until 2090 makes no slot a missed one, whatever the policy.
    const s = job([reg(1000, { every: 100, catchUp: 'none', maxCatchUp: 3 }), fire(1101, 1100)]);
    const all = [1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000];
    expect(dueSlots(s, 2090, 1050)).toEqual(all);
    // At most MAX_ON_TIME at a time, the earliest first: the next call goes on from the last fired.
    const busy = job([reg(0, { every: 1, catchUp: 'none' })]);
    expect(dueSlots(busy, 5000, 0)).toEqual(Array.from({ length: MAX_ON_TIME }, (_, i) => i + 1));
  });

  it('a one-off set in the past is due at its registration: missed only if nobody hosted the queue then', () => {
    const past = (catchUp: 'none' | 'latest') => job([reg(1000, { at: 400, catchUp })]);
    expect(dueSlots(past('none'), 1010, 900)).toEqual([400]);
    expect(dueSlots(past('none'), 3000, 2000)).toEqual([]);
    expect(dueSlots(past('latest'), 3000, 2000)).toEqual([400]);
  });

  it('limit and endAt end a schedule; a one-off ends once fired', () => {
    const limited = job([reg(1000, { every: 100, limit: 2 }), fire(1100, 1100), fire(1200, 1200)]);
    expect(hasEnded(limited)).toBe(true);
    expect(dueSlots(limited, 5000, -Infinity)).toEqual([]);
    const ending = job([reg(1000, { every: 100, endAt: 1250 }), fire(1100, 1100), fire(1200, 1200)]);
    expect(hasEnded(ending)).toBe(true);
    const once = [reg(1000, { at: 900 })];
    expect(dueSlots(job(once), 1000, -Infinity)).toEqual([900]);
    expect(hasEnded(job([...once, fire(1001, 900)]))).toBe(true);
  });

  it('remove then re-add: a new life (count from 0, slots after the re-add); an event with a foreign key is not a fire', () => {
    const s = job([
      reg(1000, { every: 100 }),
      fire(1100, 1100),
      at(1150, { type: 'schedule.deleted', queue: 'q', scheduleId: 'job' }),
      fire(1200, 1200),
      reg(1330, { every: 100 }),
      fire(1400, 1500, 'not-the-slot-key'),
    ]);
    expect(s.deleted).toBe(false);
    expect(s.fired).toBe(0);
    expect(nextSlot(s)).toBe(1400);
  });
});
