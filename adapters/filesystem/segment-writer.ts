import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import fsExt from 'fs-ext';
import lockfile from 'proper-lockfile';
import { checkFrames, encodeRecord, finishRecord, frameBody, scanBatches } from '../../engine/codec.js';
import { nextTime } from '../../engine/append-batch.js';
import { ConflictError, CorruptRecordError, LockUnavailableError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import { stamp, type StoredRecord, type RecordDraft } from '../../engine/records.js';
import { readDurable, readMeta, settledBytes, writeDurable, writeMeta } from './lock-meta.js';
import { createFile, listSegments, LOCK_FILE, openFile, readAt, segmentName } from './segment-files.js';
import {
  appendIndex,
  buildIndex,
  INDEX_EVERY,
  indexName,
  lastEntry,
  loadIndex,
  checkEntry,
  trimIndex,
  warnOnce,
  writeIndex,
  type IndexEntry,
} from './segment-index.js';

const fdatasync = promisify(fs.fdatasync);
/** Bytes read at a time when checking a segment before appending to it. */
const VERIFY_CHUNK = 8 * 1024 * 1024;
export { LOCK_FILE };

/** One append call waiting for its turn: a batch, atomic on its own. */
export interface PendingBatch {
  readonly drafts: readonly RecordDraft[];
  /** Each draft's CBOR up to its position and time, encoded before taking the lock (see `encodeDraftPrefix`). */
  readonly prefixes?: readonly (Buffer | undefined)[];
  readonly expectedHead: Position | undefined;
}

interface StampedBatch {
  readonly records: readonly StoredRecord[];
  readonly prefixes?: readonly (Buffer | undefined)[] | undefined;
}

export type BatchOutcome = { ok: true; records: StoredRecord[]; time: number } | { ok: false; error: Error };

/**
 * The appending side of a filesystem log in one process. Every method that reads or changes the log's
 * tail runs under the cross-process `flock` on the lock file ({@link lock} / {@link unlock}); between two
 * turns other processes may have appended or rolled, so each turn starts with {@link refresh}.
 */
export class SegmentWriter {
  #segFd: number | undefined;
  #idxFd: number | undefined;
  #base: Position = -1;
  #size = 0;
  #head: Position = 0;
  #lastTime = 0;
  #lastIndexed = -Infinity;
  #dirty = new Set<number>();
  #retired: number[] = [];
  /** Syncs in flight: a retired file is closed only when none is (one may still be syncing it). */
  #syncing = 0;

  private constructor(
    readonly dir: string,
    private readonly lockFd: number,
    private readonly segmentBytes: number,
    private readonly fileMode: number | undefined,
  ) {}

  /**
   * Opens the appending side of a log that exists (see `ensureLog`): nothing is created here, so a
   * writer never brings a removed log directory back to life.
   * @param fileMode mode of the segment and index files it creates; undefined: the umask decides.
   */
  static open(dir: string, segmentBytes: number, fileMode: number | undefined): SegmentWriter {
    return new SegmentWriter(dir, openFile(path.join(dir, LOCK_FILE), 'r+'), segmentBytes, fileMode);
  }

  /** The lock file's descriptor (the continuity checks compare it with the file in the directory). */
  get lockFile(): number {
    return this.lockFd;
  }

  get head(): Position {
    return this.#head;
  }

  /** Takes the cross-process append lock, waiting for it when another process holds it. */
  async lock(): Promise<void> {
    try {
      fsExt.flockSync(this.lockFd, 'exnb');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
        throw new LockUnavailableError(`cannot lock ${path.join(this.dir, LOCK_FILE)}: ${String(e)}`, {
          cause: e,
        });
      }
      await new Promise<void>((resolve, reject) => {
        fsExt.flock(this.lockFd, 'ex', (err) => (err ? reject(err) : resolve()));
      });
    }
  }

  unlock(): void {
    fsExt.flockSync(this.lockFd, 'un');
  }

  /** Catches up with what other processes appended and cuts off a torn tail. Under the lock. */
  refresh(): void {
    const meta = readMeta(this.lockFd);
    if (this.#segFd === undefined || (meta !== undefined && meta.base !== this.#base)) {
      const bases = listSegments(this.dir);
      if (meta !== undefined && meta.head >= 0 && !bases.includes(meta.base)) {
        // The segment of the last write is gone: appending to the one before would reuse its positions.
        throw new CorruptRecordError(
          path.join(this.dir, segmentName(meta.base)),
          0,
          `segment is missing (${LOCK_FILE} records a write there, the log's head at ${meta.head}); ` +
            'refusing to append, which would reuse its positions',
        );
      }
      const base = meta !== undefined && bases.includes(meta.base) ? meta.base : bases.at(-1);
      this.#openSegment(base ?? 0);
    }
    if (!this.#segmentInPlace()) this.#openSegment(this.#base);
    const size = fs.fstatSync(this.#segFd as number).size;
    if (meta?.base === this.#base && size === meta.writeEnd && meta.head >= 0) {
      // The last write completed: take its outcome without decoding what others wrote.
      this.#size = size;
      this.#head = meta.head;
      this.#lastTime = Math.max(this.#lastTime, meta.lastTime);
      this.#lastIndexed = meta.indexed < 0 ? -Infinity : meta.indexed;
      return;
    }
    const settled = settledBytes(meta?.head === -1 ? undefined : meta, readDurable(this.lockFd), this.#base);
    if (size < settled) {
      throw new CorruptRecordError(
        path.join(this.dir, segmentName(this.#base)),
        size,
        `the segment ends at byte ${size}, but ${LOCK_FILE} records writes there up to at least byte ` +
          `${settled}: bytes were removed; refusing to append, which would reuse their positions ` +
          '(`eventy verify --repair` cuts the log there, losing those records)',
      );
    }
    if (size < this.#size) this.#openSegment(this.#base); // cannot shrink under us: start over
    // Without a trustworthy record of the last write (a lost lock file), any torn tail counts as one.
    if (size > this.#size) this.#scanTail(size, settled);
  }

  /**
   * False when the open segment file was replaced at its name (rewritten by a repair); throws when it is
   * gone, since appending to what came before would reuse its positions.
   */
  #segmentInPlace(): boolean {
    const file = path.join(this.dir, segmentName(this.#base));
    let ino: number;
    try {
      ino = fs.statSync(file).ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw new CorruptRecordError(
        file,
        0,
        `segment is missing (removed while open for appending, the log's head at ${this.#head}); ` +
          'refusing to append, which would reuse its positions',
      );
    }
    return ino === fs.fstatSync(this.#segFd as number).ino;
  }

  /**
   * Stamps and writes the batches in order as one write (rolling between batches when a segment is
   * full). A batch whose expected head does not match fails alone. Under the lock.
   */
  write(batches: readonly PendingBatch[]): BatchOutcome[] {
    const outcomes: BatchOutcome[] = [];
    const stamped: StampedBatch[] = [];
    for (const batch of batches) {
      if (batch.expectedHead !== undefined && batch.expectedHead !== this.#head) {
        outcomes.push({ ok: false, error: new ConflictError(batch.expectedHead, this.#head) });
        continue;
      }
      const time = nextTime(this.#lastTime);
      const records = batch.drafts.map((d, i) => stamp(d, this.#head + i, time));
      this.#head += records.length;
      this.#lastTime = time;
      stamped.push({ records, prefixes: batch.prefixes });
      outcomes.push({ ok: true, records, time });
    }
    this.#writeBatches(stamped);
    return outcomes;
  }

  /** Writes records stamped by another log (they must continue this one) as one batch. Under the lock. */
  writeStamped(records: readonly StoredRecord[]): void {
    this.#head += records.length;
    this.#lastTime = Math.max(this.#lastTime, ...records.map((r) => r.time));
    this.#writeBatches([{ records }]);
  }

  /**
   * Makes an empty log start at `base` (the copy of a log whose older records retention removed): its
   * first segment begins there. Under the lock; the caller records `base` as the retained first position.
   */
  startAt(base: Position): void {
    if (this.#head !== 0 || this.#size !== 0) {
      throw new ConflictError(0, this.#head);
    }
    const empty = this.#base;
    this.#head = base;
    this.#roll(base);
    if (empty !== base) {
      // The empty segment the log was created with holds nothing and lies before the retained first.
      fs.rmSync(path.join(this.dir, segmentName(empty)), { force: true });
      fs.rmSync(path.join(this.dir, indexName(empty)), { force: true });
    }
  }

  #writeBatches(batches: readonly StampedBatch[]): void {
    let chunks: Buffer[] = [];
    let headAfter = this.#head;
    let start = this.#size;
    let at = start;
    const index: IndexEntry[] = [];
    for (const { records, prefixes } of batches) {
      const first = (records[0] as StoredRecord).position;
      if (at >= this.segmentBytes) {
        this.#flush(chunks, start, index, headAfter);
        this.#roll(first);
        chunks = [];
        start = at = 0;
        index.length = 0;
      }
      const bytes = frameBatch(records, prefixes);
      headAfter = first + records.length;
      if (at === 0 || at - this.#lastIndexed >= INDEX_EVERY) {
        index.push({ position: first, offset: at });
        this.#lastIndexed = at;
      }
      chunks.push(bytes);
      at += bytes.length;
    }
    this.#flush(chunks, start, index, headAfter);
  }

  /** fdatasyncs every file written since the last call (outside the lock: others may append meanwhile). */
  async sync(): Promise<void> {
    const fds = [...this.#dirty];
    this.#dirty.clear();
    // Everything before the size known now is in the file already: once synced, it is marked durable.
    const mark =
      this.#segFd !== undefined && fds.includes(this.#segFd)
        ? { base: this.#base, end: this.#size }
        : undefined;
    this.#syncing++;
    try {
      await Promise.all(fds.map((fd) => fdatasync(fd)));
    } finally {
      this.#syncing--;
    }
    if (mark !== undefined) writeDurable(this.lockFd, mark);
    this.#closeRetired();
  }

  /**
   * Closes the files of segments rolled away from, except one written since the last sync began (appends go
   * on while a sync is in flight, and may write a segment and roll past it then: the next sync takes it, and
   * closing it first failed those appends with EBADF) and any while a sync is in flight (`replicate` syncs
   * beside the group commit).
   */
  #closeRetired(): void {
    if (this.#syncing > 0) return;
    const keep: number[] = [];
    for (const fd of this.#retired) {
      if (this.#dirty.has(fd)) keep.push(fd);
      else fs.closeSync(fd);
    }
    this.#retired = keep;
  }

  close(): void {
    for (const fd of [this.#segFd, this.#idxFd, this.lockFd, ...this.#retired]) {
      if (fd !== undefined) fs.closeSync(fd);
    }
    this.#segFd = this.#idxFd = undefined;
    this.#retired = [];
  }

  #flush(chunks: Buffer[], start: number, index: readonly IndexEntry[], head: Position): void {
    if (chunks.length === 0) return;
    const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const fd = this.#segFd as number;
    writeMeta(this.lockFd, {
      base: this.#base,
      writeStart: start,
      writeEnd: start + buf.length,
      head,
      lastTime: this.#lastTime,
      indexed: this.#lastIndexed === -Infinity ? -1 : this.#lastIndexed,
    });
    try {
      let done = 0;
      while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, start + done);
    } catch (e) {
      fs.ftruncateSync(fd, start); // leave no half batch behind a failed write (ENOSPC, EIO)
      this.#segFd = undefined; // the next turn rescans the tail
      throw e;
    }
    for (const entry of index) appendIndex(this.#idxFd as number, entry);
    this.#size = start + buf.length;
    this.#dirty.add(fd);
  }

  #roll(base: Position): void {
    const options = { realpath: false, lockfilePath: path.join(this.dir, 'roll.lock') };
    let release: () => void;
    try {
      release = lockfile.lockSync(this.dir, options);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      // Every roll runs under the append flock, which this process holds: whoever holds the roll lock
      // died mid-roll. Without this, appends would fail until proper-lockfile calls it stale (10 s).
      fs.rmSync(options.lockfilePath, { recursive: true, force: true });
      release = lockfile.lockSync(this.dir, options);
    }
    try {
      fs.closeSync(createFile(path.join(this.dir, segmentName(base)), this.fileMode));
      writeMeta(this.lockFd, {
        base,
        writeStart: 0,
        writeEnd: 0,
        head: base,
        lastTime: this.#lastTime,
        indexed: -1,
      });
      this.#openSegment(base, false);
    } finally {
      release();
    }
  }

  #openSegment(base: Position, scan = true): void {
    if (this.#segFd !== undefined) this.#retired.push(this.#segFd);
    if (this.#idxFd !== undefined) fs.closeSync(this.#idxFd);
    this.#closeRetired(); // with durability `never` no sync comes to close them
    this.#base = base;
    const file = path.join(this.dir, segmentName(base));
    this.#segFd = openFile(file, 'r+');
    this.#idxFd = createFile(path.join(this.dir, indexName(base)), this.fileMode);
    // A fresh roll keeps the head it was given; otherwise resume from the last index entry and scan on.
    const last = scan ? this.#checkSegment(file) : undefined;
    this.#size = last?.offset ?? 0;
    if (scan) this.#head = last?.position ?? base;
    this.#lastIndexed = last?.offset ?? -Infinity;
    if (this.#size === 0 && base > 0 && this.#lastTime === 0) this.#lastTime = previousTime(this.dir, base);
  }

  /**
   * Before appending to a segment it did not write itself: checks the framing and CRC of every complete
   * batch (appending after a corrupt record would put records where no reader can reach them), and
   * rebuilds a bad index. Returns the last index entry, from which the tail is scanned.
   * @throws CorruptRecordError naming the segment and byte offset of the damage.
   */
  #checkSegment(file: string): IndexEntry | undefined {
    const fd = this.#segFd as number;
    const size = fs.fstatSync(fd).size;
    for (let at = 0, chunk = VERIFY_CHUNK; at < size;) {
      const buf = readAt(fd, at, Math.min(size - at, chunk));
      const whole = checkFrames(buf, file, at);
      if (whole > 0) at += whole;
      else if (buf.length === chunk)
        chunk *= 2; // a batch larger than the chunk
      else break; // an incomplete batch at the end: the tail scan judges it
    }
    const index = path.join(this.dir, indexName(this.#base));
    const state = loadIndex(this.dir, this.#base, size);
    const last = state.ok ? state.entries.at(-1) : undefined;
    if (state.ok && (last === undefined || last.offset === 0 || checkEntry(fd, file, last))) return last;
    const entries = buildIndex(fd, file, size);
    writeIndex(this.#idxFd as number, entries);
    const why = last
      ? `its last entry (position ${last.position}, offset ${last.offset}) does not point at that record`
      : (state as { problem: string }).problem;
    warnOnce(`rebuilt the index ${index} (${entries.length} entries): ${why}`);
    return entries.at(-1);
  }

  /** Reads the batches between the known size and `size`; cuts a torn tail that starts at `tornFrom` or later. */
  #scanTail(size: number, tornFrom: number): void {
    const file = path.join(this.dir, segmentName(this.#base));
    const buf = readAt(this.#segFd as number, this.#size, size - this.#size);
    for (const item of scanBatches(buf, file, this.#size)) {
      if (item.kind === 'torn') {
        if (item.offset < tornFrom) {
          throw new CorruptRecordError(
            file,
            item.offset,
            `incomplete batch before byte ${tornFrom}, which the last write or an fsync had settled ` +
              '(bytes were removed or damaged); refusing to truncate',
            this.#head - 1,
          );
        }
        fs.ftruncateSync(this.#segFd as number, item.offset);
        trimIndex(this.dir, this.#base, item.offset);
        warnOnce(
          `cut an incomplete batch at the end of ${file} (${size - item.offset} bytes at byte ${item.offset}): ` +
            'a write cut short by a crash, never acknowledged',
          'EVENTY_TORN_TAIL',
        );
        break;
      }
      const first = item.records[0] as StoredRecord;
      if (first.position !== this.#head) {
        throw new CorruptRecordError(
          file,
          item.offset,
          `expected position ${this.#head}, found ${first.position}`,
          this.#head - 1,
        );
      }
      this.#head += item.records.length;
      this.#lastTime = Math.max(this.#lastTime, first.time);
      this.#size = item.end;
    }
  }
}

/** Frames a batch; records with a prefix only get their position and time encoded here, under the lock. */
function frameBatch(records: readonly StoredRecord[], prefixes: StampedBatch['prefixes']): Buffer {
  const last = records.length - 1;
  const frames = records.map((r, i) => {
    const prefix = prefixes?.[i];
    const body = prefix ? finishRecord(prefix, r.position, r.time) : encodeRecord(r);
    return frameBody(body, i < last);
  });
  return frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
}

/** Log time of the last record before segment `base` (so time never goes back across a roll). */
function previousTime(dir: string, base: Position): number {
  const prev = listSegments(dir)
    .filter((b) => b < base)
    .at(-1);
  if (prev === undefined) return 0;
  const file = path.join(dir, segmentName(prev));
  const fd = openFile(file, 'r');
  try {
    const from = lastEntry(dir, prev).offset;
    const buf = readAt(fd, from, fs.fstatSync(fd).size - from);
    let time = 0;
    for (const item of scanBatches(buf, file, from))
      if (item.kind === 'batch') time = item.records[0]?.time ?? time;
    return time;
  } finally {
    fs.closeSync(fd);
  }
}
