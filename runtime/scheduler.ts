import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../engine/errors.js';
import type { RecordDraft, RecordOf } from '../engine/records.js';
import type { Position } from '../engine/position.js';
import {
  dueSlots,
  nextSlotAfter,
  slotKey,
  type ScheduleState,
  type SchedulesState,
} from '../projections/schedules.js';
import { isAlive, type WorkersState } from '../projections/workers.js';

/** Options of the scheduler a manager runs while it hosts a subscriber (`scheduler` manager option). */
export interface SchedulerOptions {
  /**
   * How long after a slot the next worker in a schedule's order waits for its event before firing it
   * itself (the worker it hashes to may be dead); the one after waits twice as long, …; default 200 ms.
   */
  readonly graceMs?: number;
  /**
   * A slot due more than this before the scheduler began hosting its queue (or before it could append
   * again after a failed append) was missed: no process was there to fire it, and its schedule's
   * `catchUp` decides. Slots due while the scheduler hosts the queue always fire, however late (a busy
   * process, a slow append, a long turn in line). Default 1000 ms.
   */
  readonly lateAfterMs?: number;
}

/** What the scheduler sees of its manager. */
export interface SchedulerContext {
  readonly workerId: string;
  readonly schedules: SchedulesState;
  readonly workers: WorkersState;
  /** True once the fold caught up with the log: before, it would fire slots already fired. */
  readonly ready: boolean;
  /** Queues this process hosts a subscriber of: it fires their schedules. */
  hostedQueues(): ReadonlySet<string>;
  append(drafts: RecordDraft[]): Promise<{ positions: readonly Position[] }>;
  report(error: unknown): void;
}

/** The longest the scheduler sleeps: new schedules and ownership changes are seen within it. */
const MAX_SLEEP_MS = 50;
/** An appended slot not in the fold after this long is fired again (its append may have failed). */
const INFLIGHT_MS = 5000;

/**
 * Fires the due slots of the schedules of hosted queues. A slot is an ordinary event with the idempotency
 * key {@link slotKey}: the fold counts the first event of each slot, so any number of schedulers firing
 * the same slot make one fire. To keep twins rare, the live worker a schedule hashes to fires on time and
 * the others only `graceMs` later, if the fold has no event for the slot yet. States: IDLE (not started),
 * SLEEPING (a timer to the next due slot, at most {@link MAX_SLEEP_MS}), FIRING (an append in flight;
 * the next wake waits for it), STOPPED (for good: the manager closes).
 */
export class Scheduler {
  readonly graceMs: number;
  readonly lateAfterMs: number;
  #mode: 'IDLE' | 'SLEEPING' | 'FIRING' | 'STOPPED' = 'IDLE';
  #timer: NodeJS.Timeout | undefined;
  #firing: Promise<void> = Promise.resolve();
  /** Slot keys appended and not yet folded, with when they were appended. */
  readonly #inflight = new Map<string, number>();
  /** Since when (clock ms) this scheduler has hosted each queue and could append. */
  readonly #since = new Map<string, number>();

  constructor(
    private readonly ctx: SchedulerContext,
    options: SchedulerOptions = {},
  ) {
    this.graceMs = ms('graceMs', options.graceMs ?? 200);
    this.lateAfterMs = ms('lateAfterMs', options.lateAfterMs ?? Math.max(1000, this.graceMs * 2));
  }

  /** True from {@link start} on (also once stopped: a stopped scheduler does not start again). */
  get running(): boolean {
    return this.#mode !== 'IDLE';
  }

