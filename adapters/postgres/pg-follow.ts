import type { Continuity } from '../../engine/continuity.js';
import { decodeRecord } from '../../engine/codec.js';
import { TruncatedError } from '../../engine/errors.js';
import { aborted } from '../../engine/notifier.js';
import type { Position } from '../../engine/position.js';
import type { StoredRecord } from '../../engine/records.js';
import { checkMeta } from './pg-continuity.js';
import { isUnavailable } from './pg-errors.js';
import type { PgListener } from './pg-listener.js';
import type { MetaRow, PageRow } from './pg-statements.js';

/** Rows per page of a read or follow. */
export const PAGE = 1_000;
export const END = Number.MAX_SAFE_INTEGER;

/** Rows of a log and the log's row, read in one snapshot. */
export interface Page {
  readonly rows: PageRow[];
  readonly meta: MetaRow | undefined;
}

/** What a follower needs from its store. */
export interface FollowContext {
  readonly listener: PgListener;
  readonly continuity: Continuity;
  /** The table, as decoding errors name it. */
  readonly where: string;
  /** Up to `limit` rows of `[from, to)` and the log's row (see `PgStatements.page`). */
  page(from: Position, to: Position, limit: number): Promise<Page>;
  /** Resolves once every position up to `position` is on disk (see `Flusher`). */
  durable(position: Position): Promise<void>;
  /**
   * The rows of this handle's own append that starts at `position`, as the table holds them, when the
   * handle still has them (see `OwnAppends`): delivered without reading them back.
   */
  own(position: Position): readonly PageRow[] | undefined;
}

/** A row as a record: position and time are its columns (the body carries zeros in their place). */
export function toRecord(row: PageRow, where: string): StoredRecord {
  const r = decodeRecord(row.body, where, row.position) as { position: number; time: number };
  r.position = row.position;
  r.time = row.time;
  return r as unknown as StoredRecord;
}

/** The run of rows from `next` on without a hole (commits are in position order: a defence). */
export function contiguous(rows: readonly PageRow[], next: Position): PageRow[] {
  const out: PageRow[] = [];
  for (const row of rows) {
    if (row.position !== next + out.length) break;
    out.push(row);
  }
  return out;
}

/**
 * Yields every record from `from` on, a page at a time, then waits to be woken by the store's LISTEN
 * connection (or its poll) and reads again, until `signal` aborts. Starts at the first kept position
 * when `from` was dropped by retention.
 *
 * Every page is read with the log's row, and, once something was delivered, from the last delivered
 * position: before a page is delivered the log must still be the one the follower read — the same id
 * and epoch, a head not below what the handle has seen, the last delivered row still there, byte for
 * byte with its time. Idle, the follower reads (and so checks) when a notification names a head past
 * what it read (the echo of its own process's append does not) and at least once per poll period; a
 * server that came back is checked by the first page read from it. The handle's own appends are
 * delivered as appended when the follower reaches them (see {@link OwnAppends}). A page is delivered
 * once its rows of synced appends are on disk, so that no server crash takes back a synced record a
 * follower delivered.
 * @throws LogDivergedError when the log is not the one the follower read.
 * @throws TruncatedError when `from`, or the next position while the follower still needed it, was
 * removed by retention (`from` undefined: the follower starts at the first kept position).
 */
export async function* followPages(
  ctx: FollowContext,
  from: Position | undefined,
  signal: AbortSignal,
): AsyncGenerator<readonly StoredRecord[]> {
  const { listener, continuity } = ctx;
  listener.start();
  let next = from ?? 0;
  let prior: PageRow | undefined;
  while (!signal.aborted) {
    const { version, resyncs } = listener;
    // This handle's own append starting where the follower is: delivered as appended, without a page
    // query. The continuity checks come with the next page, which rereads the last row delivered here.
    const own = prior === undefined ? undefined : ctx.own(next);
    if (own !== undefined) {
      const synced = own.findLast((row) => row.synced);
      if (synced !== undefined) {
        // A flush that fails (the server away, a deadline passed) is waited out as a page read's is.
        const flushed = await whileAway(
          ctx,
          signal,
          ctx.durable(synced.position).then(() => true),
        );
        if (flushed === undefined) return;
        if (flushed === AWAY) continue;
      }
      // Not into a log the handle already found diverged (by another of its followers, or an append):
      // the rows a page read would have checked are gone from it.
      continuity.checkNotDiverged();
      yield own.map((row) => toRecord(row, ctx.where));
      const last = own.at(-1) as PageRow;
      next = last.position + 1;
      prior = last;
      continuity.saw(next);
      if (!listener.moved(next, resyncs)) await waitPast(listener, next, resyncs, signal);
      continue;
    }
    const seen = continuity.seen;
    const start = prior?.position ?? next;
    const page = await whileAway(ctx, signal, durablePage(ctx, start, PAGE + (prior === undefined ? 0 : 1)));
    if (page === undefined) return;
    if (page === AWAY) continue;
    const { meta } = page;
    checkMeta(continuity, meta, seen);
    let rows = page.rows;
    if (prior === undefined) {
      if (next < meta.first) {
        if (from !== undefined) throw new TruncatedError(ctx.continuity.log, next, meta.first);
        next = meta.first; // no position asked for: the start of what the log keeps
        continue;
      }
    } else if (prior.position >= meta.first) {
      const stored = rows[0];
      const same =
        stored?.position === prior.position && stored.time === prior.time && stored.body.equals(prior.body);
      continuity.checkRecord(
        prior.position,
        same,
        stored?.position === prior.position ? 'another record' : 'no record',
      );
      rows = rows.slice(1);
    } else if (next < meta.first) {
      throw new TruncatedError(ctx.continuity.log, next, meta.first);
    }
    const run = contiguous(rows, next);
    const last = run.at(-1);
    if (last !== undefined) {
      yield run.map((row) => toRecord(row, ctx.where));
      next = last.position + 1;
      prior = last;
      continuity.saw(next);
      // Caught up with the head of the page's snapshot: read again only once something is past it.
      if (next < meta.head || listener.moved(next, resyncs)) continue;
    } else if (listener.version !== version && listener.moved(next, resyncs)) continue;
    await waitPast(listener, next, resyncs, signal);
  }
}

