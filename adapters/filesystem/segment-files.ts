import fs from 'node:fs';
import { CorruptRecordError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';

/** The append lock file, which also records the last write (see `lock-meta.ts`). */
export const LOCK_FILE = 'append.lock';

const FLAGS = {
  r: fs.constants.O_RDONLY,
  'r+': fs.constants.O_RDWR,
  create: fs.constants.O_RDWR | fs.constants.O_CREAT,
} as const;

/**
 * Opens a file of the log without following a symbolic link: a link planted in the log's directory
 * could point a writer at any file the process may write, or a reader at another log.
 * @throws CorruptRecordError naming the file when it is a symbolic link.
 */
export function openFile(file: string, flags: keyof typeof FLAGS, mode?: number): number {
  try {
    return fs.openSync(file, FLAGS[flags] | fs.constants.O_NOFOLLOW, mode ?? 0o666);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOOP') throw e;
    throw new CorruptRecordError(
      file,
      0,
      'is a symbolic link; refusing to follow it (log files must be regular files)',
      undefined,
      { cause: e },
    );
  }
}

/** Opens a file of the log for writing, creating it when missing, with `mode` exactly when given. */
export function createFile(file: string, mode: number | undefined): number {
  const fd = openFile(file, 'create', mode);
  if (mode !== undefined) fs.fchmodSync(fd, mode);
  return fd;
}

/** Segment files are named by the position of their first record, zero-padded so names sort. */
export function segmentName(base: Position): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** Bases of the segments in `dir`, ascending. */
export function listSegments(dir: string): Position[] {
  const bases: Position[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = /^(\d{20})\.seg$/.exec(name);
    if (m?.[1] !== undefined) bases.push(Number(m[1]));
  }
  return bases.sort((a, b) => a - b);
}

/** The segment holding `position`: the one with the greatest base ≤ position. */
export function segmentFor(bases: readonly Position[], position: Position): Position | undefined {
  let found: Position | undefined;
  for (const b of bases) {
    if (b <= position) found = b;
    else break;
  }
  return found;
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}
