import {
  isKnownRecord,
  resultRef,
  unbatched,
  type StoredRecord,
  type LogViews,
  type Position,
  type RecordOf,
} from '../index.js';
import { subscriberName } from './record-line.js';

/** An event and where each subscriber stands with it. */
export interface EventRow {
  readonly position: Position;
  readonly time: number;
  readonly queue: string;
  readonly eventId: string;
  readonly payload: unknown;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Subscriber name → `ok`, `failed`, `timeout`, `skipped`, `dead`, `retry` (from accepted results). */
  readonly outcome: Record<string, string>;
  /**
   * A keyed twin (published with an idempotency key already used in its queue) is never dispatched:
   * the id of the first event with the key (or its position, when that event is out of the window).
   */
  readonly duplicateOf: string | null;
}

/** A result as it landed, with whether the fold accepted it (false: fenced). */
export interface ResultRow {
  readonly position: Position;
  /** Index in its `results.recorded`, when the result is one item of such a batch. */
  readonly item?: number;
  readonly time: number;
  readonly queue: string;
  readonly subscriber: string;
  readonly eventId: string;
  readonly eventPosition: Position;
  readonly workerId: string;
  readonly attempt: number;
  readonly status: string;
  readonly accepted: boolean;
  readonly durationMs: number;
  readonly error: string | null;
  readonly retryAt: number | null;
}

/**
 * Keeps the last `limit` events and results of the chosen queues while a replay folds the log: the
 * folded views hold only open work, so the events and results views come from the records themselves.
 */
export class History {
  readonly #events = new Map<Position, { row: EventRow; outcome: Record<string, string> }>();
  readonly #results = new Map<number, ResultRow>(); // by resultRef

  constructor(
    private readonly queues: readonly string[],
    private readonly limit: number,
  ) {}

  /** Call after each record was folded into `views`. */
  readonly onRecord = (r: StoredRecord, views: LogViews): void => {
    if (!isKnownRecord(r)) return;
    if (r.type === 'event.published') {
      if (!this.#wants(r.queue)) return;
      const outcome: Record<string, string> = {};
      const key = r.headers.key;
      const first = key === undefined ? undefined : views.dispatch.queues.get(r.queue)?.keys.get(key);
      const original = first === undefined || first === r.position ? undefined : this.#events.get(first);
      const row: EventRow = {
        position: r.position,
        time: r.time,
        queue: r.queue,
        eventId: r.eventId,
        payload: r.payload,
        headers: r.headers,
        outcome,
        duplicateOf:
          first === undefined || first === r.position
            ? null
            : (original?.row.eventId ?? `the event at position ${first}`),
      };
      this.#events.set(r.position, { row, outcome });
      this.#trim(this.#events);
    } else if (r.type === 'result.recorded' || r.type === 'results.recorded') {
      if (!this.#wants(r.queue)) return;
      for (const x of unbatched(r) as RecordOf<'result.recorded'>[]) this.#result(x, views);
    }
  };

  #result(r: RecordOf<'result.recorded'>, views: LogViews): void {
    const accepted = !views.dispatch.rejected.has(resultRef(r));
    const subscriber =
      views.dispatch.subscribers.get(r.subscriberId)?.reg.name ?? subscriberName(r.queue, r.subscriberId);
    this.#results.set(resultRef(r), {
      position: r.position,
      ...(r.item === undefined ? {} : { item: r.item }),
      time: r.time,
      queue: r.queue,
      subscriber,
      eventId: r.eventId,
      eventPosition: r.eventPosition,
      workerId: r.workerId,
      attempt: r.attempt,
      status: r.status,
      accepted,
      durationMs: r.durationMs,
      error: r.error ? `${r.error.name}: ${r.error.message}` : null,
      retryAt: r.retryAt ?? null,
    });
    this.#trim(this.#results);
    const e = this.#events.get(r.eventPosition);
    if (e && accepted) {
      e.outcome[subscriber] =
        r.status === 'ok' || r.status === 'skipped' ? r.status : r.retryAt !== undefined ? 'retry' : 'dead';
    }
  }

  /** The last events, oldest first. */
  events(): EventRow[] {
    return [...this.#events.values()].map((e) => e.row);
  }

  /** The last results, oldest first. */
  results(): ResultRow[] {
    return [...this.#results.values()];
  }

  /** Results landed after position `after`. */
  resultsAfter(after: Position): ResultRow[] {
    return this.results().filter((r) => r.position > after);
  }

  #wants(queue: string): boolean {
    return this.queues.length === 0 || this.queues.includes(queue);
  }

  #trim(map: Map<number, unknown>): void {
    while (map.size > this.limit) {
      const oldest = map.keys().next();
      if (oldest.done === true) return;
      map.delete(oldest.value);
    }
  }
}
