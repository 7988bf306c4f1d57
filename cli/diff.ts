import type { LogViews, Position } from '../index.js';
import type { ResultRow } from './history.js';
import { formatCount, formatTime, type Painter } from './output.js';
import { workerState } from './render-views.js';
import {
  claimRows,
  subscriberRows,
  workerRows,
  type ClaimRow,
  type SubscriberRow,
  type WorkerRow,
} from '../index.js';

/** The views at one point, kept as plain rows so the fold can go on. */
export interface Snapshot {
  readonly position: Position;
  readonly time: number;
  readonly claims: readonly ClaimRow[];
  readonly workers: readonly WorkerRow[];
  readonly subscribers: readonly SubscriberRow[];
}

export function snapshot(v: LogViews, queues: readonly string[]): Snapshot {
  return {
    position: v.position,
    time: v.time,
    claims: claimRows(v, queues),
    workers: workerRows(v, queues),
    subscribers: subscriberRows(v, queues),
  };
}

/** What changed between two points of history. */
export interface ViewsDiff {
  readonly from: { readonly position: Position; readonly time: number };
  readonly to: { readonly position: Position; readonly time: number };
  readonly claims: {
    readonly opened: ClaimRow[];
    readonly expired: ClaimRow[];
    readonly changed: { before: ClaimRow; after: ClaimRow }[];
    /** Open at `from`, finished by `to`. */
    readonly closed: ClaimRow[];
  };
  readonly workers: { readonly joined: WorkerRow[]; readonly died: WorkerRow[]; readonly left: WorkerRow[] };
  readonly subscribers: {
    readonly queue: string;
    readonly name: string;
    readonly change: Record<
      'done' | 'failed' | 'dead' | 'skipped' | 'rejected' | 'depth' | 'inFlight',
      number
    >;
  }[];
  readonly results: {
    readonly total: number;
    readonly byStatus: Record<string, number>;
    readonly fenced: number;
    readonly last: ResultRow[];
  };
  readonly published: number;
}

const claimKey = (c: ClaimRow): string => `${c.queue}\u0000${c.subscriber}\u0000${c.eventPosition}`;

/** Compares two snapshots; `results` and `published` are counted by the caller over `(from, to]`. */
export function diffViews(
  a: Snapshot,
  b: Snapshot,
  results: ViewsDiff['results'],
  published: number,
): ViewsDiff {
  const before = new Map(a.claims.map((c) => [claimKey(c), c]));
  const after = new Map(b.claims.map((c) => [claimKey(c), c]));
  const claims: ViewsDiff['claims'] = { opened: [], expired: [], changed: [], closed: [] };
  for (const [k, c] of after) {
    const old = before.get(k);
    if (c.status === 'expired' && old?.status !== 'expired') claims.expired.push(c);
    else if (!old) claims.opened.push(c);
    else if (old.status !== c.status || old.attempt !== c.attempt || old.owner !== c.owner)
      claims.changed.push({ before: old, after: c });
  }
  for (const [k, c] of before) if (!after.has(k)) claims.closed.push(c);

  const wasWorker = new Map(a.workers.map((w) => [w.workerId, w]));
  const workers: ViewsDiff['workers'] = { joined: [], died: [], left: [] };
  for (const w of b.workers) {
    const old = wasWorker.get(w.workerId);
    if (!old) workers.joined.push(w);
    if (w.leftAt !== null && old?.leftAt == null) workers.left.push(w);
    else if (w.leftAt === null && !w.alive && (old === undefined || old.alive)) workers.died.push(w);
  }

  const wasSub = new Map(a.subscribers.map((s) => [s.subscriberId, s]));
  const subscribers = b.subscribers.map((s) => {
    const o = wasSub.get(s.subscriberId);
    const d = (k: 'done' | 'failed' | 'dead' | 'skipped' | 'rejected' | 'depth' | 'inFlight'): number =>
      s[k] - (o?.[k] ?? 0);
    return {
      queue: s.queue,
      name: s.name,
      change: {
        done: d('done'),
        failed: d('failed'),
        dead: d('dead'),
        skipped: d('skipped'),
        rejected: d('rejected'),
        depth: d('depth'),
        inFlight: d('inFlight'),
      },
    };
  });
  return {
    from: { position: a.position, time: a.time },
    to: { position: b.position, time: b.time },
    claims,
    workers,
    subscribers,
    results,
    published,
  };
}

