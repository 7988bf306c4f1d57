import fs from 'node:fs';
import path from 'node:path';
import { FRAME_HEADER, MAX_RECORD_BYTES, scanBatches, scanFrames } from '../../engine/codec.js';
import { CorruptRecordError, TruncatedError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { StoredRecord } from '../../engine/records.js';
import { readDurable, readMeta, settledBytes } from './lock-meta.js';
import { readRetained } from './retained.js';
import { listSegments, LOCK_FILE, openFile, readAt, segmentFor, segmentName } from './segment-files.js';
import { entryAt } from './segment-index.js';

const CHUNK = 1024 * 1024;

/**
 * Reads a filesystem log forward from a position, one poll at a time, across segment rolls. It never
 * yields part of a batch, never skips a position and never yields one twice; an incomplete batch at the
 * end of the last segment (a write in progress, or a torn tail) is simply not there yet.
 */
export class SegmentCursor {
  #fd: number | undefined;
  #base: Position = 0;
  #offset = 0;
  /** Position the index promised at #offset, checked on the first batch read there. */
  #promised: Position | undefined;
  #chunk = CHUNK;

  constructor(
    private readonly dir: string,
    /** The next position to deliver. */
    public next: Position,
  ) {}

  /** Complete batches written since the last poll (from `next` on); empty when there is nothing new. */
  poll(): StoredRecord[] {
    if (this.#fd === undefined && !this.#openAt(this.next)) return [];
    for (;;) {
      const records = this.#readNew();
      if (records.length > 0) return records;
      const later = this.#laterSegment();
      if (later === undefined) return [];
      // The writer may have finished a batch here just before it rolled: read once more, then move on.
      const last = this.#readNew();
      if (last.length > 0) return last;
      this.#checkSealed(later);
      this.#open(later);
    }
  }

  /**
   * Where the segment being read no longer is the file at its name, or is shorter than what was read of
   * it (the log was removed, replaced or cut under the reader): what was expected and what was found.
   */
  moved(): { expected: string; found: string } | undefined {
    if (this.#fd === undefined) return undefined;
    const held = fs.fstatSync(this.#fd);
    let ino: number | undefined;
    try {
      ino = fs.statSync(this.#file).ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const expected = `segment ${this.#file} (inode ${held.ino}, at least ${this.#offset} bytes)`;
    // Removed by retention, not lost: what was read of it is right, and the held file reads on.
    if (ino === undefined && readRetained(this.dir) > this.#base) return undefined;
    if (ino === undefined) return { expected, found: 'no such file' };
    if (ino !== held.ino) return { expected, found: `another file (inode ${ino})` };
    if (held.size < this.#offset) return { expected, found: `${held.size} bytes` };
    return undefined;
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    if (this.#lockFd !== undefined) fs.closeSync(this.#lockFd);
    this.#fd = this.#lockFd = undefined;
  }

  #lockFd: number | undefined;

  /**
   * The segment after this one, if any. The lock file names the current segment, so an idle poll costs
   * one small read instead of a directory listing; the listing is the fallback.
   */
  #laterSegment(): Position | undefined {
    try {
      this.#lockFd ??= openFile(path.join(this.dir, LOCK_FILE), 'r');
      const meta = readMeta(this.#lockFd);
      if (meta !== undefined && meta.base <= this.#base) return undefined;
    } catch {
      // no lock file (yet): list the directory
    }
    return listSegments(this.dir).find((b) => b > this.#base);
  }

  get #file(): string {
    return path.join(this.dir, segmentName(this.#base));
  }

  #openAt(position: Position): boolean {
    this.#checkRetained(position);
    const bases = listSegments(this.dir);
    const base = segmentFor(bases, position) ?? bases[0];
    if (base === undefined) return false;
    this.#open(base);
    const entry = entryAt(this.dir, base, this.#fd as number, position);
    this.#offset = entry.offset;
    this.#promised = entry.offset === 0 ? undefined : entry.position;
    if (position < base) this.next = base; // history before the first segment was dropped
    return true;
  }

  #open(base: Position): void {
    this.close();
    this.#base = base;
    this.#offset = 0;
    this.#promised = undefined;
    try {
      this.#fd = openFile(this.#file, 'r');
    } catch (e) {
      // Listed, then removed by a compaction before it could be opened.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.#checkRetained(this.next);
      throw e;
    }
  }

  /** @throws TruncatedError when retention removed `position`. */
  #checkRetained(position: Position): void {
    const first = readRetained(this.dir);
    if (position < first) throw new TruncatedError(this.dir, position, first);
  }

  #readNew(): StoredRecord[] {
    const out: StoredRecord[] = [];
    try {
      return this.#readInto(out);
    } catch (e) {
      // Deliver the batches before a corrupt one; the next poll stops at it again and raises.
      if (out.length > 0) return out;
      throw e;
    }
  }

  #readInto(out: StoredRecord[]): StoredRecord[] {
    const fd = this.#fd as number;
    const size = fs.fstatSync(fd).size;
    while (this.#offset < size && out.length === 0) {
      const buf = readAt(fd, this.#offset, Math.min(size - this.#offset, this.#chunk));
      // Decode only the whole batches of the chunk: a batch cut by its end is read again (and decoded
      // again) from its start by the next read. Anything else, scanBatches on the whole chunk handles.
      const whole = wholeBatches(buf);
      let progressed = false;
      for (const item of scanBatches(whole > 0 ? buf.subarray(0, whole) : buf, this.#file, this.#offset)) {
        if (item.kind === 'torn') break;
        if (!this.#accept(item.records, out)) return this.#readInto(out);
        this.#offset = item.end;
        progressed = true;
      }
      if (progressed) this.#chunk = CHUNK;
      else if (buf.length === this.#chunk)
        this.#chunk *= 2; // a batch larger than the chunk
      else {
        this.#checkIncomplete(); // an incomplete batch at the end of the file
        break;
      }
    }
    return out;
  }

  /** Adds a batch's records from `next` on; false when the index hint was wrong and the scan restarts. */
  #accept(records: StoredRecord[], out: StoredRecord[]): boolean {
    const first = records[0] as StoredRecord;
    if (this.#promised !== undefined) {
      const ok = first.position === this.#promised;
      this.#promised = undefined;
      if (!ok) {
        this.#offset = 0;
        return false;
      }
    }
    for (const r of records) {
      if (r.position < this.next) continue;
      if (r.position !== this.next) {
        throw new CorruptRecordError(
          this.#file,
          this.#offset,
          `expected position ${this.next}, found ${r.position}`,
          this.next - 1,
        );
      }
      out.push(r);
      this.next++;
    }
    return true;
  }

  /**
   * An incomplete batch at the end of the last segment is a write in progress or a torn tail, unless it
   * starts before the last write recorded in the lock file: every write before that one has finished, so
   * its bytes are final and an incomplete frame there is corruption (a damaged length word), which must
   * be reported, not taken for the end of the log.
   */
  #checkIncomplete(): void {
    // The lock file the idle polls keep open (see #laterSegment): no open and close per check.
    this.#lockFd ??= openFile(path.join(this.dir, LOCK_FILE), 'r');
    const settled = settledBytes(readMeta(this.#lockFd), readDurable(this.#lockFd), this.#base);
    if (this.#offset >= settled) return;
    // Read again, after the lock file: the bytes up to there are final by now.
    const buf = readAt(this.#fd as number, this.#offset, settled - this.#offset);
    for (const item of scanFrames(buf, this.#file, this.#offset)) {
      if (item.kind === 'torn') {
        throw new CorruptRecordError(
          this.#file,
          item.offset,
          `incomplete frame before byte ${settled}, which the last write or an fsync had settled`,
          this.next - 1,
        );
      }
    }
  }

  /** A sealed segment must end on a complete batch, and the next one must start where it ends. */
  #checkSealed(later: Position): void {
    if (this.#offset < fs.fstatSync(this.#fd as number).size) {
      throw new CorruptRecordError(
        this.#file,
        this.#offset,
        'sealed segment ends with an incomplete batch',
        this.next - 1,
      );
    }
    if (later > this.next) {
      this.#checkRetained(this.next); // the segments between were removed by retention
      throw new CorruptRecordError(
        path.join(this.dir, segmentName(later)),
        0,
        `segment starts at position ${later} but the previous one ends before position ${this.next}`,
        this.next - 1,
      );
    }
  }
}

// The length word of a frame (engine/codec.ts): its top bit says that more frames of the batch follow.
const MORE = 0x8000_0000;
const LENGTH_MASK = 0x7fff_ffff;

/**
 * Bytes at the start of `buf` that hold complete batches, found from the frames' length words alone
 * (no CRC, no decoding); 0 when the first batch is incomplete or a length word is not a frame's.
 */
function wholeBatches(buf: Buffer): number {
  let at = 0;
  let end = 0;
  while (at + FRAME_HEADER <= buf.length) {
    const word = buf.readUInt32BE(at);
    const length = word & LENGTH_MASK;
    if (length === 0 || length > MAX_RECORD_BYTES || at + FRAME_HEADER + length > buf.length) break;
    at += FRAME_HEADER + length;
    if (word < MORE) end = at;
  }
  return end;
}
