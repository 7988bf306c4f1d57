import fs from 'node:fs';
import path from 'node:path';
import { scanFrames } from '../../engine/codec.js';
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

export function indexName(base: Position): string {
  return `${String(base).padStart(20, '0')}.idx`;
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

/**
 * The sparse index of a segment: pairs (position of a batch's first record, its byte offset), 16 bytes
 * each, appended by writers every {@link INDEX_EVERY} bytes. It is a hint: readers check that the batch
 * found at an offset starts at the stated position and scan from the segment start otherwise.
 */
export const INDEX_EVERY = 64 * 1024;
const ENTRY = 16;

export interface IndexEntry {
  readonly position: Position;
  readonly offset: number;
}

export function readIndex(dir: string, base: Position): IndexEntry[] {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path.join(dir, indexName(base)));
  } catch {
    return [];
  }
  const entries: IndexEntry[] = [];
  for (let at = 0; at + ENTRY <= buf.length; at += ENTRY) {
    entries.push({ position: buf.readDoubleBE(at), offset: buf.readDoubleBE(at + 8) });
  }
  return entries;
}

/** The last index entry at or before `position`, or the segment start. */
export function seekIndex(entries: readonly IndexEntry[], base: Position, position: Position): IndexEntry {
  let best: IndexEntry = { position: base, offset: 0 };
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = entries[mid] as IndexEntry;
    if (e.position <= position) {
      best = e;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** Appends an entry at the next whole-entry offset, so a half-written entry (a crash) is overwritten. */
export function appendIndex(fd: number, entry: IndexEntry): void {
  const buf = Buffer.allocUnsafe(ENTRY);
  buf.writeDoubleBE(entry.position, 0);
  buf.writeDoubleBE(entry.offset, 8);
  const at = Math.floor(fs.fstatSync(fd).size / ENTRY) * ENTRY;
  fs.writeSync(fd, buf, 0, ENTRY, at);
}

/** True when the batch at the entry's offset starts with the entry's position (the hint is right). */
export function checkEntry(fd: number, file: string, entry: IndexEntry): boolean {
  try {
    const head = readAt(fd, entry.offset, 4);
    if (head.length < 4) return false;
    const frame = readAt(fd, entry.offset, 8 + (head.readUInt32BE(0) & 0x7fff_ffff));
    const first = scanFrames(frame, file, entry.offset).next();
    return (
      first.done !== true && first.value.kind === 'record' && first.value.record.position === entry.position
    );
  } catch {
    return false;
  }
}

/** Drops index entries that point at or past `size` (after a torn tail was cut off). */
export function trimIndex(dir: string, base: Position, size: number): void {
  const entries = readIndex(dir, base).filter((e) => e.offset < size);
  const buf = Buffer.allocUnsafe(entries.length * ENTRY);
  entries.forEach((e, i) => {
    buf.writeDoubleBE(e.position, i * ENTRY);
    buf.writeDoubleBE(e.offset, i * ENTRY + 8);
  });
  fs.writeFileSync(path.join(dir, indexName(base)), buf);
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
