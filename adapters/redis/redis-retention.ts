import { NotFoundError, TruncatedError } from '../../engine/errors.js';
import { checkPosition, type Position } from '../../engine/position.js';
import { segmentsToRemove, type CompactPlan } from '../../engine/retention.js';
import { checkSnapshotData, checkSnapshotRef, snapshotRef } from '../../engine/snapshot-ref.js';
import type { HistorySize, RetentionPolicy, SnapshotInfo } from '../../engine/storage.js';
import { decodeEntry } from './redis-records.js';
import { listSegments, readMeta, type RedisLog, type SegmentInfo } from './redis-segments.js';

/** Bytes Redis uses for each segment stream (MEMORY USAGE), in one round trip. */
async function segmentBytes(log: RedisLog, segments: readonly SegmentInfo[]): Promise<number[]> {
  if (segments.length === 0) return [];
  const replies = await log.command('segment sizes', (c) => {
    const pipe = c.pipeline();
    for (const s of segments) pipe.memory('USAGE', s.key);
    return pipe.exec();
  });
  return (replies ?? []).map(([, v]) => (typeof v === 'number' ? v : 0));
}

/** Log time of a segment's newest record. */
async function newestTime(log: RedisLog, segment: SegmentInfo): Promise<number> {
  const entries = await log.command('segment time', (c) =>
    c.xrevrangeBuffer(segment.key, '+', '-', 'COUNT', 1),
  );
  const entry = entries[0];
  return entry === undefined ? 0 : decodeEntry(entry, segment.key, segment.to - 1).time;
}

/** What a compaction removes (see `segmentsToRemove`); the store drops it with `dropSegments`. */
export async function planRedisCompaction(
  log: RedisLog,
  keepFrom: Position,
  policy: RetentionPolicy | undefined,
): Promise<CompactPlan> {
  const meta = await readMeta(log);
  const segments = await listSegments(log);
  const bytes = policy === undefined ? segments.map(() => 0) : await segmentBytes(log, segments);
  const spans = segments.map((s, i) => ({ from: s.from, to: s.to, bytes: bytes[i] ?? 0 }));
  const n = await segmentsToRemove(spans, keepFrom, policy, meta.time, (i) =>
    newestTime(log, segments[i] as SegmentInfo),
  );
  const removed = spans.slice(0, n);
  return {
    segments: n,
    bytes: removed.reduce((sum, s) => sum + s.bytes, 0),
    first: removed.at(-1)?.to ?? meta.first,
  };
}

export async function historyRedis(log: RedisLog): Promise<HistorySize> {
  const meta = await readMeta(log);
  const segments = await listSegments(log);
  const bytes = await segmentBytes(log, segments);
  const snaps = await listRedisSnapshots(log);
  return {
    first: meta.first,
    head: meta.head,
    bytes: bytes.reduce((sum, b) => sum + b, 0),
    segments: segments.length,
    snapshotBytes: snaps.reduce((sum, s) => sum + s.bytes, 0),
  };
}

/** @throws TruncatedError when `position` lies before the log's first kept position. */
export function checkRetained(url: string, position: Position, first: Position): void {
  if (position < first) throw new TruncatedError(url, position, first);
}

export async function putRedisSnapshot(
  log: RedisLog,
  position: Position,
  data: Uint8Array,
): Promise<SnapshotInfo> {
  checkPosition('position', position);
  checkSnapshotData(data);
  const ref = snapshotRef(position);
  const value = Buffer.from(data.buffer, data.byteOffset, data.length);
  await log.command('put snapshot', (c) =>
    c
      .multi()
      .set(log.layout.snapshotPrefix + ref, value)
      .hset(log.layout.snapshots, ref, String(data.length))
      .exec(),
  );
  return { ref, position, bytes: data.length };
}

export async function listRedisSnapshots(log: RedisLog): Promise<SnapshotInfo[]> {
  const all = await log.command('list snapshots', (c) => c.hgetall(log.layout.snapshots));
  return Object.entries(all)
    .map(([ref, bytes]) => ({ ref, position: checkSnapshotRef(ref), bytes: Number(bytes) }))
    .sort((a, b) => b.position - a.position);
}

export async function getRedisSnapshot(log: RedisLog, ref: string): Promise<Uint8Array> {
  checkSnapshotRef(ref);
  const data = await log.command('get snapshot', (c) => c.getBuffer(log.layout.snapshotPrefix + ref));
  if (data === null) throw new NotFoundError('snapshot', ref);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export async function deleteRedisSnapshot(log: RedisLog, ref: string): Promise<boolean> {
  checkSnapshotRef(ref);
  const reply = await log.command('delete snapshot', (c) =>
    c
      .multi()
      .hdel(log.layout.snapshots, ref)
      .unlink(log.layout.snapshotPrefix + ref)
      .exec(),
  );
  return reply?.[0]?.[1] === 1;
}
