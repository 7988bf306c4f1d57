import type { EventRow, ResultRow } from './history.js';
import { formatCount, formatDuration, formatTime, preview, table, type Painter } from './output.js';
import type { ClaimRow, StatsRow, SubscriberRow, WorkerRow } from '../index.js';

const STATUS: Record<string, 'green' | 'red' | 'yellow' | 'gray' | 'blue'> = {
  ok: 'green',
  done: 'green',
  alive: 'green',
  claimed: 'blue',
  failed: 'red',
  timeout: 'red',
  dead: 'red',
  expired: 'yellow',
  retry: 'yellow',
  released: 'yellow',
  pending: 'gray',
  skipped: 'gray',
  left: 'gray',
};

function status(paint: Painter, s: string): string {
  const c = STATUS[s];
  return c ? paint(c, s) : s;
}

function none(rows: readonly unknown[], what: string, paint: Painter): string[] | undefined {
  return rows.length === 0 ? [paint('dim', `(no ${what})`)] : undefined;
}

export function renderClaims(rows: readonly ClaimRow[], paint: Painter): string[] {
  return (
    none(rows, 'open claims', paint) ??
    table(
      ['EVENT', 'QUEUE', 'SUBSCRIBER', 'STATUS', 'ATTEMPT', 'OWNER', 'LEASE UNTIL / AVAILABLE'],
      rows.map((r) => [
        String(r.eventPosition),
        r.queue,
        r.subscriber,
        status(paint, r.status),
        String(r.attempt),
        r.owner ?? '-',
        r.leaseUntil !== null ? formatTime(r.leaseUntil) : formatTime(r.availableAt),
      ]),
      paint,
      [0, 4],
    )
  );
}

export function workerState(w: WorkerRow): string {
  return w.leftAt !== null ? 'left' : w.alive ? 'alive' : 'dead';
}

export function renderWorkers(rows: readonly WorkerRow[], paint: Painter): string[] {
  return (
    none(rows, 'workers', paint) ??
    table(
      ['WORKER', 'PID', 'STATE', 'QUEUES', 'JOINED', 'LAST BEAT'],
      rows.map((w) => [
        w.workerId,
        String(w.pid),
        status(paint, workerState(w)),
        w.queues.join(',') || '-',
        formatTime(w.joinedAt),
        formatTime(w.leftAt ?? w.lastBeat),
      ]),
      paint,
      [1],
    )
  );
}

export function renderSubscribers(rows: readonly SubscriberRow[], paint: Painter): string[] {
  return (
    none(rows, 'subscribers', paint) ??
    table(
      [
        'QUEUE',
        'SUBSCRIBER',
        'DELIVERY',
        'DEPTH',
        'IN-FLIGHT',
        'DONE',
        'FAILED',
        'DEAD',
        'SKIPPED',
        'FENCED',
        'LAG',
      ],
      rows.map((s) => [
        s.queue,
        s.deleted ? `${s.name} (deleted)` : s.name,
        s.delivery,
        ...[s.depth, s.inFlight, s.done, s.failed, s.dead, s.skipped, s.rejected, s.lag].map(formatCount),
      ]),
      paint,
      [3, 4, 5, 6, 7, 8, 9, 10],
    )
  );
}

export function renderStats(rows: readonly StatsRow[], paint: Painter): string[] {
  if (rows.length === 0) return [paint('dim', '(no queues)')];
  const lines: string[][] = [];
  for (const q of rows) {
    lines.push([
      paint('bold', q.queue),
      formatCount(q.published),
      '',
      '',
      formatCount(q.ok),
      formatCount(q.failed + q.timeout),
      '',
      q.throughput.toFixed(1),
      '',
    ]);
    for (const s of q.subscribers) {
      lines.push([
        `  ${s.name}`,
        '',
        formatCount(s.depth),
        formatCount(s.inFlight),
        formatCount(s.done),
        formatCount(s.failed),
        formatCount(s.dead),
        '',
        formatCount(s.lag),
      ]);
    }
  }
  return table(
    ['QUEUE / SUBSCRIBER', 'PUBLISHED', 'DEPTH', 'IN-FLIGHT', 'DONE', 'FAILED', 'DEAD', 'RESULTS/S', 'LAG'],
    lines,
    paint,
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
}

export function renderEvents(rows: readonly EventRow[], paint: Painter): string[] {
  return (
    none(rows, 'events', paint) ??
    table(
      ['POSITION', 'TIME', 'QUEUE', 'ID', 'PAYLOAD', 'OUTCOME'],
      rows.map((e) => [
        String(e.position),
        formatTime(e.time),
        e.queue,
        e.eventId,
        preview(e.payload, 40),
        e.duplicateOf !== null
          ? paint('dim', `duplicate of ${e.duplicateOf}`)
          : Object.entries(e.outcome)
              .map(([sub, s]) => `${sub}:${status(paint, s)}`)
              .join(' ') || paint('dim', 'open'),
      ]),
      paint,
      [0],
    )
  );
}

export function renderResults(rows: readonly ResultRow[], paint: Painter): string[] {
  return (
    none(rows, 'results', paint) ??
    table(
      ['POSITION', 'TIME', 'QUEUE', 'SUBSCRIBER', 'STATUS', 'EVENT', 'WORKER', 'ATTEMPT', 'TOOK', 'NOTE'],
      rows.map((r) => [
        String(r.position),
        formatTime(r.time),
        r.queue,
        r.subscriber,
        status(paint, r.status),
        String(r.eventPosition),
        r.workerId,
        String(r.attempt),
        formatDuration(r.durationMs),
        [
          r.accepted ? '' : paint('red', 'fenced'),
          r.retryAt !== null ? `retry ${formatTime(r.retryAt)}` : '',
          r.error ?? '',
        ]
          .filter((s) => s !== '')
          .join(' '),
      ]),
      paint,
      [0, 5, 7],
    )
  );
}
