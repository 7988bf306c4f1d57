import type { Redis } from 'ioredis';
import { TruncatedError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { StoredRecord } from '../../engine/records.js';
import { ABORTED, AbortWatch, ignore, isUnreachable, sleep } from './redis-connection.js';
import { checkFollowed, type ContinuityContext, type Delivered } from './redis-continuity.js';
import { segmentBase } from './redis-layout.js';
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

/** How often a busy follower checks that its log is still the one it reads (an idle one checks per XREAD timeout). */
const CHECK_MS = 5000;

/** What a follower needs from its store. */
export interface FollowContext extends ContinuityContext {
  readonly segmentRecords: number;
  /** How long one XREAD blocks (default 5 s). */
  readonly blockMs?: number;
  /** A new blocking connection for this follower alone, closed by the store's `close()` too. */
  connect(): Redis;
  /** Closes a connection made by {@link connect}. */
  release(conn: Redis): Promise<void>;
}

/** Where a follow starts and what stops it; computed when the iteration starts (it may throw). */
export interface FollowStart {
  /** First position to deliver; undefined: the log's first kept position. */
  readonly from: Position | undefined;
  readonly signal: AbortSignal;
}

/**
 * Reads sent together, in one socket write, while records come one at a time. A follower at the head of
 * a quiet log gets one record per XREAD; sending the next read only after each reply would cost a
 * socket write per record (in small VMs as much CPU as the rest of the record's handling).
 */
const TRICKLE_WINDOW = 16;

/** One XREAD sent on the follower's connection. */
interface Read {
  readonly key: string;
  /** True for a read of up to a chunk (the single read in bulk, a window's last). */
  readonly chunk: boolean;
  readonly reply: Promise<unknown>;
  /** The reply once it arrived (replies that arrive together make one chunk). */
  arrived: { value: unknown } | undefined;
}

/**
 * Yields every record from `from` on, one chunk per XREAD reply (or per replies that arrived together),
 * then blocks on XREAD for more, until `signal` aborts. `start` runs when the iteration starts, so its
 * errors (a closed store, a bad position) come from the first `next()` as they would from a generator
 * method.
 *
 * The record at position `p` can only ever be in the segment stream of `p`, at id `p-1` or `p-2`, so
 * the follower always asks that one stream for ids after `p-0`: it moves to the next stream exactly when
 * it has read a segment's last position, and can neither skip nor repeat a record, across rolls and
 * across reconnects (a read cut by an outage is sent again, unchanged, once Redis is back).
 *
 * Two ways of reading: while records come in bulk, one read of up to {@link FOLLOW_CHUNK} at a time;
 * once a read brings a single record, a window of {@link TRICKLE_WINDOW} reads — one record each for
 * the positions that come next, the last one for up to a chunk — goes in one write, and Redis answers
 * each as its record arrives (a blocked client's next command waits its turn). The window's last read
 * bringing more than one record goes back to bulk; a read that times out (a quiet log) drops the
 * connection with the window's reads still waiting behind it, and goes back to bulk on a new one.
 * @throws TruncatedError when `from`, or the segment the follower still needed, was removed by retention.
 * @throws CorruptRecordError when a stored record fails its checks.
 */
export async function* followLog(
  ctx: FollowContext,
  start: () => FollowStart,
): AsyncGenerator<readonly StoredRecord[]> {
  const { from, signal } = start();
  const watch = new AbortWatch(signal);
  // A function, not the property: TypeScript would keep `signal.aborted` narrowed across awaits.
  const aborted = (): boolean => signal.aborted;
  if (aborted()) return;
  // A connection made again may reach a server that restarted empty or from an older dump: what it
  // reads is delivered only once the log was checked (see checkFollowed).
  let reconnected = false;
  const connect = (): Redis => {
    const made = ctx.connect();
    made.on('reconnecting', () => (reconnected = true));
    return made;
  };
  let conn = connect();
  const reads: Read[] = [];
  /** Drops the reads still waiting (they may wait for later records than the next one) with their connection. */
  const restart = async (): Promise<void> => {
    reads.length = 0;
    const old = conn;
    conn = connect();
    await ctx.release(old);
  };
  let last: Delivered | undefined;
  let checkedAt = performance.now();
  const check = async (next: Position | undefined): Promise<Position | typeof ABORTED> => {
    reconnected = false;
    const first = await checkFollowed(ctx, last, next, watch);
    checkedAt = performance.now();
    return first;
  };
  try {
    const first = await check(undefined);
    if (first === ABORTED) return;
    if (from !== undefined && from < first) throw new TruncatedError(ctx.continuity.log, from, first);
    let next = from ?? first;
    let trickle = false;
    while (!aborted()) {
      if (reads.length === 0) send(ctx, conn, reads, next, trickle ? TRICKLE_WINDOW : 1);
      let batch: Taken | typeof ABORTED;
      try {
        batch = await take(reads, next, watch);
      } catch (e) {
        if (signal.aborted) return;
        if (!isUnreachable(e)) throw e;
        if (reads.length > 0) await restart();
        reconnected = true;
        await sleep(RETRY_MS, signal);
        continue;
      }
      if (batch === ABORTED) return;
      const { records, chunkRead, lastEntry } = batch;
      if (records.length === 0) {
        if (reads.length > 0) await restart();
        trickle = false;
        if ((await check(next)) === ABORTED) return;
        continue;
      }
      if (reconnected || performance.now() - checkedAt >= CHECK_MS) {
        if ((await check(next)) === ABORTED) return;
      }
      if (chunkRead !== undefined) trickle = chunkRead === 1;
      yield records;
      next += records.length;
      last = lastEntry;
      ctx.continuity.saw(next);
    }
  } finally {
    await ctx.release(conn);
  }
}

/** Sends `count` reads from `next` in one socket write: one record each, the last for up to a chunk. */
function send(ctx: FollowContext, conn: Redis, reads: Read[], next: Position, count: number): void {
  const block = ctx.blockMs ?? BLOCK_MS;
  const socket = conn.status === 'ready' ? conn.stream : undefined;
  socket?.cork();
  try {
    for (let i = 0; i < count; i++) {
      const from = next + i;
      const key = ctx.layout.segmentKey(segmentBase(from, ctx.segmentRecords));
      const n = i === count - 1 ? FOLLOW_CHUNK : 1;
      const reply = conn.xreadBuffer('COUNT', n, 'BLOCK', block, 'STREAMS', key, `${from}-0`);
      const read: Read = { key, chunk: n > 1, reply, arrived: undefined };
      // An abandoned read (the connection dropped) rejects unobserved: that is expected.
      reply.then((value) => (read.arrived = { value }), ignore);
      reads.push(read);
    }
  } finally {
    socket?.uncork();
  }
}

interface Taken {
  readonly records: StoredRecord[];
  /** The stored entry of the last record. */
  readonly lastEntry: Delivered | undefined;
  /** How many records the chunk read among those taken brought, if one was. */
  readonly chunkRead: number | undefined;
}

/**
 * The records of the first read's reply, with those of the following reads whose replies arrived with
 * it; no records when the first read timed out.
 */
async function take(reads: Read[], next: Position, watch: AbortWatch): Promise<Taken | typeof ABORTED> {
  let read = reads[0] as Read;
  const reply = await watch.until(read.reply);
  if (reply === ABORTED) return ABORTED;
  const records: StoredRecord[] = [];
  let chunkRead: number | undefined;
  let lastEntry: Delivered | undefined;
  for (let value = reply; ;) {
    const entries = streamEntries(value);
    if (entries.length === 0 && records.length > 0) break; // a timeout: the next take returns it
    reads.shift();
    for (const entry of entries) records.push(decodeEntry(entry, read.key, next + records.length));
    const end = entries.at(-1);
    if (end !== undefined) lastEntry = { position: next + records.length - 1, key: read.key, entry: end };
    if (read.chunk) chunkRead = entries.length;
    const following = reads[0];
    if (entries.length === 0 || following?.arrived === undefined) break;
    read = following;
    value = following.arrived.value;
  }
  return { records, chunkRead, lastEntry };
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
