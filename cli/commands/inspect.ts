import type { Command } from 'commander';
import {
  boundAt,
  dispatchFold,
  isKnownRecord,
  resultRef,
  unbatched,
  type DispatchState,
  type KnownRecord,
  type LogStore,
  type RecordOf,
  type StoredRecord,
} from '../../index.js';
import { storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import {
  colourEnabled,
  formatDuration,
  formatTime,
  painter,
  preview,
  toJson,
  writeLine,
  safe,
  type Painter,
} from '../output.js';
import { progressBar } from '../progress.js';
import { recordLine, subscriberName } from '../record-line.js';
import { withExistingStore } from '../store.js';

interface InspectOptions {
  store: string;
  json?: boolean;
}

type EventRecord = RecordOf<'event.published'>;

/** A child event (caused by the inspected one, or sharing its correlation id) and how it ended. */
interface Child {
  readonly relation: 'caused' | 'correlated';
  readonly event: EventRecord;
  outcome: Record<string, string>;
}

const MAX_CANDIDATES = 20;

/** `eventy inspect EVENT_ID`: the life of one event as a timeline. */
export function inspectCommand(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .summary('the life of one event as a timeline')
    .description(
      'the whole life of one event: published, claims, attempts, results, retries, and the events it caused',
    )
    .argument('<event-id>', 'the event id (or a unique prefix of it, at least 6 characters)')
    .addOption(storeOption(ctx.env))
    .option('--json', 'print JSON: {event, records, children}')
    .addHelpText(
      'after',
      `
Examples:
  $ eventy inspect 3f1c2a7e-51b0-4f0e-9d38-2f0e4b1f7a11
  $ eventy inspect 3f1c2a7e --json | jq '.records[] | .type'`,
    )
    .action((id: string, o: InspectOptions) => inspect(ctx, id, o));
}

/** An event found by id (prefix) with every record about it and its related events. */
interface Found {
  readonly records: KnownRecord[];
  readonly correlation: string;
  readonly children: Map<string, Child>;
}

/** What one pass over the log found. */
interface Scan {
  readonly found: Map<string, Found>;
  /** Fenced results (by resultRef). */
  readonly rejected: ReadonlySet<number>;
  /** Claims of a found event that lost the race (by position). */
  readonly lost: ReadonlySet<number>;
  /** Found events bound as they were published to a worker's reservation: subscriber and worker. */
  readonly bound: ReadonlyMap<number, { subscriber: string; workerId: string }[]>;
  /** Found keyed twins (never dispatched): event position → the id of the first event with the key. */
  readonly twins: ReadonlyMap<number, string>;
}

async function inspect(ctx: CliContext, id: string, o: InspectOptions): Promise<void> {
  if (id.length < 6)
    throw new UsageError(`event id must have at least 6 characters, got: ${JSON.stringify(id)}`);
  const { found, rejected, lost, bound, twins } = await withExistingStore(o.store, (store) =>
    scan(ctx, store, id),
  );
  const chosen = found.get(id) ?? (found.size === 1 ? [...found.values()][0] : undefined);
  if (!chosen) {
    if (found.size === 0) throw new Error(`event not found: ${id}`);
    const some = [...found.keys()].slice(0, 5).join(', ');
    throw new UsageError(`event id prefix ${id} is ambiguous: ${some}${found.size > 5 ? ', …' : ''}`);
  }
  const children = [...chosen.children.values()];
  if (o.json) {
    const records = chosen.records.map((r) =>
      r.type === 'result.recorded'
        ? { ...r, accepted: !rejected.has(resultRef(r)) }
        : r.type === 'claim.acquired'
          ? { ...r, won: !lost.has(r.position) }
          : r.type === 'event.published' && bound.has(r.position)
            ? { ...r, reservedBy: bound.get(r.position) }
            : r.type === 'event.published' && twins.has(r.position)
              ? { ...r, duplicateOf: twins.get(r.position) }
              : r,
    );
    const related = children.map((c) => ({ relation: c.relation, event: c.event, outcome: c.outcome }));
    await writeLine(ctx.stdout, toJson({ event: chosen.records[0], records, children: related }));
    return;
  }
  const paint = painter(colourEnabled(ctx.stdout, ctx.env));
  const notes = new Map<number, string>();
  for (const p of lost) notes.set(p, 'lost: another claim held the event or it was finished');
  for (const [p, subs] of bound) {
    const who = subs.map((b) => `${safe(b.subscriber)}: worker ${safe(b.workerId)}`).join(', ');
    notes.set(p, `claimed as published, attempt 1, by a reservation (${who})`);
  }
  for (const r of chosen.records) {
    if (r.type !== 'result.recorded') continue;
    if (rejected.has(resultRef(r))) notes.set(r.position, rejectedWhy(r, chosen.records, rejected));
    else if (r.reportedBy !== undefined)
      notes.set(
        r.position,
        `the worker died: attempt ${r.attempt} failed, reported by worker ${safe(r.reportedBy)}`,
      );
  }
  const twin = twins.get(chosen.records[0]?.position ?? -1);
  const lines = [...timeline(chosen.records, notes, rejected, paint, twin), ...related(children, paint)];
  for (const line of lines) await writeLine(ctx.stdout, line);
}

/** Reads the log once, folding claims (to judge claims and results) and collecting what concerns `id`. */
async function scan(ctx: CliContext, store: LogStore, id: string): Promise<Scan> {
  const head = await store.head();
  const claims = dispatchFold.initial();
  const bar = progressBar(ctx.stderr, 'inspect', 'records', head);
  // Candidates by id prefix, each with its records; treeOf maps their descendants to them.
  const found = new Map<string, Found>();
  const treeOf = new Map<string, string>();
  const lost = new Set<number>();
  const bound = new Map<number, { subscriber: string; workerId: string }[]>();
  const twinOf = new Map<number, number>(); // a found twin's position → the first event's position
  try {
    for await (const record of store.read({ to: head, signal: ctx.signal })) {
      dispatchFold.evolve(claims, record);
      if (record.position % 16_384 === 0) bar.update(record.position);
      // A batch record's items concern different events: each is looked at as a record of its own.
      for (const r of unbatched(record)) {
        if (!isKnownRecord(r) || !('eventId' in r)) continue;
        const own = found.get(r.eventId);
        if (own) {
          if (r.type === 'claim.acquired' && !won(claims, r)) lost.add(r.position);
          own.records.push(r);
        } else if (r.type !== 'event.published') {
          noteOutcome(r, found, treeOf, claims.rejected);
        } else if (r.eventId.startsWith(id) && found.size < MAX_CANDIDATES) {
          const correlation = r.headers.correlationId ?? r.eventId;
          found.set(r.eventId, { records: [r], correlation, children: new Map() });
          const subs = boundAt(claims, r).map(({ sub, workerId }) => ({
            subscriber: subscriberName(sub.reg.queue, sub.id),
            workerId,
          }));
          if (subs.length > 0) bound.set(r.position, subs);
          const key = r.headers.key;
          const first = key === undefined ? undefined : claims.queues.get(r.queue)?.keys.get(key);
          if (first !== undefined && first !== r.position) twinOf.set(r.position, first);
        } else {
          linkChild(r, found, treeOf);
        }
      }
    }
  } finally {
    bar.done();
  }
  const twins = new Map<number, string>();
  for (const [twin, first] of twinOf) {
    for await (const r of store.read({ from: first, to: first + 1, signal: ctx.signal }))
      if (isKnownRecord(r) && r.type === 'event.published') twins.set(twin, r.eventId);
  }
  return { found, rejected: claims.rejected, lost, bound, twins };
}

/** Adds an event to a candidate's tree when it was caused by a member, or shares the correlation id. */
function linkChild(r: EventRecord, found: Map<string, Found>, treeOf: Map<string, string>): void {
  const cause = r.headers.causationId;
  const root = cause === undefined ? undefined : found.has(cause) ? cause : treeOf.get(cause);
  if (root !== undefined) {
    found.get(root)?.children.set(r.eventId, { relation: 'caused', event: r, outcome: {} });
    treeOf.set(r.eventId, root);
    return;
  }
  const corr = r.headers.correlationId;
  if (corr === undefined) return;
  for (const [rootId, f] of found) {
    if (f.correlation === corr) {
      f.children.set(r.eventId, { relation: 'correlated', event: r, outcome: {} });
      treeOf.set(r.eventId, rootId);
      return;
    }
  }
}

function noteOutcome(
  r: KnownRecord & { eventId: string },
  found: Map<string, { children: Map<string, Child> }>,
  treeOf: Map<string, string>,
  rejected: ReadonlySet<number>,
): void {
  if (r.type !== 'result.recorded' || rejected.has(resultRef(r))) return;
  const root = treeOf.get(r.eventId);
  const child = root === undefined ? undefined : found.get(root)?.children.get(r.eventId);
  if (!child) return;
  child.outcome[subscriberName(r.queue, r.subscriberId)] =
    r.status === 'ok' || r.status === 'skipped' ? r.status : r.retryAt !== undefined ? 'retry' : 'dead';
}

/** True when the claim just folded is the one holding the item. */
function won(claims: DispatchState, r: RecordOf<'claim.acquired'>): boolean {
  return claims.subscribers.get(r.subscriberId)?.items.get(r.eventPosition)?.claimPosition === r.position;
}

function timeline(
  records: readonly KnownRecord[],
  notes: ReadonlyMap<number, string>,
  rejected: ReadonlySet<number>,
  paint: Painter,
  duplicateOf: string | undefined,
): string[] {
  const e = records[0] as EventRecord;
  const out = [
    `${paint('bold', `event ${safe(e.eventId)}`)} in queue ${paint('bold', safe(e.queue))}, position ${e.position}, published ${formatTime(e.time)}`,
    `  payload ${preview(e.payload, 200)}`,
  ];
  const headers = Object.entries(e.headers).filter(([, v]) => v !== undefined);
  if (headers.length > 0)
    out.push(`  headers ${headers.map(([k, v]) => `${safe(k)}=${safe(String(v))}`).join(' ')}`);
  const { scheduleId, scheduledFor } = e.headers;
  if (scheduleId !== undefined && scheduledFor !== undefined) {
    const late = e.time - Date.parse(scheduledFor);
    out.push(
      `  fired by schedule ${safe(scheduleId)} for the slot ${safe(scheduledFor)}${Number.isFinite(late) ? ` (${formatDuration(late)} after it)` : ''}`,
    );
  }
  const available = e.availableAt ?? e.time + (e.delay ?? 0);
  if (available > e.time) out.push(`  held until ${formatTime(available)}`);
  out.push('', paint('bold', 'timeline'));
  for (const r of records) {
    const text = notes.get(r.position);
    const note = text === undefined ? '' : paint('yellow', `  (${text})`);
    out.push(
      `  ${paint('dim', `+${formatDuration(r.time - e.time)}`.padEnd(9))} ${recordLine(r, paint)}${note}`,
    );
  }
  const finals = finalOutcomes(records, rejected);
  out.push('', paint('bold', 'outcome'));
  if (duplicateOf !== undefined)
    out.push(`  duplicate of ${safe(duplicateOf)}: its idempotency key was taken, it is never dispatched`);
  else if (finals.size === 0) out.push(paint('dim', '  no result yet'));
  for (const [sub, s] of finals) out.push(`  ${safe(sub)}: ${s}`);
  return out;
}

function finalOutcomes(records: readonly KnownRecord[], rejected: ReadonlySet<number>): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of records) {
    if (r.type !== 'result.recorded' || rejected.has(resultRef(r))) continue;
    const sub = subscriberName(r.queue, r.subscriberId);
    out.set(
      sub,
      r.status === 'ok' || r.status === 'skipped'
        ? `${r.status} after ${r.attempt} attempt${r.attempt === 1 ? '' : 's'}`
        : r.retryAt !== undefined
          ? `${r.status}, retry at ${formatTime(r.retryAt)}`
          : `dead (${r.status}: ${safe(r.error?.message ?? 'no error')})`,
    );
  }
  return out;
}

