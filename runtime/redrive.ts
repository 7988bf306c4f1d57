/**
 * Dead events and redrive: which of a competing subscriber's dead events match a selection
 * ({@link deadEvents}), and putting them back to pending with one `events.redriven` record
 * ({@link redrive}). The fold decides which of the listed events it puts back (those still dead at the
 * record's position), so a redrive racing another one, or a redrive racing nothing, counts each event once.
 * @module
 */
import { InvalidArgumentError, NotFoundError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { ErrorInfo, RecordOf } from '../engine/records.js';
import type { SubscriberState } from '../projections/dispatch/index.js';
import { checkName } from './names.js';
import { readPositions, readResults } from './query-index.js';
import { caughtUp, type QueryContext } from './queue-queries.js';

/** Which dead events of a subscriber: all of them, or those matching every filter given. */
export interface DeadEventFilters {
  /** The subscriber's name (competing delivery: broadcast subscribers keep no dead events). */
  readonly subscriber: string;
  /** Only these events (ids). */
  readonly ids?: readonly string[];
  /** Only events that died before this log time (ms since the epoch, or a Date). */
  readonly deadBefore?: number | Date;
  /** Only events whose last error (`name: message`) contains this text, or matches this expression. */
  readonly errorMatches?: string | RegExp;
}

/** A dead event of a subscriber: its last attempt failed with no retry left. */
export interface DeadEvent {
  readonly eventId: string;
  readonly eventPosition: Position;
  readonly subscriber: string;
  /** The attempt that died. */
  readonly attempt: number;
  /** Log time of the result that made it dead. */
  readonly deadAt: number;
  readonly error?: ErrorInfo;
}

const KNOWN = new Set(['subscriber', 'ids', 'deadBefore', 'errorMatches']);

/** The dead events of a subscriber matching the filters, in the order they died. */
export async function deadEvents(
  m: QueryContext,
  queue: string,
  filters: DeadEventFilters,
): Promise<DeadEvent[]> {
  const f = checkFilters(filters);
  await caughtUp(m);
  const sub = deadHolder(m, queue, f.subscriber);
  let positions = [...sub.dead];
  if (f.ids !== undefined) {
    await m.index.ready();
    const wanted = new Set(f.ids.map((id) => m.index.events.get(id)));
    positions = positions.filter((p) => wanted.has(p));
  }
  if (positions.length === 0) return [];
  await m.index.ready();
  const events = await readPositions(m.store, m.views.held, positions);
  const out: DeadEvent[] = [];
  for (const p of positions) {
    const e = events.get(p) as RecordOf<'event.published'> | undefined;
    if (e?.type !== 'event.published') continue; // removed by retention: nothing to show or match
    const last = await lastResult(m, e.eventId, sub.id);
    if (!last) continue;
    const dead: DeadEvent = {
      eventId: e.eventId,
      eventPosition: p,
      subscriber: sub.reg.name,
      attempt: last.attempt,
      deadAt: last.time,
      ...(last.error === undefined ? {} : { error: last.error }),
    };
    if (matches(dead, f)) out.push(dead);
  }
  return out;
}

/**
 * Puts the matching dead events back to pending with a fresh attempt budget, in one record; resolves
 * with how many the fold put back (0, appending nothing, when none matched).
 */
export async function redrive(m: QueryContext, queue: string, filters: DeadEventFilters): Promise<number> {
  const matched = await deadEvents(m, queue, filters);
  if (matched.length === 0) return 0;
  const subscriberId = `${queue}/${filters.subscriber}`;
  const eventPositions = matched.map((d) => d.eventPosition);
  const { positions } = await m.store.append([
    { type: 'events.redriven', queue, subscriberId, eventPositions },
  ]);
  const at = positions[0] as Position;
  await m.views.waitFor(at);
  return m.views.dispatch.redrives.get(at) ?? 0;
}

type Checked = Omit<DeadEventFilters, 'deadBefore'> & { readonly deadBefore: number | undefined };

function checkFilters(f: DeadEventFilters): Checked {
  const input: unknown = f;
  if (typeof input !== 'object' || input === null)
    throw new InvalidArgumentError(
      `expected options { subscriber, ids?, deadBefore?, errorMatches? }, got: ${String(input)}`,
    );
  for (const k of Object.keys(f)) {
    if (!KNOWN.has(k))
      throw new InvalidArgumentError(
        `unknown option ${JSON.stringify(k)}: expected one of ${[...KNOWN].join(', ')}`,
      );
  }
  checkName('subscriber', f.subscriber);
  if (f.ids !== undefined && (!Array.isArray(f.ids) || f.ids.some((id) => typeof id !== 'string')))
    throw new InvalidArgumentError(`ids must be an array of event ids, got: ${JSON.stringify(f.ids)}`);
  const before = f.deadBefore instanceof Date ? f.deadBefore.getTime() : f.deadBefore;
  if (before !== undefined && (typeof before !== 'number' || !Number.isFinite(before)))
    throw new InvalidArgumentError(
      `deadBefore must be a Date or ms since the epoch, got: ${String(f.deadBefore)}`,
    );
  const em: unknown = f.errorMatches;
  if (em !== undefined && !(typeof em === 'string' && em !== '') && !(em instanceof RegExp))
    throw new InvalidArgumentError(
      `errorMatches must be a non-empty string or a RegExp, got: ${em === '' ? 'an empty string' : `a ${typeof em}`}`,
    );
  return { ...f, deadBefore: before };
}

/** The competing subscriber `name` of the queue, not deleted. */
function deadHolder(m: QueryContext, queue: string, name: string): SubscriberState {
  const sub = m.views.dispatch.subscribers.get(`${queue}/${name}`);
  if (!sub || sub.deleted) throw new NotFoundError('subscription', `${queue}/${name}`);
  if (sub.reg.delivery !== 'competing')
    throw new InvalidArgumentError(
      `subscriber ${JSON.stringify(name)} is broadcast: only competing subscribers have dead events to redrive`,
    );
  return sub;
}

/** The subscriber's last accepted result for the event. */
async function lastResult(
  m: QueryContext,
  eventId: string,
  subscriberId: string,
): Promise<RecordOf<'result.recorded'> | undefined> {
  const refs = m.index.results.get(eventId) ?? [];
  const results = await readResults(m.store, m.views.held, refs);
  for (let i = refs.length - 1; i >= 0; i--) {
    const ref = refs[i] as number;
    const r = results.get(ref);
    if (r?.subscriberId === subscriberId && !m.views.dispatch.rejected.has(ref)) return r;
  }
  return undefined;
}

function matches(d: DeadEvent, f: Checked): boolean {
  if (f.deadBefore !== undefined && d.deadAt >= f.deadBefore) return false;
  const em = f.errorMatches;
  if (em === undefined) return true;
  const text = d.error ? `${d.error.name}: ${d.error.message}` : '';
  if (typeof em === 'string') return text.includes(em);
  em.lastIndex = 0;
  return em.test(text);
}
