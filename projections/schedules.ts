import type { Position } from '../engine/position.js';
import { isKnownRecord, type RecordOf, type ScheduleTiming } from '../engine/records.js';
import type { Fold } from './fold.js';
import { slotsOf } from './schedule-slots.js';

/** Slots of an older definition still owed: those in `(after, until]` that were not fired. */
export interface OwedWindow {
  readonly timing: ScheduleTiming;
  readonly after: number;
  readonly until: number;
  /** Log time of the definition: a slot before it (a one-off in the past) is due from then. */
  readonly registeredAt: number;
}

/** One schedule as the log says: its definition, what it fired, whether it was removed. */
export interface ScheduleState {
  readonly queue: string;
  readonly scheduleId: string;
  /** The current definition (the last `schedule.registered`). */
  def: RecordOf<'schedule.registered'>;
  /** Log time of the first registration since the schedule was (re-)added. */
  createdAt: number;
  /** Position of the first registration since the schedule was (re-)added: pages are ordered by it. */
  createdPosition: Position;
  /** Log time of the current definition: it owns the slots after it. */
  registeredAt: number;
  position: Position;
  /** Older definitions' windows with slots not yet fired (an upsert loses none of them). */
  owed: OwedWindow[];
  deleted: boolean;
  /** Position of the `schedule.deleted` that removed it (the first one wins). */
  deletedPosition: Position | undefined;
  /** Slots fired since the schedule was (re-)added (first event of each slot; twins are not counted). */
  fired: number;
  /** The latest slot fired (ms), kept across remove and re-add so a one-off never fires twice. */
  lastSlot: number | undefined;
  /** Log time of the event of the latest slot. */
  lastFiredAt: number | undefined;
}

export interface SchedulesState {
  /** By {@link scheduleKey}. */
  readonly schedules: Map<string, ScheduleState>;
}

/** The map key of a schedule: queue and id. */
export function scheduleKey(queue: string, scheduleId: string): string {
  return `${queue}\u0000${scheduleId}`;
}

/** The idempotency key of one slot's event: any number of processes firing it append one event. */
export function slotKey(scheduleId: string, slot: number): string {
  return `schedule:${scheduleId}:${new Date(slot).toISOString()}`;
}

/** Older windows kept per schedule: more upserts than this before a slot fires drop the oldest. */
const MAX_OWED = 16;

export const schedulesFold: Fold<SchedulesState> = {
  initial: () => ({ schedules: new Map() }),
  evolve(state, r) {
    if (!isKnownRecord(r)) return state;
    if (r.type === 'schedule.registered') register(state, r);
    else if (r.type === 'schedule.deleted') {
      const s = state.schedules.get(scheduleKey(r.queue, r.scheduleId));
      if (s && !s.deleted) {
        s.deleted = true;
        s.deletedPosition = r.position;
      }
    } else if (r.type === 'event.published') {
      const id = r.headers.scheduleId;
      const at = r.headers.scheduledFor;
      if (id === undefined || at === undefined) return state;
      const s = state.schedules.get(scheduleKey(r.queue, id));
      const slot = Date.parse(at);
      if (!s || s.deleted || !Number.isFinite(slot) || r.headers.key !== slotKey(id, slot)) return state;
      // Slots fire in order, so a slot at or before the last one is a twin (or a late straggler).
      if (s.lastSlot !== undefined && slot <= s.lastSlot) return state;
      s.fired++;
      s.lastSlot = slot;
      s.lastFiredAt = r.time;
      s.owed = s.owed.filter((w) => w.until > slot);
    }
    return state;
  },
};

function register(state: SchedulesState, r: RecordOf<'schedule.registered'>): void {
  const key = scheduleKey(r.queue, r.scheduleId);
  const s = state.schedules.get(key);
  if (!s || s.deleted) {
    state.schedules.set(key, {
      queue: r.queue,
      scheduleId: r.scheduleId,
      def: r,
      createdAt: r.time,
      createdPosition: r.position,
      registeredAt: r.time,
      position: r.position,
      owed: [],
      deleted: false,
      deletedPosition: undefined,
      fired: 0,
      lastSlot: s?.lastSlot,
      lastFiredAt: s?.lastFiredAt,
    });
    return;
  }
  s.owed.push({
    timing: s.def,
    after: floorOf(s.def, s.registeredAt),
    until: r.time,
    registeredAt: s.registeredAt,
  });
  s.owed = s.owed.filter((w) => s.lastSlot === undefined || w.until > s.lastSlot).slice(-MAX_OWED);
  s.def = r;
  s.registeredAt = r.time;
  s.position = r.position;
}