const CAUSED_SHOWN = 50;
const CORRELATED_SHOWN = 5;

/** The events this one caused (listed), and those sharing its correlation id (summarised). */
function related(children: readonly Child[], paint: Painter): string[] {
  const out: string[] = [];
  const line = (c: Child): string => {
    const outcome =
      Object.entries(c.outcome)
        .map(([s, v]) => `${s}:${v}`)
        .join(' ') || 'open';
    return `  ${String(c.event.position).padStart(8)} ${c.event.queue} ${c.event.eventId} ${outcome}`;
  };
  const caused = children.filter((c) => c.relation === 'caused');
  const correlated = children.filter((c) => c.relation === 'correlated');
  if (caused.length > 0) {
    out.push('', paint('bold', `caused events (${caused.length})`));
    out.push(...caused.slice(0, CAUSED_SHOWN).map(line));
    if (caused.length > CAUSED_SHOWN)
      out.push(paint('dim', `  … and ${caused.length - CAUSED_SHOWN} more (--json lists them all)`));
  }
  if (correlated.length > 0) {
    const tally = new Map<string, number>();
    for (const c of correlated) {
      const key = Object.values(c.outcome).join(',') || 'open';
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    const summary = [...tally].map(([k, n]) => `${k} ${n}`).join(', ');
    out.push('', paint('bold', `events with the same correlation id (${correlated.length}: ${summary})`));
    out.push(...correlated.slice(0, CORRELATED_SHOWN).map(line));
    if (correlated.length > CORRELATED_SHOWN)
      out.push(
        paint('dim', `  … and ${correlated.length - CORRELATED_SHOWN} more (eventy tail --correlation …)`),
      );
  }
  return out;
}

/**
 * Why the fold did not take a result: a repeat of one it took (the same subscriber, worker and attempt,
 * or a second skip), or a result of a worker that no longer held the lease (fenced).
 */
function rejectedWhy(
  r: RecordOf<'result.recorded'>,
  records: readonly StoredRecord[],
  rejected: ReadonlySet<number>,
): string {
  const first = records.find(
    (o): o is RecordOf<'result.recorded'> =>
      o.type === 'result.recorded' &&
      o.position < r.position &&
      !rejected.has(resultRef(o)) &&
      o.subscriberId === r.subscriberId &&
      ((o.workerId === r.workerId && o.attempt === r.attempt) ||
        (o.status === 'skipped' && r.status === 'skipped')),
  );
  if (first?.reportedBy !== undefined && r.reportedBy === undefined)
    return `fenced: the worker was taken as dead (position ${first.position})`;
  if (first) return `duplicate of the result at position ${first.position}`;
  return r.reportedBy !== undefined
    ? 'not counted: the worker was alive, or its claim had ended'
    : 'fenced: the lease was lost';
}
