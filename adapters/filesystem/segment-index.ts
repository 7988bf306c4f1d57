import fs from 'node:fs';
import path from 'node:path';
import { scanBatches, scanFrames } from '../../engine/codec.js';
import type { Position } from '../../engine/position.js';
import { openFile, readAt, segmentName } from './segment-files.js';

/**
 * The sparse index of a segment: pairs (position of a batch's first record, its byte offset), 16 bytes
 * each, appended by writers every {@link INDEX_EVERY} bytes (the first at offset 0). It is a hint, used
 * only after checking it: entries must be whole numbers, ascending, inside the segment file, and the
 * entry used must point at a frame boundary whose CRC checks and whose record has the stated position.
 * A bad index is ignored (readers scan from the segment start) and rebuilt by the next writer, with a
 * warning naming the file either way.
 */
export const INDEX_EVERY = 64 * 1024;
const ENTRY = 16;

export interface IndexEntry {
  readonly position: Position;
  readonly offset: number;
}

/** Where an index stands: its entries, or what is wrong with it. */
export type IndexState =
  | { readonly ok: true; readonly entries: readonly IndexEntry[] }
  | { readonly ok: false; readonly problem: string };

export function indexName(base: Position): string {
  return `${String(base).padStart(20, '0')}.idx`;
}

/**
 * The entries of a segment's index, checked for shape against the segment's `size` (no entry read
 * from the segment here; see {@link entryAt}). A missing index is an empty one; a half-written last
 * entry (a crash while appending it) is ignored.
 */
export function loadIndex(dir: string, base: Position, size: number): IndexState {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path.join(dir, indexName(base)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, entries: [] };
    return { ok: false, problem: `unreadable: ${(e as Error).message}` };
  }
  const entries: IndexEntry[] = [];
  let prev: IndexEntry | undefined;
  for (let at = 0; at + ENTRY <= buf.length; at += ENTRY) {
    const e = { position: buf.readDoubleBE(at), offset: buf.readDoubleBE(at + 8) };
    const problem = entryProblem(e, prev, base, size);
    if (problem !== undefined) return { ok: false, problem: `entry ${at / ENTRY} ${problem}` };
    entries.push(e);
    prev = e;
  }
  return { ok: true, entries };
}

function entryProblem(
  e: IndexEntry,
  prev: IndexEntry | undefined,
  base: Position,
  size: number,
): string | undefined {
  const shown = `(position ${e.position}, offset ${e.offset})`;
  if (!Number.isSafeInteger(e.position) || !Number.isSafeInteger(e.offset)) {
    return `${shown} is not a pair of whole numbers`;
  }
  if (e.position < base || e.offset < 0) return `${shown} lies before the segment's start (position ${base})`;
  if ((e.offset === 0) !== (e.position === base)) {
    return `${shown} does not match the segment's start (position ${base} at offset 0)`;
  }
  if (e.offset >= size) return `${shown} points past the end of the segment (${size} bytes)`;
  if (prev !== undefined && (e.position <= prev.position || e.offset <= prev.offset)) {
    return `${shown} does not follow the entry before it (position ${prev.position}, offset ${prev.offset})`;
  }
  return undefined;
}

/** The last entry at or before `position`, or the segment start (binary search). */
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

/** True when a record frame with the entry's position starts at the entry's offset and its CRC checks. */
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

/** Warns once per index file and process (a reader meets the same bad index on every poll). */
const warned = new Set<string>();

/** Tells about a bad index; the default goes to `process.emitWarning` (stderr, once per file). */
export type IndexWarning = (message: string) => void;

/** `code`: `EVENTY_BAD_INDEX`, or `EVENTY_TORN_TAIL` when a writer cuts a crashed write's bytes. */
export function warnOnce(message: string, code = 'EVENTY_BAD_INDEX'): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message, { code });
}

/**
 * Where to start reading segment `base` (open as `fd`) for `position`: the checked index entry at or
 * before it, or the segment start when the index is bad (told through `warn`).
 */
export function entryAt(
  dir: string,
  base: Position,
  fd: number,
  position: Position,
  warn: IndexWarning = (m) => warnOnce(m),
): IndexEntry {
  const file = path.join(dir, indexName(base));
  const state = loadIndex(dir, base, fs.fstatSync(fd).size);
  if (!state.ok) {
    warn(`ignoring the index ${file}: ${state.problem}; reading the segment from its start`);
    return { position: base, offset: 0 };
  }
  const entry = seekIndex(state.entries, base, position);
  if (entry.offset === 0 || checkEntry(fd, file, entry)) return entry;
  warn(
    `ignoring the index ${file}: its entry (position ${entry.position}, offset ${entry.offset}) ` +
      'does not point at that record; reading the segment from its start',
  );
  return { position: base, offset: 0 };
}

/** Appends an entry at the next whole-entry offset, so a half-written entry (a crash) is overwritten. */
export function appendIndex(fd: number, entry: IndexEntry): void {
  const buf = Buffer.allocUnsafe(ENTRY);
  buf.writeDoubleBE(entry.position, 0);
  buf.writeDoubleBE(entry.offset, 8);
  const at = Math.floor(fs.fstatSync(fd).size / ENTRY) * ENTRY;
  fs.writeSync(fd, buf, 0, ENTRY, at);
}

/** Replaces the index file's content with `entries` (in place: the writer keeps its descriptor). */
export function writeIndex(fd: number, entries: readonly IndexEntry[]): void {
  const buf = Buffer.allocUnsafe(entries.length * ENTRY);
  entries.forEach((e, i) => {
    buf.writeDoubleBE(e.position, i * ENTRY);
    buf.writeDoubleBE(e.offset, i * ENTRY + 8);
  });
  fs.ftruncateSync(fd, 0);
  if (buf.length > 0) fs.writeSync(fd, buf, 0, buf.length, 0);
}

/** Drops index entries that point at or past `size` (after a torn tail was cut off). */
export function trimIndex(dir: string, base: Position, size: number): void {
  const file = path.join(dir, indexName(base));
  const state = loadIndex(dir, base, Infinity);
  const entries = state.ok ? state.entries.filter((e) => e.offset < size) : [];
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW);
  try {
    writeIndex(fd, entries);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The index a segment should have, from its bytes up to `size`: an entry for the first batch and for
 * the first batch at least {@link INDEX_EVERY} bytes after the previous entry, as writers make it.
 * @throws CorruptRecordError when the segment itself is damaged before `size`.
 */
export function buildIndex(fd: number, file: string, size: number): IndexEntry[] {
  const entries: IndexEntry[] = [];
  let last = -Infinity;
  let at = 0;
  const chunk = 4 * 1024 * 1024;
  while (at < size) {
    const buf = readAt(fd, at, Math.min(chunk * 2, size - at));
    let progressed = false;
    for (const item of scanBatches(buf, file, at)) {
      if (item.kind === 'torn') break;
      if (item.offset === 0 || item.offset - last >= INDEX_EVERY) {
        entries.push({ position: (item.records[0] as { position: Position }).position, offset: item.offset });
        last = item.offset;
      }
      at = item.end;
      progressed = true;
    }
    if (!progressed) break; // a torn tail (or a batch larger than the chunk, left to the tail scan)
  }
  return entries;
}

/** The checked last index entry of segment `base` (its start when the index is bad or empty). */
export function lastEntry(dir: string, base: Position, warn: IndexWarning = (m) => warnOnce(m)): IndexEntry {
  const fd = openFile(path.join(dir, segmentName(base)), 'r');
  try {
    return entryAt(dir, base, fd, Infinity, warn);
  } finally {
    fs.closeSync(fd);
  }
}