/**
 * Waits for the next notification that names a head past `next` (or after which notifications may have
 * been missed), or for the listener's poll period. A notification of what the follower has read
 * already — the echo of its own process's append, which the poke woke it for at once — costs no read.
 */
async function waitPast(
  listener: PgListener,
  next: Position,
  resyncs: number,
  signal: AbortSignal,
): Promise<void> {
  const until = Date.now() + listener.pollMs;
  for (;;) {
    await listener.notifier.wait(signal, Math.max(0, until - Date.now()));
    if (aborted(signal) || listener.moved(next, resyncs) || Date.now() >= until) return;
  }
}

/** What {@link whileAway} gives for a read that failed because the server is away. */
const AWAY = Symbol('away');

/**
 * The value of a read, or undefined as soon as `signal` aborts; a read that fails because the server is
 * away (unavailable: down, a deadline passed) is {@link AWAY} after a poll period's wait: the follower
 * tries again, it does not end. `read` must not resolve to undefined.
 */
async function whileAway<T>(
  ctx: FollowContext,
  signal: AbortSignal,
  read: Promise<T>,
): Promise<T | typeof AWAY | undefined> {
  try {
    return await untilAborted(read, signal);
  } catch (e) {
    if (aborted(signal)) return undefined;
    if (!isUnavailable(e)) throw e;
    await ctx.listener.notifier.wait(signal, ctx.listener.pollMs);
    return AWAY;
  }
}

/**
 * A page read, once the rows of synced appends in it are on disk. (Rows of unsynced appends are read out
 * at once, as acknowledged: a crash of the server may take them back; see Continuity.)
 */
async function durablePage(ctx: FollowContext, from: Position, limit: number): Promise<Page> {
  const page = await ctx.page(from, END, limit);
  const last = page.rows.findLast((row) => row.synced);
  if (last !== undefined) await ctx.durable(last.position);
  return page;
}

/** The promise's value, or undefined as soon as the signal aborts (a read on a hung server is left behind). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = (): void => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/** How many records of a handle's latest appends its followers can take without reading them back. */
const OWN_RECORDS_KEPT = 4_096;

/**
 * A handle's latest appends, as rows: a follower that reaches one of them (a worker reading back its own
 * claims and results, usually right after it appended them) delivers it without a page query, the
 * network round trip and the row decoding. Only a cache, bounded by records: a follower that finds
 * nothing reads the table. Kept only while the store's LISTEN connection stays up (one
 * {@link PgListener.generation}): an append that did not wait for the WAL flush can be lost with a server
 * restart, which drops that connection, and a follower must then read the log as it is.
 */
export class OwnAppends {
  readonly #rows = new Map<Position, readonly PageRow[]>();
  #records = 0;
  #generation = -1;

  constructor(private readonly listener: Pick<PgListener, 'generation' | 'state'>) {}

  /** The rows of a committed append of `bodies` at `first`, all at log time `time`. */
  add(first: Position, time: number, synced: boolean, bodies: readonly Buffer[]): void {
    if (!this.#current()) {
      this.#rows.clear();
      this.#records = 0;
      this.#generation = this.listener.generation;
    }
    if (this.listener.state !== 'listening' || bodies.length > OWN_RECORDS_KEPT) return;
    this.#records -= this.#rows.get(first)?.length ?? 0;
    this.#rows.set(
      first,
      bodies.map((body, i) => ({ position: first + i, time, synced, body })),
    );
    this.#records += bodies.length;
    for (const [p, rows] of this.#rows) {
      if (this.#records <= OWN_RECORDS_KEPT) break;
      this.#rows.delete(p);
      this.#records -= rows.length;
    }
  }

  get(first: Position): readonly PageRow[] | undefined {
    return this.#current() ? this.#rows.get(first) : undefined;
  }

  /** The connection is up and has not dropped since the rows kept were added. */
  #current(): boolean {
    return this.listener.state === 'listening' && this.listener.generation === this.#generation;
  }
}
