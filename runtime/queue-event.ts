import type { Position } from '../engine/position.js';
import type { RecordOf } from '../engine/records.js';
import type { QueueEvent } from './types.js';

type EventRecord = RecordOf<'event.published'>;

export function toQueueEvent<T>(e: EventRecord): QueueEvent<T> {
  return queueEvent<T>(e, e.position, e.time);
}

/** The event of an `event.published` record or draft, appended at `position` and log time `time`. */
export function queueEvent<T>(
  e: Omit<EventRecord, 'v' | 'position' | 'time'>,
  position: Position,
  time: number,
): QueueEvent<T> {
  // Built, then given its priority when it has one: not a literal ending in a conditional spread, which
  // copies it (this runs for every event a handler gets).
  const event: { -readonly [K in keyof QueueEvent<T>]: QueueEvent<T>[K] } = {
    id: e.eventId,
    position,
    queue: e.queue,
    payload: e.payload as T,
    publishedAt: time,
    headers: e.headers,
    availableAt: e.availableAt ?? time + (e.delay ?? 0),
  };
  if (e.priority !== undefined) event.priority = e.priority;
  return event;
}

/** What a subscriber's JMESPath filter sees of an event. */
export function filterView(e: EventRecord): unknown {
  return { id: e.eventId, queue: e.queue, payload: e.payload, headers: e.headers, publishedAt: e.time };
}
