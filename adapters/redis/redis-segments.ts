import type { Redis } from 'ioredis';
import { FRAME_HEADER, scanFrames } from '../../engine/codec.js';
import {
  ConflictError,
  CorruptRecordError,
  InvalidArgumentError,
  NotFoundError,
  TruncatedError,
} from '../../engine/errors.js';
import { checkPosition, type Position } from '../../engine/position.js';
import {
  META_FIELDS,
  parseEntryId,
  parseMeta,
  segmentBase,
  type LogMeta,
  type RedisLayout,
} from './redis-layout.js';
import { entryBody, frameBody, type StreamEntry } from './redis-records.js';
import { DROP, integers, REPLICATE, runScript } from './redis-scripts.js';

/** What the segment operations need from their store. */
export interface RedisLog {
  /** The store's URL, for messages. */
  readonly url: string;
  readonly layout: RedisLayout;
  readonly segmentRecords: number;
  /** Runs commands on the store's connection: `closed` after close, `unavailable` when Redis is away. */
  command<T>(what: string, run: (client: Redis) => Promise<T>): Promise<T>;
}

/** One segment stream of a Redis log. */
export interface SegmentInfo {
  /** First position the segment can hold (a multiple of the segment size); its name. */
  readonly base: Position;
  /** First position it holds (above `base` only when older records were never imported). */
  readonly from: Position;
  /** Position after its last record. */
  readonly to: Position;
  /** Its stream key. */
  readonly key: string;
}

/** Records per XRANGE. */
const READ_CHUNK = 1000;
/** Records and bytes per replicate / import script call: big batches must not stall the server. */
const COPY_RECORDS = 1000;
const COPY_BYTES = 4 * 1024 * 1024;

/** Reads the meta hash. */
export async function readMeta(log: RedisLog): Promise<LogMeta> {
  return parseMeta(await log.command('read meta', (c) => c.hmget(log.layout.meta, ...META_FIELDS)));
}

/** One stored entry met while walking a range. */
export interface RangeEntry {
  readonly key: string;
  readonly entry: StreamEntry;
  readonly position: Position;
  /** The next position belongs to the same batch. */
  readonly more: boolean;
}

/**
 * Walks the entries of `[from, to)` across segment streams, XRANGE by XRANGE, until `stop()` says so.
 * @throws TruncatedError when a position is missing because retention removed its segment meanwhile.
 */
export async function* rangeEntries(
  log: RedisLog,
  from: Position,
  to: Position,
  stop: () => boolean,
): AsyncGenerator<RangeEntry> {
  for await (const chunk of rangeChunks(log, from, to, stop)) yield* chunk;
}

/** {@link rangeEntries} one XRANGE reply at a time. */
export async function* rangeChunks(
  log: RedisLog,
  from: Position,
  to: Position,
  stop: () => boolean,
): AsyncGenerator<RangeEntry[]> {
  let p = from;
  while (p < to && !stop()) {
    const base = segmentBase(p, log.segmentRecords);
    const key = log.layout.segmentKey(base);
    const last = Math.min(to, base + log.segmentRecords) - 1;
    const start = p;
    const entries = await log.command('read', (c) =>
      c.xrangeBuffer(key, String(start), String(last), 'COUNT', READ_CHUNK),
    );
    if (entries.length === 0) {
      const { first } = await readMeta(log);
      if (p < first) throw new TruncatedError(log.url, p, first);
      throw new CorruptRecordError(key, 0, `the entry of position ${p} is missing`);
    }
    const chunk: RangeEntry[] = [];
    for (const entry of entries) {
      const id = parseEntryId(entry[0].toString());
      if (id?.position !== p) {
        throw new CorruptRecordError(
          key,
          0,
          `expected the entry of position ${p}, found ${entry[0].toString()}`,
        );
      }
      chunk.push({ key, entry, position: p, more: id.more });
      p++;
    }
    yield chunk;
  }
}

/** The segments the log holds now, oldest first. */
export async function listSegments(log: RedisLog): Promise<SegmentInfo[]> {
  const meta = await readMeta(log);
  const seg = log.segmentRecords;
  const out: SegmentInfo[] = [];
  for (let base = segmentBase(meta.first, seg); base < meta.head; base += seg) {
    const from = Math.max(base, meta.first);
    out.push({ base, from, to: Math.min(base + seg, meta.head), key: log.layout.segmentKey(base) });
  }
  return out;
}

/**
 * The frames of one segment: byte for byte what `encodeFrame(record, more)` gives for its records, with
 * the batch boundaries of their appends, except that a batch running on into the next segment is cut at
 * the end of this one (the last frame never says "more"), so that the export stands alone.
 */
