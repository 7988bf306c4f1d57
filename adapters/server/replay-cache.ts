import {
  claimRows,
  InvalidArgumentError,
  positionAtTime,
  replayLog,
  statsRows,
  subscriberRows,
  viewsFold,
  workerRows,
  type LogStore,
  type LogViews,
  type Position,
} from '../../index.js';

/** The views `GET /replay` folds: every panel of the page. */
export const REPLAY_VIEWS = ['claims', 'workers', 'subscribers', 'stats'] as const;
export type ReplayView = (typeof REPLAY_VIEWS)[number];

/**
 * Folds the log to a point for `GET /replay`. A slider is mostly dragged forward, so the last views are
 * kept and folded on from where they stopped; a point before them folds from the start. Replays run one at
 * a time because they share those views.
 */
export class ReplayCache {
  #views: LogViews = viewsFold.initial();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: LogStore) {}

  /**
   * The last position at or before `point`: a position (checked against the head), or an ISO time / ms
   * since the epoch (the last record appended at or before it; -1 when none was).
   * @throws InvalidArgumentError for anything else, or a position past the head.
   */
  async resolve(point: string): Promise<{ to: Position; head: Position }> {
    const head = await this.store.head();
    if (/^\d{1,16}$/.test(point)) {
      const to = Number(point);
      if (to >= head) {
        const last = head === 0 ? 'the log is empty' : `the last position is ${head - 1}`;
        throw new InvalidArgumentError(`to ${to} is past the end of the log (${last})`);
      }
      return { to, head };
    }
    const time = /^\d{4}-\d{2}-\d{2}/.test(point) ? Date.parse(point) : NaN;
    if (Number.isNaN(time)) {
      throw new InvalidArgumentError(
        `to must be a position (a non-negative integer) or an ISO time like 2025-01-31T12:00:00Z, got: ${JSON.stringify(point)}`,
      );
    }
    return { to: (await positionAtTime(this.store, time + 1)) - 1, head };
  }

  /** The rows of `views` (all by default) as they were right after position `to`. */
  fold(to: Position, views: readonly ReplayView[], queues: readonly string[]): Promise<object> {
    const run = this.#queue.then(async () => {
      if (to < this.#views.position) this.#views = viewsFold.initial();
      const v = to < 0 ? viewsFold.initial() : await replayLog(this.store, { to, into: this.#views });
      return rows(v, views, queues);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function rows(v: LogViews, views: readonly ReplayView[], queues: readonly string[]): object {
  const want = (name: ReplayView): boolean => views.includes(name);
  return {
    position: v.position,
    time: v.time,
    ...(want('subscribers') ? { subscribers: subscriberRows(v, queues) } : {}),
    ...(want('claims') ? { claims: claimRows(v, queues) } : {}),
    ...(want('workers') ? { workers: workerRows(v, queues) } : {}),
    ...(want('stats') ? { stats: statsRows(v, queues) } : {}),
  };
}
