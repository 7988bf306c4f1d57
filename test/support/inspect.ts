import {
  claimRows,
  reservationRows,
  statsRows,
  subscriberRows,
  workerRows,
  type Inspection,
  type LogViews,
  type QueueManager,
  type SubscriberRow,
} from '../../index.js';

/** The row of subscriber `name` of `queue` in the manager's views (`manager.inspect()`), if any. */
export function subscriberRow(m: QueueManager, queue: string, name: string): SubscriberRow | undefined {
  return m.inspect({ queues: [queue] }).subscribers.find((s) => s.name === name);
}

/** The rows an inspection shows of the log (what any process folding the same records shows). */
export function logRows(i: Inspection) {
  const { position, time, subscribers, claims, workers, stats, reservations } = i;
  return { position, time, subscribers, claims, workers, stats, reservations };
}

/** The same rows, built from views folded outside a manager (`replayLog`, `foldAll(viewsFold, …)`). */
export function viewRows(v: LogViews): ReturnType<typeof logRows> {
  return {
    position: v.position,
    time: v.time,
    subscribers: subscriberRows(v),
    claims: claimRows(v),
    workers: workerRows(v),
    stats: statsRows(v),
    reservations: reservationRows(v),
  };
}
