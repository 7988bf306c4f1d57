import fs from 'node:fs';
import type { Position } from '../../engine/position.js';

/**
 * The append lock file doubles as a small scratch area, written only under the lock:
 * `[f64 current segment base][f64 start][f64 end of the last write]`. Writers use it to notice another
 * process's roll without listing the directory, and to tell a torn tail (inside the last write's range,
 * left by a writer that died mid-write) from corruption (anywhere else), which is never truncated.
 */
export interface LockMeta {
  readonly base: Position;
  readonly writeStart: number;
  readonly writeEnd: number;
}

const SIZE = 24;

export function readMeta(fd: number): LockMeta | undefined {
  const buf = Buffer.alloc(SIZE);
  if (fs.readSync(fd, buf, 0, SIZE, 0) < SIZE) return undefined;
  const meta = { base: buf.readDoubleBE(0), writeStart: buf.readDoubleBE(8), writeEnd: buf.readDoubleBE(16) };
  return Number.isSafeInteger(meta.base) && meta.base >= 0 ? meta : undefined;
}

export function writeMeta(fd: number, meta: LockMeta): void {
  const buf = Buffer.allocUnsafe(SIZE);
  buf.writeDoubleBE(meta.base, 0);
  buf.writeDoubleBE(meta.writeStart, 8);
  buf.writeDoubleBE(meta.writeEnd, 16);
  fs.writeSync(fd, buf, 0, SIZE, 0);
}
