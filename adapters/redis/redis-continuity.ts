import type { Redis } from 'ioredis';
import type { Continuity } from '../../engine/continuity.js';
import { TruncatedError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import { ABORTED, isUnreachable, sleep, type AbortWatch } from './redis-connection.js';
import { META_FIELDS, parseMeta, type RedisLayout } from './redis-layout.js';
import { entryBody, type StreamEntry } from './redis-records.js';

/** What a follower checks its log with. */
export interface ContinuityContext {
  readonly layout: RedisLayout;
  readonly continuity: Continuity;
  /** Runs a command on the store's (non-blocking) command connection. */
  command<T>(what: string, run: (client: Redis) => Promise<T>): Promise<T>;
}

/** The last record a follower delivered, as stored: compared byte for byte when the follower checks. */
export interface Delivered {
  readonly position: Position;
  readonly key: string;
  readonly entry: StreamEntry;
}

/** Pause between checks while Redis cannot be reached. */
const RETRY_MS = 200;

/**
 * Checks that the log is still the one the follower has been reading: the same identity, a head not
 * below what was seen, the record at the last delivered position still the one delivered (a server
 * restarted empty or rolled back to an older dump fails one of them). While Redis cannot be reached the
 * check waits and tries again, so that nothing read from a server that came back is delivered before
 * the check passed.
 * @returns the first position retention kept, or {@link ABORTED}.
 * @throws LogDivergedError when the log is not the one the follower read.
 * @throws TruncatedError when retention dropped `next`, which the follower still needed (none at the start).
 */
export async function checkFollowed(
  ctx: ContinuityContext,
  last: Delivered | undefined,
  next: Position | undefined,
  watch: AbortWatch,
): Promise<Position | typeof ABORTED> {
  for (;;) {
    try {
      const seen = ctx.continuity.seen;
      const found = await watch.until(look(ctx, last));
      if (found === ABORTED) return ABORTED;
      const { meta, stored } = found;
      ctx.continuity.checkIdentity(meta.identity);
      ctx.continuity.checkHead(meta.head, seen);
      if (next !== undefined && next < meta.first)
        throw new TruncatedError(ctx.continuity.log, next, meta.first);
      if (last !== undefined && last.position >= meta.first) {
        const same = stored !== undefined && stored.equals(entryBody(last.entry, last.key));
        ctx.continuity.checkRecord(
          last.position,
          same,
          stored === undefined ? 'no record' : 'another record',
        );
      }
      return meta.first;
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      await sleep(RETRY_MS, watch.signal);
      if (watch.signal.aborted) return ABORTED;
    }
  }
}

async function look(ctx: ContinuityContext, last: Delivered | undefined) {
  const meta = parseMeta(await ctx.command('check log', (c) => c.hmget(ctx.layout.meta, ...META_FIELDS)));
  if (last === undefined) return { meta, stored: undefined };
  const p = String(last.position);
  const entries = await ctx.command('check log', (c) => c.xrangeBuffer(last.key, p, p));
  const entry = entries[0] as StreamEntry | undefined;
  return { meta, stored: entry === undefined ? undefined : entryBody(entry, last.key) };
}
