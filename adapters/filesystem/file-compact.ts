import fs from 'node:fs';
import path from 'node:path';
import type { Position } from '../../engine/position.js';
import type { StoredRecord } from '../../engine/records.js';
import { segmentsToRemove, type CompactPlan, type SegmentSpan } from '../../engine/retention.js';
import type { RetentionPolicy } from '../../engine/storage.js';
import { readRetained, syncDir, writeRetained } from './retained.js';
import { SegmentCursor } from './segment-cursor.js';
import { listSegments, segmentName } from './segment-files.js';
import { indexName } from './segment-index.js';

/** A segment file with its index, as retention sees it. */
interface FileSegment extends SegmentSpan {
  readonly base: Position;
}

/** Bytes of a file; 0 when it is gone (removed by a compaction meanwhile, or never made). */
function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/**
 * The segments of a log with their bytes (segment and index), oldest first. A segment's span ends where
 * the next begins; the last one's end is unknown without reading it, so it is given as `head`.
 */
export function fileSegments(dir: string, head: Position): FileSegment[] {
  const bases = listSegments(dir);
  return bases.map((base, i) => ({
    base,
    from: base,
    to: bases[i + 1] ?? Math.max(head, base),
    bytes: sizeOf(path.join(dir, segmentName(base))) + sizeOf(path.join(dir, indexName(base))),
  }));
}

/** The record at `position` (which the log holds), read through the segment index. */
export function recordAt(dir: string, position: Position): StoredRecord | undefined {
  const cursor = new SegmentCursor(dir, position);
  try {
    return cursor.poll()[0];
  } finally {
    cursor.close();
  }
}

/**
 * What a compaction of the log in `dir` removes: the segments a crashed compaction left before the
 * retained first position, then those `policy` lets go before `keepFrom` (see `segmentsToRemove`).
 */
export async function planCompaction(
  dir: string,
  head: Position,
  keepFrom: Position,
  policy: RetentionPolicy | undefined,
): Promise<CompactPlan> {
  const first = readRetained(dir);
  const all = fileSegments(dir, head);
  const leftovers = all.filter((s, i) => i < all.length - 1 && s.to <= first);
  const live = all.slice(leftovers.length);
  const headTime = head > first ? (recordAt(dir, head - 1)?.time ?? 0) : 0;
  const n = await segmentsToRemove(live, keepFrom, policy, headTime, (i) =>
    Promise.resolve(recordAt(dir, (live[i] as FileSegment).to - 1)?.time ?? 0),
  );
  const removed = [...leftovers, ...live.slice(0, n)];
  return {
    segments: removed.length,
    bytes: removed.reduce((sum, s) => sum + s.bytes, 0),
    first: Math.max(first, live[n - 1]?.to ?? first),
  };
}

/**
 * Removes the segments (and indexes) lying entirely before `first`, after recording `first` durably, so
 * that a crash at any point leaves a log that reads the same from its retained first position. Run under
 * the append lock: two compactions never move `first` backwards.
 */
export function removeBefore(dir: string, first: Position, fileMode: number | undefined): void {
  const now = readRetained(dir);
  const target = Math.max(now, first);
  if (target > now) writeRetained(dir, target, fileMode);
  const bases = listSegments(dir);
  const gone = bases.filter((_, i) => (bases[i + 1] ?? Infinity) <= target);
  for (const base of gone) {
    // The segment first: a reader that finds it gone finds its index gone too, or about to be.
    fs.rmSync(path.join(dir, segmentName(base)), { force: true });
    fs.rmSync(path.join(dir, indexName(base)), { force: true });
  }
  if (gone.length > 0) syncDir(dir);
}
