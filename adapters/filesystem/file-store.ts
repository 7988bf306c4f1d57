import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { eachRecord } from '../../engine/each-record.js';
import { encodeDraftPrefix } from '../../engine/codec.js';
import { checkDrafts, continuesAt, encodeDrafts } from '../../engine/append-batch.js';
import type { LogIdentity } from '../../engine/continuity.js';
import { ClosedError, ConflictError, isEventyError, UnavailableError } from '../../engine/errors.js';
import { aborted, Notifier } from '../../engine/notifier.js';
import { checkPosition, type Position } from '../../engine/position.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import type {
  AppendOptions,
  AppendResult,
  CompactOptions,
  CompactResult,
  FollowOptions,
  HistorySize,
  LogStore,
  ReadOptions,
  RetentionPolicy,
  SnapshotInfo,
  StorageFinding,
  StoreCapabilities,
} from '../../engine/storage.js';
import { compactStore } from '../../engine/retention.js';
import { fileSegments, planCompaction, removeBefore } from './file-compact.js';
import { FileSnapshots } from './file-snapshots.js';
import { readRetained, writeRetained } from './retained.js';
import { resolveFileOptions, type FileStoreOptions, type ResolvedFileOptions } from './file-url.js';
import { ensureLog, FileLogGuard, readIdentity } from './log-identity.js';
import { SegmentCursor } from './segment-cursor.js';
import { listSegments, segmentName } from './segment-files.js';
import { lastEntry } from './segment-index.js';
import { checkSegments, repairSegments } from './storage-check.js';
import { SegmentWriter, type BatchOutcome, type PendingBatch } from './segment-writer.js';

export type { FileStoreOptions } from './file-url.js';

