import { Cron } from 'croner';
import type { ScheduleTiming } from '../engine/records.js';

/**
 * The slots of one schedule definition as pure functions of time: no clock is read here, so every
 * process (and a replay) computes the same slots. Cron expressions, time zones and DST come from croner
 * (a cron slot in a DST gap runs at the end of the gap, a slot in a repeated hour runs once).
 */
export interface Slots {
  /** The first slot strictly after `after`, or undefined when the definition has no more. */
  next(after: number): number | undefined;
  /** Up to `max` of the latest slots in `(after, upTo]`, ascending. */
  between(after: number, upTo: number, max: number): number[];
  /** Up to `max` of the earliest slots in `(after, upTo]`, ascending. */
  first(after: number, upTo: number, max: number): number[];
}

const cache = new Map<string, Slots>();

/**
 * The slots of a definition (cached by its fields). Throws what croner throws for a bad cron
 * expression or time zone; callers validate at the API edge.
 */
export function slotsOf(t: ScheduleTiming): Slots {
  const id = `${t.cron ?? ''}|${t.tz ?? ''}|${t.every ?? ''}|${t.at ?? ''}|${t.startAt ?? ''}|${t.endAt ?? ''}`;
  let s = cache.get(id);
  if (!s) {
    s = bounded(raw(t), t.startAt, t.endAt);
    if (cache.size > 10_000) cache.clear();
    cache.set(id, s);
  }
  return s;
}

function raw(t: ScheduleTiming): Slots {
  if (t.every !== undefined) return everySlots(t.every, t.startAt ?? 0);
  if (t.at !== undefined) return atSlot(t.at);
  if (t.cron !== undefined) return cronSlots(t.cron, t.tz);
  return none;
}

const none: Slots = { next: () => undefined, between: () => [], first: () => [] };

function everySlots(every: number, anchor: number): Slots {
  // Slots at anchor + k·every: every process agrees on them, and an upsert with the same interval keeps
  // the phase instead of restarting it.
  const k = (t: number): number => Math.floor((t - anchor) / every);
  return {
    next: (after) => anchor + (k(after) + 1) * every,
    between(after, upTo, max) {
      const out: number[] = [];
      const first = Math.max(k(after) + 1, k(upTo) - max + 1);
      for (let i = first; i <= k(upTo); i++) out.push(anchor + i * every);
      return out;
    },
    first(after, upTo, max) {
      const out: number[] = [];
      const last = Math.min(k(upTo), k(after) + max);
      for (let i = k(after) + 1; i <= last; i++) out.push(anchor + i * every);
      return out;
    },
  };
}

function atSlot(at: number): Slots {
  return {
    next: (after) => (at > after ? at : undefined),
    between: (after, upTo, max) => (at > after && at <= upTo && max > 0 ? [at] : []),
    first: (after, upTo, max) => (at > after && at <= upTo && max > 0 ? [at] : []),
  };
}

function cronSlots(expr: string, tz: string | undefined): Slots {
  const cron = new Cron(expr, { paused: true, ...(tz === undefined ? {} : { timezone: tz }) });
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
    between(after, upTo, max) {
      if (max <= 0 || upTo <= after) return [];
      // previousRuns looks strictly before its reference: 1 ms later includes a slot at upTo itself.
      const runs = cron.previousRuns(max, new Date(upTo + 1)).map((d) => d.getTime());
      return runs.filter((s) => s > after && s <= upTo).sort((a, b) => a - b);
    },
    first(after, upTo, max) {
      const out: number[] = [];
      for (let t = after; out.length < max;) {
        const n = cron.nextRun(new Date(t))?.getTime();
        if (n === undefined || n > upTo) break;
        out.push((t = n));
      }
      return out;
    },
  };
}

function bounded(s: Slots, startAt: number | undefined, endAt: number | undefined): Slots {
  if (startAt === undefined && endAt === undefined) return s;
  const lo = startAt === undefined ? -Infinity : startAt - 1;
  const hi = endAt ?? Infinity;
  return {
    next(after) {
      const n = s.next(Math.max(after, lo));
      return n !== undefined && n <= hi ? n : undefined;
    },
    between: (after, upTo, max) => s.between(Math.max(after, lo), Math.min(upTo, hi), max),
    first: (after, upTo, max) => s.first(Math.max(after, lo), Math.min(upTo, hi), max),
  };
}
