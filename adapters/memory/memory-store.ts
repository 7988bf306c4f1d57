import { eachRecord } from '../../engine/each-record.js';
import type { LogIdentity } from '../../engine/continuity.js';
import { decodeRecord, encodeRecord } from '../../engine/codec.js';
import { checkDrafts, continuesAt, encodeDrafts, nextTime } from '../../engine/append-batch.js';
import { ClosedError, ConflictError, TruncatedError } from '../../engine/errors.js';
import { aborted } from '../../engine/notifier.js';
import { checkPosition, type Position } from '../../engine/position.js';
import { stamp, type StoredRecord, type RecordDraft } from '../../engine/records.js';
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
  StoreCapabilities,
} from '../../engine/storage.js';
import { compactStore } from '../../engine/retention.js';
import { MemoryLog, memoryUrl } from './memory-log.js';

const named = new Map<string, MemoryLog>();

/** Records per chunk of a read or follow. */
const CHUNK = 4096;

/**
 * The reference store: one process, nothing persisted. `memory:` opens a fresh log; `memory:<name>`
 * shares one log between every store opened on that name in this process. Query parameters:
 * `segmentRecords` (records per segment, the unit retention removes; default 65536, fixed by the first
 * handle of a log), `retention` and `retentionBytes` (see {@link RetentionPolicy}).
 * @example await using store = openMemoryStore('memory:jobs?segmentRecords=1024&retention=1h');
 * @throws InvalidArgumentError for a bad URL or parameter.
 */
export function openMemoryStore(url = 'memory:'): MemoryStore {
  const { name, segmentRecords, retention } = memoryUrl(url);
  let log = name === '' ? undefined : named.get(name);
  if (log === undefined) {
    log = new MemoryLog(segmentRecords);
    if (name !== '') named.set(name, log);
  }
  return new MemoryStore(url, log, retention);
}

export class MemoryStore implements LogStore {
  readonly capabilities: StoreCapabilities = { multiProcess: false, persistent: false, durability: 'never' };
  #closed = false;
  readonly #closing = new AbortController();

  constructor(
    readonly url: string,
    private readonly log: MemoryLog,
    readonly retention: RetentionPolicy | undefined,
  ) {}

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async append(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#check();
    checkDrafts(drafts);
    const head = this.log.head;
    if (options.expectedHead !== undefined) {
      checkPosition('expectedHead', options.expectedHead);
      if (options.expectedHead !== head) throw new ConflictError(options.expectedHead, head);
    }
    const time = nextTime(this.log.lastTime);
    this.log.lastTime = time;
    // Records go through the same CBOR as every other store: callers can't mutate what the log holds,
    // and the memory store accepts and returns exactly what the others do.
    const records = encodeDrafts(drafts, (d, i) =>
      Object.freeze(decodeRecord(encodeRecord(stamp(d, head + i, time)), this.url, 0)),
    );
    this.log.push(records);
    this.log.appended.notify();
    return { positions: records.map((r) => r.position), time, records };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async replicate(records: readonly StoredRecord[]): Promise<void> {
    this.#check();
    if (records.length === 0) return;
    const head = this.log.head;
    // An empty log may start later: the copy of a log whose older segments retention removed.
    const fresh = head === 0 && this.log.first === 0 && records[0] !== undefined;
    if (!continuesAt(records, fresh ? (records[0] as StoredRecord).position : head))
      throw new ConflictError(head, records[0]?.position ?? -1);
    if (fresh) this.log.startAt((records[0] as StoredRecord).position);
    this.log.push(records.map((r) => Object.freeze(structuredClone(r))));
    for (const r of records) this.log.lastTime = Math.max(this.log.lastTime, r.time);
    this.log.appended.notify();
  }

  read(options: ReadOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.readChunks(options));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- an async iterable over memory
  async *readChunks(options: ReadOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    const from = checkPosition('from', options.from ?? this.log.first);
    const to = Math.min(checkPosition('to', options.to ?? this.log.head), this.log.head);
    for (let p = from; p < to; p += CHUNK) {
      if (options.signal?.aborted === true || this.#closed) return;
      yield this.#slice(p, Math.min(to, p + CHUNK));
    }
  }

  follow(options: FollowOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.followChunks(options));
  }

  async *followChunks(options: FollowOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    let next: Position = checkPosition('from', options.from ?? this.log.first);
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closing.signal])
      : this.#closing.signal;
    while (!signal.aborted) {
      while (next < this.log.head) {
        const chunk = this.#slice(next, next + CHUNK);
        yield chunk;
        next += chunk.length;
        if (aborted(signal)) return;
      }
      await this.log.appended.wait(signal);
    }
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async head(): Promise<Position> {
    this.#check();
    return this.log.head;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async first(): Promise<Position> {
    this.#check();
    return this.log.first;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async putSnapshot(position: Position, data: Uint8Array): Promise<SnapshotInfo> {
    this.#check();
    return this.log.snapshots.put(position, data);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async listSnapshots(): Promise<SnapshotInfo[]> {
    this.#check();
    return this.log.snapshots.list();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async getSnapshot(ref: string): Promise<Uint8Array> {
    this.#check();
    return this.log.snapshots.get(ref);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async deleteSnapshot(ref: string): Promise<boolean> {
    this.#check();
    return this.log.snapshots.delete(ref);
  }

  async compact(options: CompactOptions): Promise<CompactResult> {
    this.#check();
    return compactStore(this, options, {
      plan: (keepFrom, policy) => this.log.planCompaction(keepFrom, policy),
      remove: (first) => {
        this.log.dropBefore(first);
        // Followers behind the new first find out at once, not at the next append.
        this.log.appended.notify();
        return Promise.resolve();
      },
    });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async historySize(): Promise<HistorySize> {
    this.#check();
    return this.log.size();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async identity(): Promise<LogIdentity> {
    this.#check();
    return this.log.identity;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(`store ${this.url}`);
  }

  /** Records `[from, to)`; `truncated` when retention removed `from`. */
  #slice(from: Position, to: Position): StoredRecord[] {
    if (from < this.log.first) throw new TruncatedError(this.url, from, this.log.first);
    return this.log.records.slice(from - this.log.first, to - this.log.first);
  }
}