interface Waiting {
  readonly batch: PendingBatch;
  readonly sync: boolean;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Opens the filesystem log in a directory (created when missing): the embedded default store, safe for
 * many processes on one machine.
 * @throws InvalidArgumentError for a bad URL or option.
 * @example await using store = await openFileStore('file:.eventy', { durability: 'batch' });
 */
export async function openFileStore(url: string, options: FileStoreOptions = {}): Promise<FileStore> {
  const resolved = resolveFileOptions(url, options);
  try {
    await ensureLog(resolved.dir, resolved.modes);
    const found = readIdentity(resolved.dir);
    if (found === undefined) throw new Error(`no readable identity file in ${resolved.dir}`);
    return new FileStore(url, resolved, new FileLogGuard(resolved.dir, found));
  } catch (e) {
    if (isEventyError(e)) throw e;
    throw new UnavailableError(`cannot open filesystem log ${resolved.dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** How often a follower checks that its log is still there and still the same (see `FileLogGuard`). */
const CHECK_MS = 1000;

/**
 * A log in one directory: segment files named by base position, rolled at `segmentBytes`, each with a
 * sparse index; appends serialised across processes with `flock`, group-committed within a process.
 * The appending side (the lock file, opened for writing) opens on the first append, so a handle that
 * only reads works on a read-only directory.
 */
export class FileStore implements LogStore {
  readonly capabilities: StoreCapabilities;
  #queue: Waiting[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;
  readonly #closing = new AbortController();
  readonly #changed = new Notifier();
  #changes = 0;
  #watcher: fs.FSWatcher | undefined;
  #writer: SegmentWriter | undefined;
  readonly #snapshots: FileSnapshots;

  constructor(
    readonly url: string,
    private readonly options: ResolvedFileOptions,
    private readonly guard: FileLogGuard,
  ) {
    this.capabilities = { multiProcess: true, persistent: true, durability: options.durability };
    this.#snapshots = new FileSnapshots(options.dir, options.modes);
  }

  /** {@inheritDoc SnapshotKeeping.retention} */
  get retention(): RetentionPolicy | undefined {
    return this.options.retention;
  }

  get #continuity() {
    return this.guard.continuity;
  }

  /** The log's directory. */
  get dir(): string {
    return this.options.dir;
  }

  append(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#check();
      checkDrafts(drafts);
      const expectedHead =
        options.expectedHead === undefined ? undefined : checkPosition('expectedHead', options.expectedHead);
      this.#queue.push({
        // Encoded now, outside the cross-process lock: under it only position and time are added.
        batch: { drafts, prefixes: encodeDrafts(drafts, encodeDraftPrefix), expectedHead },
        sync: options.sync !== false || this.options.durability === 'always',
        resolve,
        reject,
      });
      this.#flushing ??= this.#flushLoop();
    });
  }

  async replicate(records: readonly StoredRecord[]): Promise<void> {
    this.#check();
    if (records.length === 0) return;
    const writer = await this.#locked((w) => {
      const start = (records[0] as StoredRecord).position;
      // An empty log may start later: the copy of a log whose older segments retention removed.
      const fresh = w.head === 0 && start > 0 && readRetained(this.dir) === 0;
      if (!continuesAt(records, fresh ? start : w.head)) {
        throw new ConflictError(w.head, start);
      }
      if (fresh) {
        // Recorded first, as a compaction does: a crash leaves a log that reads from `start`, or is empty.
        writeRetained(this.dir, start, this.options.modes.file);
        w.startAt(start);
      }
      w.writeStamped(records);
      return w;
    });
    if (this.options.durability !== 'never') await writer.sync();
    this.#notify();
  }

  read(options: ReadOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.readChunks(options));
  }

  async *readChunks(options: ReadOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    const from = checkPosition('from', options.from ?? readRetained(this.dir));
    this.guard.check();
    const to = options.to === undefined ? await this.#readEnd() : checkPosition('to', options.to);
    const cursor = new SegmentCursor(this.dir, from);
    try {
      while (cursor.next < to && !this.#closed && options.signal?.aborted !== true) {
        const records = cursor.poll();
        if (records.length === 0) return;
        this.#continuity.saw(Math.min(cursor.next, to));
        if ((records.at(-1) as StoredRecord).position < to) yield records;
        else {
          // Positions are dense: the records before `to` are a prefix.
          yield records.slice(0, to - (records[0] as StoredRecord).position);
          return;
        }
        await nextTurn(); // a long read must not starve timers and I/O
      }
    } finally {
      cursor.close();
    }
  }

  follow(options: FollowOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.followChunks(options));
  }

  async *followChunks(options: FollowOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    const cursor = new SegmentCursor(this.dir, checkPosition('from', options.from ?? readRetained(this.dir)));
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closing.signal])
      : this.#closing.signal;
    this.#watch();
    let checked = -Infinity;
    try {
      while (!signal.aborted) {
        if (performance.now() - checked >= CHECK_MS) {
          this.#checkFollowed(cursor);
          checked = performance.now();
        }
        const seen = this.#changes;
        const records = cursor.poll();
        if (records.length > 0) {
          this.#continuity.saw(cursor.next);
          yield records;
          if (aborted(signal)) return;
        }
        if (records.length === 0 && seen === this.#changes) {
          await this.#changed.wait(signal, this.options.pollMs);
        } else if (records.length > 0) {
          // Catching up with a busy writer never waits: let timers and I/O run between polls.
          await nextTurn();
        }
      }
    } finally {
      cursor.close();
    }
  }

  /** Where a read without `to` stops: the head, or (corrupt tail) the corruption, which the cursor raises. */
  async #readEnd(): Promise<Position> {
    try {
      return await this.head();
    } catch (e) {
      if (isEventyError(e, 'corrupt-record')) return Infinity;
      throw e;
    }
  }

  /** The log is still the one this handle opened, and the segment being read is still in place. */
  #checkFollowed(cursor: SegmentCursor): void {
    this.guard.check();
    const moved = cursor.moved();
    if (moved !== undefined) this.#continuity.fail(moved.expected, moved.found);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async head(): Promise<Position> {
    this.#check();
    this.guard.check();
    // Complete batches from the last index entry of the last segment to the end: no lock needed.
    const base = listSegments(this.dir).at(-1);
    const cursor = new SegmentCursor(this.dir, base === undefined ? 0 : lastEntry(this.dir, base).position);
    try {
      while (cursor.poll().length > 0);
      this.#continuity.checkHead(cursor.next);
      return cursor.next;
    } finally {
      cursor.close();
    }
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async identity(): Promise<LogIdentity> {
    this.#check();
    return this.#continuity.identity;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async first(): Promise<Position> {
    this.#check();
    return readRetained(this.dir);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async putSnapshot(position: Position, data: Uint8Array): Promise<SnapshotInfo> {
    this.#check();
    return this.#snapshots.put(position, data);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async listSnapshots(): Promise<SnapshotInfo[]> {
    this.#check();
    return this.#snapshots.list();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async getSnapshot(ref: string): Promise<Uint8Array> {
    this.#check();
    return this.#snapshots.get(ref);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async deleteSnapshot(ref: string): Promise<boolean> {
    this.#check();
    return this.#snapshots.delete(ref);
  }

  async compact(options: CompactOptions): Promise<CompactResult> {
    this.#check();
    return compactStore(this, options, {
      plan: async (keepFrom, policy) => planCompaction(this.dir, await this.head(), keepFrom, policy),
      remove: (first) => this.#locked(() => removeBefore(this.dir, first, this.options.modes.file)),
    });
  }

  async historySize(): Promise<HistorySize> {
    this.#check();
    const head = await this.head();
    const segments = fileSegments(this.dir, head);
    return {
      first: readRetained(this.dir),
      head,
      bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
      segments: segments.length,
      snapshotBytes: this.#snapshots.bytes(),
    };
  }

  /** The segment files, oldest first. */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async segments(): Promise<{ base: Position; file: string; bytes: number }[]> {
    this.#check();
    return listSegments(this.dir).map((base) => {
      const file = path.join(this.dir, segmentName(base));
      return { base, file, bytes: fs.statSync(file).size };
    });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async checkStorage(): Promise<StorageFinding[]> {
    this.#check();
    return checkSegments(this.dir);
  }

  async repairStorage(): Promise<StorageFinding[]> {
    this.#check();
    await this.#flushing;
    return repairSegments(this.dir, this.options.modes.file);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#watcher?.close();
    await this.#flushing;
    await this.#syncing;
    this.#writer?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Writes what is queued: group commit for `batch`/`never`, one batch per write for `always`. */
  async #flushLoop(): Promise<void> {
    // Appends made in this turn of the event loop (I/O callbacks included) join this write. A microtask
    // instead would help a lone appender a little (bench:log) but split the runtime's appends into more,
    // smaller writes, which costs more than it gains once several workers append (bench:queue).
    await nextTurn();
    const always = this.options.durability === 'always';
    while (this.#queue.length > 0) {
      const take = always ? this.#queue.splice(0, 1) : this.#queue.splice(0);
      try {
        const outcomes = await this.#locked((writer) => writer.write(take.map((w) => w.batch)));
        this.#notify();
        // Unsynced batches resolve now; the others once an fsync that started after their write is done.
        take.forEach((w, i) => {
          const outcome = outcomes[i] as BatchOutcome;
          if (this.options.durability === 'never' || !w.sync || !outcome.ok) settle(w, outcome);
          else this.#unsynced.push({ w, outcome });
        });
        if (this.#unsynced.length > 0) this.#syncing ??= this.#syncLoop(); // starts with an await
        // `always` writes one append at a time; `batch` goes on writing while the fsync runs.
        if (always) await this.#syncing;
      } catch (e) {
        const error = appendError(this.dir, e);
        for (const w of take) w.reject(error);
      }
    }
    this.#flushing = undefined;
  }

  /** Written batches waiting for an fsync, and the loop that runs one fsync at a time for them. */
  #unsynced: { w: Waiting; outcome: BatchOutcome }[] = [];
  #syncing: Promise<void> | undefined;
  #lastSync = -Infinity;

  async #syncLoop(): Promise<void> {
    while (this.#unsynced.length > 0) {
      // Group commit: at most one fsync per interval, so a steady stream of appends shares fsyncs and
      // other processes' writes to the same file are not stalled behind back-to-back writebacks.
      const interval = this.options.durability === 'always' ? 0 : this.options.syncIntervalMs;
      const wait = this.#lastSync + interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.#lastSync = performance.now();
      const take = this.#unsynced.splice(0);
      try {
        await this.#writer?.sync();
        for (const t of take) settle(t.w, t.outcome);
      } catch (e) {
        const error = appendError(this.dir, e);
        for (const t of take) t.w.reject(error);
      }
    }
    this.#syncing = undefined;
  }

  /**
   * Runs `fn` under the cross-process append lock, on the log as it is now, once the log was found to be
   * the one this handle knows: same identity, same lock file, a head not below what was seen.
   */
  async #locked<T>(fn: (writer: SegmentWriter) => T): Promise<T> {
    this.#continuity.checkNotDiverged();
    this.guard.check();
    this.#writer ??= SegmentWriter.open(this.dir, this.options.segmentBytes, this.options.modes.file);
    const writer = this.#writer;
    await writer.lock();
    try {
      this.guard.checkLockFile(writer.lockFile);
      this.guard.check();
      writer.refresh();
      this.#continuity.checkHead(writer.head);
      const out = fn(writer);
      this.#continuity.saw(writer.head);
      return out;
    } finally {
      writer.unlock();
    }
  }

  #notify(): void {
    this.#changes++;
    this.#changed.notify();
  }

  #watch(): void {
    if (this.#watcher !== undefined || this.#closed) return;
    try {
      this.#watcher = fs.watch(this.dir, { persistent: false }, () => this.#notify());
      this.#watcher.on('error', () => {
        this.#watcher?.close(); // polling carries on
      });
    } catch {
      // no watcher on this file system: polling alone
    }
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`store ${this.url}`);
  }
}

function appendError(dir: string, e: unknown): Error {
  if (isEventyError(e)) return e;
  return new UnavailableError(`cannot append to ${dir}: ${(e as Error).message}`, { cause: e });
}

function settle(w: Waiting, outcome: BatchOutcome): void {
  if (!outcome.ok) {
    w.reject(outcome.error);
    return;
  }
  w.resolve({
    positions: outcome.records.map((r) => r.position),
    time: outcome.time,
    records: outcome.records,
  });
}