export async function exportSegment(log: RedisLog, base: Position): Promise<Buffer> {
  checkPosition('base', base);
  if (base % log.segmentRecords !== 0) {
    throw new InvalidArgumentError(
      `segment base must be a multiple of the segment size ${log.segmentRecords}, got: ${base}`,
    );
  }
  const meta = await readMeta(log);
  const from = Math.max(base, meta.first);
  const to = Math.min(base + log.segmentRecords, meta.head);
  if (from >= to) throw new NotFoundError('segment', String(base));
  const frames: Buffer[] = [];
  for await (const { key, entry, position, more } of rangeEntries(log, from, to, () => false)) {
    frames.push(frameBody(entryBody(entry, key), more && position < to - 1));
  }
  return Buffer.concat(frames);
}

/** Stored bytes of one record to copy, with its log time. */
export interface RecordBytes {
  readonly body: Buffer;
  readonly time: number;
  /** The next record belongs to the same batch. */
  readonly more: boolean;
}

/**
 * Stores records stamped elsewhere at `from`, `from + 1`, … in script calls of bounded size, cut at
 * batch boundaries when possible; each call is atomic and checks that it continues the log. With
 * `fresh`, an empty log may start at `from`.
 * @throws ConflictError when the records do not continue the log.
 */
export async function copyRecords(
  log: RedisLog,
  from: Position,
  items: readonly RecordBytes[],
  fresh: boolean,
): Promise<void> {
  let at = 0;
  while (at < items.length) {
    const end = chunkEnd(items, at);
    const chunk = items.slice(at, end);
    const position = from + at;
    const args = [
      String(position),
      String(Math.max(...chunk.map((i) => i.time))),
      String(log.segmentRecords),
      fresh && at === 0 ? '1' : '',
      chunk.map((i) => (i.more ? '2' : '1')).join(''),
    ];
    const reply = await log.command('replicate', (c) =>
      runScript(
        c,
        REPLICATE,
        [log.layout.meta, log.layout.segmentPrefix],
        [...args, ...chunk.map((i) => i.body)],
      ),
    );
    const [status, head = 0] = integers(reply);
    if (status === 1) throw new ConflictError(head, position);
    at = end;
  }
}

/** Where the script call that starts at `at` ends: within the limits, at a batch end when one is there. */
function chunkEnd(items: readonly RecordBytes[], at: number): number {
  let end = at;
  let bytes = 0;
  while (end < items.length && end - at < COPY_RECORDS && (bytes < COPY_BYTES || end === at)) {
    bytes += (items[end++] as RecordBytes).body.length;
  }
  if (end === items.length) return end;
  let cut = end;
  while (cut > at && items[cut - 1]?.more === true) cut--;
  return cut > at ? cut : end;
}

/**
 * Appends the framed records of `frames` (a filesystem segment, or {@link exportSegment}'s output),
 * keeping their bytes, position and time. They must continue the log; an empty log may start at their
 * first position (a log whose older segments were dropped).
 * @returns the positions imported, `[from, to)`.
 * @throws CorruptRecordError when a frame is bad or incomplete.
 * @throws InvalidArgumentError when the frames do not hold contiguous positions.
 * @throws ConflictError when they do not continue the log.
 */
export async function importFrames(log: RedisLog, frames: Buffer): Promise<{ from: Position; to: Position }> {
  if (!Buffer.isBuffer(frames)) {
    throw new InvalidArgumentError(`importSegment needs a Buffer of frames, got: ${typeof frames}`);
  }
  const items: RecordBytes[] = [];
  let from: Position | undefined;
  let last: { offset: number; more: boolean } | undefined;
  for (const scan of scanFrames(frames, 'import')) {
    if (scan.kind === 'torn') {
      throw new CorruptRecordError('import', scan.offset, 'incomplete frame at the end of the buffer');
    }
    const { position, time } = scan.record;
    from ??= position;
    if (position !== from + items.length) {
      throw new InvalidArgumentError(
        `frames to import must hold contiguous positions: expected ${from + items.length}, got: ${position}`,
      );
    }
    items.push({ body: frames.subarray(scan.offset + FRAME_HEADER, scan.end), time, more: scan.more });
    last = scan;
  }
  if (last?.more === true) {
    // As in a segment file: a batch without its last frame was never committed.
    throw new CorruptRecordError('import', last.offset, 'the last batch of the buffer is incomplete');
  }
  if (from === undefined) {
    const { head } = await readMeta(log);
    return { from: head, to: head };
  }
  await copyRecords(log, from, items, true);
  return { from, to: from + items.length };
}

/**
 * Deletes (UNLINK) every segment that is full and whose records all lie before `position`, and moves
 * the log's first kept position past them, atomically. The head and later appends are not affected.
 */
export async function dropSegments(
  log: RedisLog,
  position: Position,
): Promise<{ dropped: number; first: Position }> {
  checkPosition('position', position);
  const reply = await log.command('drop segments', (c) =>
    runScript(c, DROP, [log.layout.meta, log.layout.segmentPrefix], [String(position)]),
  );
  const [dropped = 0, first = 0] = integers(reply);
  return { dropped, first };
}
