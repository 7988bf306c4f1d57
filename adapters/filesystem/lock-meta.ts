import fs from 'node:fs';
import type { Position } from '../../engine/position.js';

/**
 * The append lock file doubles as a small scratch area, written only under the lock, before each write:
 * the current segment, the byte range of the write, and the head, log time and last index offset once it
 * is done. When the segment's size equals `writeEnd`, the next writer takes the head from here without
 * decoding what other processes wrote; otherwise (a crash mid-write, a stale file after a power cut) it
 * scans the tail, and a torn tail is cut only inside the last write's range: an incomplete batch
 * anywhere else is corruption, reported and never truncated.
 */
export interface LockMeta {
  readonly base: Position;
  readonly writeStart: number;
  readonly writeEnd: number;
  /** Head after the write; -1 when unknown. */
  readonly head: Position;
  readonly lastTime: number;
  /** Offset of the segment's last index entry; -1 when none. */
  readonly indexed: number;
}

const FIELDS = ['base', 'writeStart', 'writeEnd', 'head', 'lastTime', 'indexed'] as const;
const SIZE = FIELDS.length * 8;

export function readMeta(fd: number): LockMeta | undefined {
  const buf = Buffer.alloc(SIZE);
  if (fs.readSync(fd, buf, 0, SIZE, 0) < SIZE) return undefined;
  const [base, writeStart, writeEnd, head, lastTime, indexed] = FIELDS.map((_, i) =>
    buf.readDoubleBE(i * 8),
  ) as [number, number, number, number, number, number];
  if (!Number.isSafeInteger(base) || base < 0) return undefined;
  return { base, writeStart, writeEnd, head, lastTime, indexed };
}

export function writeMeta(fd: number, meta: LockMeta): void {
  const buf = Buffer.allocUnsafe(SIZE);
  FIELDS.forEach((field, i) => buf.writeDoubleBE(meta[field], i * 8));
  fs.writeSync(fd, buf, 0, SIZE, 0);
}

/**
 * How far the log is known to be on disk: written after an fdatasync returned (outside the append lock;
 * a mark that lags is harmless), at a place of its own in the lock file. Bytes below it were synced, so
 * an incomplete batch or a shorter file there is damage (bytes cut after they were written), never a
 * write a crash cut short: it is reported, and nothing is truncated or appended over it.
 */
export interface DurableMark {
  readonly base: Position;
  /** Every byte of segment `base` before this offset was synced. */
  readonly end: number;
}

const DURABLE_AT = 64;

export function readDurable(fd: number): DurableMark | undefined {
  const buf = Buffer.alloc(16);
  if (fs.readSync(fd, buf, 0, 16, DURABLE_AT) < 16) return undefined;
  const base = buf.readDoubleBE(0);
  const end = buf.readDoubleBE(8);
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(end) || base < 0 || end < 0) return undefined;
  return { base, end };
}

/**
 * Raises the mark to `mark` (never lowers it within a segment; a later segment replaces it), or sets it
 * as given with `force` (a repair that cut the segment).
 */
export function writeDurable(fd: number, mark: DurableMark, force = false): void {
  const now = readDurable(fd);
  const ahead =
    now !== undefined && (now.base > mark.base || (now.base === mark.base && now.end >= mark.end));
  if (ahead && !force) return;
  const buf = Buffer.allocUnsafe(16);
  buf.writeDoubleBE(mark.base, 0);
  buf.writeDoubleBE(mark.end, 8);
  fs.writeSync(fd, buf, 0, 16, DURABLE_AT);
}

/** Bytes of segment `base` known complete: past the last write's start and the durable mark. */
export function settledBytes(
  meta: LockMeta | undefined,
  durable: DurableMark | undefined,
  base: Position,
): number {
  return Math.max(meta?.base === base ? meta.writeStart : 0, durable?.base === base ? durable.end : 0);
}
