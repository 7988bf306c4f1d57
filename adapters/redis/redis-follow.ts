import type { Redis } from 'ioredis';
import { NotFoundError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { LogRecord } from '../../engine/records.js';
import { ABORTED, AbortWatch, isUnreachable, sleep } from './redis-connection.js';
import { segmentBase, type RedisLayout } from './redis-layout.js';
import { decodeEntry, type StreamEntry } from './redis-records.js';

/** Records taken per XREAD. */
const FOLLOW_CHUNK = 1000;
/**
 * How long one XREAD blocks. Aborting does not wait for it (the follower stops waiting and drops its
 * connection); the bound only makes a follower look at retention now and then.
 */
const BLOCK_MS = 5000;
/** Pause before asking again after a read failed (ioredis itself reconnects with backoff). */
const RETRY_MS = 200;

/** What a follower needs from its store. */
export interface FollowContext {
  readonly layout: RedisLayout;
  readonly segmentRecords: number;
  /** A new blocking connection for this follower alone, closed by the store's `close()` too. */
  connect(): Redis;
  /** Closes a connection made by {@link connect}. */
  release(conn: Redis): Promise<void>;
}

/** Where a follow starts and what stops it; computed when the iteration starts (it may throw). */
export interface FollowStart {
  readonly from: Position;
  readonly signal: AbortSignal;
}

/**
 * Yields every record from `from` on, one XREAD reply per chunk, then blocks on XREAD for more, until
 * `signal` aborts. `start` runs when the iteration starts, so its errors (a closed store, a bad
 * position) come from the first `next()` as they would from a generator method.
 *
 * The record at position `p` can only ever be in the segment stream of `p`, at id `p-1` or `p-2`, so
 * the follower always asks that one stream for ids after `p-0`: it moves to the next stream exactly when
 * it has read a segment's last position, and can neither skip nor repeat a record, across rolls and
 * across reconnects (a read cut by an outage is sent again, unchanged, once Redis is back).
 * @throws NotFoundError when retention dropped the segment the follower still needed.
 * @throws CorruptRecordError when a stored record fails its checks.
 */
export async function* followLog(
  ctx: FollowContext,
  start: () => FollowStart,
): AsyncGenerator<readonly LogRecord[]> {
  const { from, signal } = start();
  const watch = new AbortWatch(signal);
  // A function, not the property: TypeScript would keep `signal.aborted` narrowed across awaits.
  const aborted = (): boolean => signal.aborted;
  if (aborted()) return;
  const conn = ctx.connect();
  try {
    const first = await watch.until(conn.hget(ctx.layout.meta, 'first'));
    if (first === ABORTED) return;
    let next = Math.max(from, Number(first ?? 0));
    while (!aborted()) {
      const batch = await readBatch(ctx, conn, next, watch);
      if (batch === ABORTED) return;
      if (batch.length === 0) continue;
      yield batch;
      next += batch.length;
    }
  } finally {
    await ctx.release(conn);
  }
}

async function readBatch(
  ctx: FollowContext,
  conn: Redis,
  next: Position,
  watch: AbortWatch,
): Promise<LogRecord[] | typeof ABORTED> {
  const { signal } = watch;
  const key = ctx.layout.segmentKey(segmentBase(next, ctx.segmentRecords));
  let reply: unknown;
  try {
    const read = conn.xreadBuffer('COUNT', FOLLOW_CHUNK, 'BLOCK', BLOCK_MS, 'STREAMS', key, `${next}-0`);
    reply = await watch.until(read);
  } catch (e) {
    if (signal.aborted) return ABORTED;
    if (!isUnreachable(e)) throw e;
    await sleep(RETRY_MS, signal);
    return [];
  }
  if (reply === ABORTED) return ABORTED;
  const entries = streamEntries(reply);
  if (entries.length === 0) return (await checkRetained(ctx, conn, next, watch)) ? [] : ABORTED;
  return entries.map((entry, i) => decodeEntry(entry, key, next + i));
}

/** False when aborted; throws when `next` was dropped by retention (the follower would wait forever). */
async function checkRetained(
  ctx: FollowContext,
  conn: Redis,
  next: Position,
  watch: AbortWatch,
): Promise<boolean> {
  const first = await watch.until(conn.hget(ctx.layout.meta, 'first'));
  if (first === ABORTED) return false;
  if (next < Number(first ?? 0)) {
    throw new NotFoundError('record (dropped by retention) at position', String(next));
  }
  return true;
}

/** The entries of a one-stream XREAD reply, in the RESP2 shape or as a RESP3 map. */
function streamEntries(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    const [stream] = reply as [unknown, StreamEntry[]][];
    return stream?.[1] ?? [];
  }
  const [entries] = Object.values(reply as Record<string, StreamEntry[]>);
  return entries ?? [];
}
