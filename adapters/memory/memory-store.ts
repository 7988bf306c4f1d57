import { randomUUID } from 'node:crypto';
import { eachRecord } from '../../engine/each-record.js';
import type { LogIdentity } from '../../engine/continuity.js';
import { decodeRecord, encodeRecord } from '../../engine/codec.js';
import { checkDrafts, continuesAt, encodeDrafts, nextTime } from '../../engine/append-batch.js';
import { ClosedError, ConflictError, InvalidArgumentError } from '../../engine/errors.js';
import { Notifier } from '../../engine/notifier.js';
import { aborted } from '../../engine/notifier.js';
import { checkPosition, type Position } from '../../engine/position.js';
import { stamp, type StoredRecord, type RecordDraft } from '../../engine/records.js';
import type {
  AppendOptions,
  AppendResult,
  FollowOptions,
  LogStore,
  ReadOptions,
  StoreCapabilities,
} from '../../engine/storage.js';

/** The records of one in-memory log, shared by every store opened on the same `memory:<name>`. */
class MemoryLog {
  readonly records: StoredRecord[] = [];
  readonly appended = new Notifier();
  lastTime = 0;
  /** A memory log lives as long as the process: nothing can replace it under a handle. */
  readonly identity: LogIdentity = { id: randomUUID(), epoch: 1 };
}

const named = new Map<string, MemoryLog>();

/** Records per chunk of a read or follow. */
const CHUNK = 4096;

/**
 * The reference store: one process, nothing persisted. `memory:` opens a fresh log; `memory:<name>`
 * shares one log between every store opened on that name in this process.
 * @example await using store = openMemoryStore('memory:');
 */
export function openMemoryStore(url = 'memory:'): MemoryStore {
  if (!url.startsWith('memory:'))
    throw new InvalidArgumentError(`memory store URL must start with "memory:", got: ${url}`);
  const name = url.slice('memory:'.length);
  let log = name === '' ? undefined : named.get(name);
  if (log === undefined) {
    log = new MemoryLog();
    if (name !== '') named.set(name, log);
  }
  return new MemoryStore(url, log);
}

export class MemoryStore implements LogStore {
  readonly capabilities: StoreCapabilities = { multiProcess: false, persistent: false, durability: 'never' };
  #closed = false;
  readonly #closing = new AbortController();

  constructor(
    readonly url: string,
    private readonly log: MemoryLog,
  ) {}

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async append(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#check();
    checkDrafts(drafts);
    const head = this.log.records.length;
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
    this.log.records.push(...records);
    this.log.appended.notify();
    return { positions: records.map((r) => r.position), time, records };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async replicate(records: readonly StoredRecord[]): Promise<void> {
    this.#check();
    if (records.length === 0) return;
    const head = this.log.records.length;
    if (!continuesAt(records, head)) throw new ConflictError(head, records[0]?.position ?? -1);
    for (const r of records) {
      this.log.records.push(Object.freeze(structuredClone(r)));
      this.log.lastTime = Math.max(this.log.lastTime, r.time);
    }
    this.log.appended.notify();
  }

  read(options: ReadOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.readChunks(options));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- an async iterable over memory
  async *readChunks(options: ReadOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    const from = checkPosition('from', options.from ?? 0);
    const to = Math.min(checkPosition('to', options.to ?? this.log.records.length), this.log.records.length);
    for (let p = from; p < to; p += CHUNK) {
      if (options.signal?.aborted === true || this.#closed) return;
      yield this.log.records.slice(p, Math.min(to, p + CHUNK));
    }
  }

  follow(options: FollowOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.followChunks(options));
  }

  async *followChunks(options: FollowOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    let next: Position = checkPosition('from', options.from ?? 0);
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closing.signal])
      : this.#closing.signal;
    while (!signal.aborted) {
      while (next < this.log.records.length) {
        const chunk = this.log.records.slice(next, next + CHUNK);
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
    return this.log.records.length;
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
}