  start(): void {
    if (this.#mode !== 'IDLE') return;
    this.#sleep(0);
  }

  /** Stops firing for good and waits for an append in flight. */
  async stop(): Promise<void> {
    this.#mode = 'STOPPED';
    clearTimeout(this.#timer);
    await this.#firing;
  }

  #sleep(delay: number): void {
    this.#mode = 'SLEEPING';
    this.#timer = setTimeout(() => this.#wake(), Math.max(0, Math.min(delay, MAX_SLEEP_MS)));
  }

  #wake(): void {
    if (this.#mode !== 'SLEEPING') return;
    const now = Date.now();
    const { drafts, wakeAt } = this.ctx.ready ? this.#due(now) : { drafts: [], wakeAt: now + MAX_SLEEP_MS };
    if (drafts.length === 0) {
      this.#sleep(wakeAt - Date.now());
      return;
    }
    this.#mode = 'FIRING';
    this.#firing = this.ctx
      .append(drafts)
      .then(
        () => undefined,
        (e: unknown) => {
          for (const d of drafts) this.#inflight.delete((d as RecordOf<'event.published'>).headers.key ?? '');
          // Slots due while nothing could be appended are missed ones when it can again: as if it stopped.
          this.#since.clear();
          this.ctx.report(e);
        },
      )
      .finally(() => {
        if (this.#mode === 'FIRING') this.#sleep(0);
      });
  }

  /** The events of the slots due at `now`, and when to look again. */
  #due(now: number): { drafts: RecordDraft[]; wakeAt: number } {
    const hosted = this.ctx.hostedQueues();
    const owners = new Map<string, string[]>();
    const drafts: RecordDraft[] = [];
    let wakeAt = now + MAX_SLEEP_MS;
    for (const [key, t] of this.#inflight) {
      if (now - t <= INFLIGHT_MS) break; // in insertion order: the rest are younger
      this.#inflight.delete(key);
    }
    for (const q of this.#since.keys()) if (!hosted.has(q)) this.#since.delete(q);
    for (const q of hosted) if (!this.#since.has(q)) this.#since.set(q, now);
    for (const s of this.ctx.schedules.schedules.values()) {
      if (s.deleted || !hosted.has(s.queue)) continue;
      const next = this.#next(s);
      if (next === undefined) continue;
      let hosts = owners.get(s.queue);
      if (!hosts) owners.set(s.queue, (hosts = liveHosts(this.ctx.workers, s.queue)));
      const delay = this.graceMs * rank(hosts, s.scheduleId, this.ctx.workerId);
      if (now < next + delay) {
        wakeAt = Math.min(wakeAt, next + delay);
        continue;
      }
      const due = dueSlots(s, now, (this.#since.get(s.queue) ?? now) - this.lateAfterMs);
      if (due.length === 0) {
        // Every due slot was dropped by the catch-up policy: look from now on.
        this.#next(s, now);
        continue;
      }
      const slots = due.filter((slot) => now >= slot + delay);
      for (const slot of slots) {
        const k = slotKey(s.scheduleId, slot);
        if (this.#inflight.has(k)) continue;
        this.#inflight.set(k, now);
        drafts.push(fireDraft(s.def, slot, k));
      }
    }
    return { drafts, wakeAt };
  }

  /**
   * The next candidate slot of each schedule, computed once per change of its state (a fire, an
   * upsert) instead of on every wake. After slots the catch-up policy dropped, the next one after them.
   */
  readonly #nextCache = new WeakMap<
    ScheduleState,
    { position: Position; lastSlot: unknown; next: number | undefined }
  >();

  #next(s: ScheduleState, after = -Infinity): number | undefined {
    const c = this.#nextCache.get(s);
    if (after === -Infinity && c && c.position === s.position && c.lastSlot === s.lastSlot) return c.next;
    const next = nextSlotAfter(s, after);
    this.#nextCache.set(s, { position: s.position, lastSlot: s.lastSlot, next });
    return next;
  }
}

/** The event of one slot: the schedule's payload and headers, the slot's key, id and time. */
function fireDraft(def: RecordOf<'schedule.registered'>, slot: number, key: string): RecordDraft {
  const scheduledFor = new Date(slot).toISOString();
  return {
    type: 'event.published',
    queue: def.queue,
    eventId: randomUUID(),
    payload: def.payload,
    headers: { correlationId: key, ...def.headers, key, scheduleId: def.scheduleId, scheduledFor },
  };
}

/** Live workers hosting the queue, sorted: every process computes the same list. */
function liveHosts(state: WorkersState, queue: string): string[] {
  const ids: string[] = [];
  for (const w of state.workers.values()) {
    if (isAlive(w, state.time) && w.queues.includes(queue) && w.subscribers.length > 0) ids.push(w.workerId);
  }
  return ids.sort();
}

/**
 * This worker's turn for a schedule: 0 for the live host it hashes to, then 1, 2… around the sorted
 * list, so when the first is dead one other fires after a grace, not all of them at once. A worker that
 * is not (yet) among the live hosts comes last; with no live host, everyone is first.
 */
function rank(hosts: readonly string[], scheduleId: string, workerId: string): number {
  if (hosts.length === 0) return 0;
  const me = hosts.indexOf(workerId);
  if (me < 0) return hosts.length;
  return (me - (hash(scheduleId) % hosts.length) + hosts.length) % hosts.length;
}

/** FNV-1a: a stable spread of schedule ids over workers. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function ms(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new InvalidArgumentError(`scheduler ${name} must be a number of ms ≥ 0, got: ${JSON.stringify(v)}`);
  return v;
}