function signed(n: number): string {
  return n > 0 ? `+${formatCount(n)}` : formatCount(n);
}

function claimText(c: ClaimRow): string {
  return `event ${c.eventPosition} ${c.queue}/${c.subscriber} ${c.status} attempt ${c.attempt}${c.owner !== null ? ` by ${c.owner}` : ''}`;
}

/** The diff as human lines. */
export function renderDiff(d: ViewsDiff, paint: Painter): string[] {
  const out: string[] = [
    paint(
      'bold',
      `changes from position ${d.from.position} (${formatTime(d.from.time)}) to ${d.to.position} (${formatTime(d.to.time)})`,
    ),
    `  ${formatCount(d.to.position - d.from.position)} records, ${formatCount(d.published)} events published, ${formatCount(d.results.total)} results landed`,
    '',
    paint('bold', 'claims'),
  ];
  const c = d.claims;
  if (c.opened.length + c.expired.length + c.changed.length + c.closed.length === 0)
    out.push(paint('dim', '  (no change)'));
  for (const x of c.opened) out.push(`  ${paint('green', '+ opened ')} ${claimText(x)}`);
  for (const x of c.expired) out.push(`  ${paint('yellow', '! expired')} ${claimText(x)}`);
  for (const x of c.changed)
    out.push(
      `  ${paint('blue', '~ changed')} ${claimText(x.after)} (was ${x.before.status}, attempt ${x.before.attempt})`,
    );
  for (const x of c.closed) out.push(`  ${paint('gray', '- closed ')} ${claimText(x)}`);
  out.push('', paint('bold', 'workers'));
  const w = d.workers;
  if (w.joined.length + w.died.length + w.left.length === 0) out.push(paint('dim', '  (no change)'));
  for (const x of w.joined)
    out.push(`  ${paint('green', '+ joined')} ${x.workerId} pid ${x.pid} (${workerState(x)})`);
  for (const x of w.died)
    out.push(`  ${paint('red', '✗ died  ')} ${x.workerId} pid ${x.pid}, last beat ${formatTime(x.lastBeat)}`);
  for (const x of w.left)
    out.push(`  ${paint('gray', '- left  ')} ${x.workerId} pid ${x.pid} at ${formatTime(x.leftAt ?? 0)}`);
  out.push('', paint('bold', 'results'));
  const statuses = Object.entries(d.results.byStatus).map(([s, n]) => `${s} ${formatCount(n)}`);
  out.push(
    `  ${statuses.join(', ') || 'none'}${d.results.fenced > 0 ? paint('red', `, ${d.results.fenced} fenced`) : ''}`,
  );
  for (const r of d.results.last) {
    out.push(
      `  ${String(r.position).padStart(8)} ${r.status.padEnd(7)} ${r.queue}/${r.subscriber} event ${r.eventPosition} by ${r.workerId}${r.accepted ? '' : paint('red', ' (fenced)')}`,
    );
  }
  out.push('', paint('bold', 'subscribers'));
  if (d.subscribers.length === 0) out.push(paint('dim', '  (none)'));
  for (const s of d.subscribers) {
    const parts = Object.entries(s.change)
      .filter(([, n]) => n !== 0)
      .map(([k, n]) => `${k} ${signed(n)}`);
    out.push(`  ${s.queue}/${s.name}: ${parts.join(', ') || 'no change'}`);
  }
  return out;
}
