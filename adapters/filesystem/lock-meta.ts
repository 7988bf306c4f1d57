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