/** Slots of a definition start after its registration; a one-off's single slot counts even if past. */
function floorOf(t: ScheduleTiming, registeredAt: number): number {
  return t.at !== undefined ? -Infinity : registeredAt;
}

/** The schedule's windows, oldest first: owed ones, then the current definition's, open-ended. */
function windows(s: ScheduleState): OwedWindow[] {
  const current = { after: floorOf(s.def, s.registeredAt), until: Infinity, registeredAt: s.registeredAt };
  return [...s.owed, { timing: s.def, ...current }];
}

/** True when the schedule fired its `limit`. */
function limitReached(s: ScheduleState): boolean {
  return s.def.limit !== undefined && s.fired >= s.def.limit;
}

/** The earliest slot not yet fired, or undefined when there is none (the schedule ended). */
export function nextSlot(s: ScheduleState): number | undefined {
  return nextSlotAfter(s, -Infinity);
}

/** The earliest slot after `time` not yet fired, or undefined when there is none. */
export function nextSlotAfter(s: ScheduleState, time: number): number | undefined {
  if (s.deleted || limitReached(s)) return undefined;
  const last = Math.max(s.lastSlot ?? -Infinity, time);
  for (const w of windows(s)) {
    const n = slotsOf(w.timing).next(Math.max(w.after, last));
    if (n !== undefined && n <= w.until) return n;
  }
  return undefined;
}

/** True when the schedule will fire no more: its limit, its `endAt`, or its one-off slot is behind it. */
export function hasEnded(s: ScheduleState): boolean {
  return !s.deleted && nextSlot(s) === undefined;
}

/** The most on-time slots one call of {@link dueSlots} gives: the next call goes on from the last fired. */
export const MAX_ON_TIME = 1000;

/**
 * The slots to fire at time `now` (ascending), by the schedule's catch-up policy. A slot due before
 * `lateBefore` was missed (no process was there to fire it; a slot is due at its time, or at its
 * definition's registration if that came later: a one-off set in the past): `none` drops missed slots,
 * `latest` fires only the latest one (when no slot is on time), `all` the latest `maxCatchUp` of them.
 * Slots on time all fire, the earliest {@link MAX_ON_TIME} at a time. Never more than `limit` allows.
 */
export function dueSlots(s: ScheduleState, now: number, lateBefore: number): number[] {
  if (s.deleted || limitReached(s)) return [];
  const last = s.lastSlot ?? -Infinity;
  const cut = Math.ceil(lateBefore) - 1; // late: slots ≤ cut (slot times are whole ms)
  const late: number[] = [];
  const onTime: number[] = [];
  for (const w of windows(s)) {
    const slots = slotsOf(w.timing);
    const lo = Math.max(w.after, last);
    const hi = Math.min(w.until, now);
    if (hi <= lo) continue;
    if (w.registeredAt > cut) {
      onTime.push(...slots.first(lo, hi, MAX_ON_TIME));
      continue;
    }
    if (cut > lo) late.push(...slots.between(lo, Math.min(hi, cut), s.def.maxCatchUp));
    onTime.push(...slots.first(Math.max(lo, cut), hi, MAX_ON_TIME));
  }
  if (late.length + onTime.length === 0) return [];
  late.sort((a, b) => a - b);
  onTime.sort((a, b) => a - b);
  let chosen: number[];
  if (s.def.catchUp === 'all') chosen = [...late.slice(-s.def.maxCatchUp), ...onTime];
  else if (s.def.catchUp === 'latest' && onTime.length === 0) chosen = late.slice(-1);
  else chosen = onTime;
  chosen.sort((a, b) => a - b); // the fold counts slots in ascending order only
  const room = s.def.limit === undefined ? chosen.length : s.def.limit - s.fired;
  return chosen.slice(0, Math.min(room, MAX_ON_TIME));
}
