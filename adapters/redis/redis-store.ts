import type { Redis } from 'ioredis';
import { eachRecord } from '../../engine/each-record.js';
import { encodeRecord } from '../../engine/codec.js';
import { checkDrafts, checkReplica, encodeDrafts } from '../../engine/append-batch.js';
import { Continuity, formatIdentity, type LogIdentity } from '../../engine/continuity.js';
import { ClosedError, ConflictError, UnavailableError } from '../../engine/errors.js';
import { checkPosition, type Position } from '../../engine/position.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { compactStore } from '../../engine/retention.js';
import type {
  CompactOptions,
  CompactResult,
  HistorySize,
  RetentionPolicy,
  SnapshotInfo,
  AppendOptions,
  AppendResult,
  FollowOptions,
  LogStore,
  ReadOptions,
  StoreCapabilities,
} from '../../engine/storage.js';
import { FOLLOW_OPTIONS, quiet, release, storeError } from './redis-connection.js';
import { AppendQueue } from './redis-append.js';
import { followLog, type FollowContext } from './redis-follow.js';
import type { RedisLayout } from './redis-layout.js';
import { decodeEntry, encodeDraft, stampedRecord, type EncodedDraft } from './redis-records.js';
import { APPEND, runScript } from './redis-scripts.js';
import {
  checkRetained,
  planRedisCompaction,
  deleteRedisSnapshot,
  getRedisSnapshot,
  historyRedis,
  listRedisSnapshots,
  putRedisSnapshot,
} from './redis-retention.js';
import {
  copyRecords,
  dropSegments,
  exportSegment,
  importFrames,
  listSegments,
  rangeChunks,
  readMeta,
  type RedisLog,
  type SegmentInfo,
} from './redis-segments.js';

/**
 * An append's result whose `records` are decoded on first use: most callers (claims, results,
 * heartbeats) read only the positions, and decoding costs more than the rest of an append's CPU work.
 */
class Appended implements AppendResult {
  readonly positions: Position[];
  #records: StoredRecord[] | undefined;

  constructor(
    private readonly encoded: readonly EncodedDraft[],
    head: Position,
    readonly time: number,
  ) {
    this.positions = encoded.map((_, i) => head + i);
  }

  get records(): StoredRecord[] {
    this.#records ??= this.encoded.map((e, i) => stampedRecord(e, this.positions[i] as Position, this.time));
    return this.#records;
  }
}

/** How a {@link RedisStore} is wired; made by `openRedisStore` / `fromRedis`. */
export interface RedisStoreParts {
  readonly client: Redis;
  /** True when the store created the client and so closes it. */
  readonly owned: boolean;
  readonly url: string;
  readonly layout: RedisLayout;
  readonly segmentRecords: number;
  readonly capabilities: StoreCapabilities;
  /** The retention policy from the URL or options. */
  readonly retention: RetentionPolicy | undefined;
  /** The log's identity as the store found it when opening. */
  readonly identity: LogIdentity;
}

/**
 * A log on Redis Streams (see `RedisLayout` for the keys and ids).
 *
 * Append is one EVALSHA: the script checks the expected head, takes the time from the Redis server's
 * clock (never below the log's last time, kept in the meta hash), and XADDs each record at the next
 * position. The record's CBOR is encoded here, before the round trip, without the values of `position`
 * and `time`; the script writes both at the end of the bytes, so what Redis stores is exactly
 * `encodeRecord` of the stamped record and exports need no re-encoding. Concurrent appends from any
 * number of processes never conflict or retry (unlike read-head-then-write), a batch of any size
 * costs one round trip, and the batches appended through one handle in one turn of the event loop, or
 * while a call is in flight, go together in one call (group commit, see `AppendQueue`).
 *
 * Appends run on the store's command connection; each follower gets its own blocking connection
 * (`client.duplicate()`), which `close()` releases. A store made by `fromRedis` never closes the
 * user's client.
 */
export class RedisStore implements LogStore {
  readonly url: string;
  readonly capabilities: StoreCapabilities;
  readonly #parts: RedisStoreParts;
  readonly #log: RedisLog;
  readonly #closing = new AbortController();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #followers = new Set<Redis>();
  readonly #appends: AppendQueue;
  readonly #continuity: Continuity;
  #closed: Promise<void> | undefined;

  constructor(parts: RedisStoreParts) {
    this.#parts = parts;
    this.url = parts.url;
    this.capabilities = parts.capabilities;
    this.#continuity = new Continuity(parts.url, parts.identity);
    this.#log = {
      url: parts.url,
      layout: parts.layout,
      segmentRecords: parts.segmentRecords,
      command: (what, run) => this.#command(what, run),
    };
    const keys = [parts.layout.meta, parts.layout.segmentPrefix];
    const segment = String(parts.segmentRecords);
    // Batches checked in by append() before close() are still sent: close() flushes them.
    const { id, epoch } = parts.identity;
    this.#appends = new AppendQueue(async (batches) => {
      // The least head is read as the call goes: what this handle saw by then.
      const least = String(this.#continuity.seen);
      const args = [segment, batches, id, String(epoch), least];
      return this.#checkAppended(
        await this.#command('append', (c) => runScript(c, APPEND, keys, args), true),
      );
    });
    parts.client.on('ready', this.#reconnected);
  }

  /** A new connection may reach a restarted server: appends go one at a time until one succeeds. */
  readonly #reconnected = (): void => this.#appends.reset();

  /** Records per segment stream of this log. */
  get segmentRecords(): number {
    return this.#parts.segmentRecords;
  }

  /**
   * {@inheritDoc LogStore.append}
   * @throws UnavailableError when Redis cannot be reached. If the connection dropped while the batch
   * was in flight, the batch may have been stored: retry with `expectedHead` to append it at most once.
   */
  async append(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#check();
    checkDrafts(drafts);
    const { expectedHead } = options;
    const expected = expectedHead === undefined ? undefined : checkPosition('expectedHead', expectedHead);
    const encoded = encodeDrafts(drafts, encodeDraft);
    this.#continuity.checkNotDiverged();
    const { conflict, head, time } = await this.#appends.submit(expected, encoded);
    if (conflict) throw new ConflictError(expected ?? head, head);
    this.#continuity.saw(head + encoded.length);
    return new Appended(encoded, head, time);
  }

  /** {@inheritDoc LogStore.replicate} */
  async replicate(records: readonly StoredRecord[]): Promise<void> {
    this.#check();
    const from = checkReplica(records);
    if (from === undefined) return;
    // Another store's batch boundaries are not known here: each record is a batch of its own.
    const items = records.map((r) => ({ body: encodeRecord(r), time: r.time, more: false }));
    await copyRecords(this.#log, from, items, false);
  }

  /** {@inheritDoc LogStore.read} */
  read(options: ReadOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.readChunks(options));
  }

  /** {@inheritDoc LogStore.readChunks} */
  async *readChunks(options: ReadOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    if (options.from !== undefined) checkPosition('from', options.from);
    const to = options.to === undefined ? undefined : checkPosition('to', options.to);
    const seen = this.#continuity.seen;
    const meta = await readMeta(this.#log);
    const from = options.from ?? meta.first;
    this.#continuity.checkIdentity(meta.identity);
    this.#continuity.checkHead(meta.head, seen);
    const end = Math.min(to ?? meta.head, meta.head);
    if (from < end) checkRetained(this.url, from, meta.first);
    const stop = (): boolean => options.signal?.aborted === true || this.#closed !== undefined;
    for await (const chunk of rangeChunks(this.#log, from, end, stop)) {
      this.#continuity.saw((chunk.at(-1)?.position ?? -1) + 1);
      yield chunk.map(({ key, entry, position }) => decodeEntry(entry, key, position));
      if (stop()) return;
    }
  }

  /**
   * {@inheritDoc LogStore.follow}
   * Each follower holds its own
   * blocking connection while it runs; when Redis goes away it waits, reconnects with backoff, and goes
   * on from the next position.
   */
  follow(options: FollowOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.followChunks(options));
  }

  /** {@inheritDoc LogStore.followChunks} */
  followChunks(options: FollowOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    return followLog(this.#followContext(), () => {
      this.#check();
      this.#continuity.checkNotDiverged();
      const from = options.from === undefined ? undefined : checkPosition('from', options.from);
      const closing = this.#closing.signal;
      return { from, signal: options.signal ? AbortSignal.any([options.signal, closing]) : closing };
    });
  }

  /** {@inheritDoc LogStore.head} */
  async head(): Promise<Position> {
    const seen = this.#continuity.seen;
    const [head, id, epoch] = await this.#command('head', (c) =>
      c.hmget(this.#parts.layout.meta, 'head', 'id', 'epoch'),
    );
    this.#continuity.checkIdentity(id == null || epoch == null ? undefined : { id, epoch: Number(epoch) });
    const position = head == null ? 0 : Number(head);
    this.#continuity.checkHead(position, seen);
    return position;
  }

  /** {@inheritDoc LogStore.identity} */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async identity(): Promise<LogIdentity> {
    this.#check();
    return this.#continuity.identity;
  }

  /** The append script's reply, unless it refused the log (see `APPEND`): then `log-diverged`. */
  #checkAppended(reply: unknown): unknown {
    if (!Array.isArray(reply) || reply[0] !== -1) return reply;
    const [, head, id, epoch] = reply as [number, number, string, string];
    const found = id === '' ? undefined : { id, epoch: Number(epoch) };
    this.#continuity.checkIdentity(found);
    this.#continuity.checkHead(head);
    // The script saw a head below what this handle had seen when it sent the call.
    return this.#continuity.fail(
      `a head of at least ${this.#continuity.seen}`,
      `a head of ${head} (${formatIdentity(found)})`,
    );
  }

  /** The segment streams the log holds now, oldest first. */
  segments(): Promise<SegmentInfo[]> {
    return listSegments(this.#log);
  }

  /**
   * The segment starting at `base` as framed records (`[length][crc32c][cbor]`, see `engine/codec.ts`):
   * byte for byte what the filesystem store writes for the same appends, `encodeBatch` per append, except
   * that an append running on into the next segment ends with this one. Write it to a file, or give it
   * to another store's {@link importSegment}.
   * @throws NotFoundError when the log holds no record of that segment.
   * @throws InvalidArgumentError when `base` is not a multiple of {@link segmentRecords}.
   */
  exportSegment(base: Position): Promise<Buffer> {
    return exportSegment(this.#log, base);
  }

  /**
   * Appends framed records (a filesystem segment file, or {@link exportSegment}'s output), keeping their
   * bytes, positions and times. They must continue the log; an empty log may start where they start.
   * Large buffers go in several atomic steps of at most 1,000 records.
   * @returns the positions imported, `[from, to)`.
   * @throws ConflictError when they do not continue the log; CorruptRecordError on a bad frame.
   */
  importSegment(frames: Buffer): Promise<{ from: Position; to: Position }> {
    return importFrames(this.#log, frames);
  }

  /** {@inheritDoc SnapshotKeeping.retention} */
  get retention(): RetentionPolicy | undefined {
    return this.#parts.retention;
  }

  /** {@inheritDoc LogStore.first} */
  async first(): Promise<Position> {
    return (await readMeta(this.#log)).first;
  }

  putSnapshot(position: Position, data: Uint8Array): Promise<SnapshotInfo> {
    return putRedisSnapshot(this.#log, position, data);
  }

  listSnapshots(): Promise<SnapshotInfo[]> {
    return listRedisSnapshots(this.#log);
  }

  getSnapshot(ref: string): Promise<Uint8Array> {
    return getRedisSnapshot(this.#log, ref);
  }

  deleteSnapshot(ref: string): Promise<boolean> {
    return deleteRedisSnapshot(this.#log, ref);
  }

  /** {@inheritDoc SnapshotKeeping.compact} Removes each segment stream with one UNLINK, in one script. */
  compact(options: CompactOptions): Promise<CompactResult> {
    return compactStore(this, options, {
      plan: (keepFrom, policy) => planRedisCompaction(this.#log, keepFrom, policy),
      // The script drops whole segments before `first` and moves the log's first with them, atomically.
      remove: async (first) => {
        await dropSegments(this.#log, first);
      },
    });
  }

  historySize(): Promise<HistorySize> {
    return historyRedis(this.#log);
  }

  /**
   * Retention without a policy: deletes the full segments whose records all lie before `position` (one
   * UNLINK each). Reads and follows from an earlier position then fail with `truncated`. It does not look
   * at snapshots (`compact` does): a position past the newest one leaves a log no process can start from.
   * @returns how many segments were dropped and the first position kept.
   */
  dropSegmentsBefore(position: Position): Promise<{ dropped: number; first: Position }> {
    return dropSegments(this.#log, position);
  }

  /** Releases the follower connections, and the client when the store created it. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    this.#parts.client.off('ready', this.#reconnected);
    // Appends made before close() are sent now and get their answer (our connection fails fast, so
    // this is short); a user's client answers them too, though we do not wait for it.
    const appends = this.#appends.flush();
    await Promise.allSettled([...this.#followers].map(release));
    if (!this.#parts.owned) return;
    await appends;
    await Promise.allSettled([...this.#inflight]);
    await release(this.#parts.client);
  }

  #followContext(): FollowContext {
    return {
      layout: this.#parts.layout,
      segmentRecords: this.segmentRecords,
      continuity: this.#continuity,
      command: (what, run) => this.#command(what, run),
      connect: () => {
        const conn = quiet(this.#parts.client.duplicate(FOLLOW_OPTIONS));
        this.#followers.add(conn);
        return conn;
      },
      release: async (conn) => {
        this.#followers.delete(conn);
        await release(conn);
      },
    };
  }

  async #command<T>(what: string, run: (client: Redis) => Promise<T>, closing = false): Promise<T> {
    if (!closing) this.#check();
    const { client } = this.#parts;
    if (client.status === 'reconnecting' || client.status === 'close' || client.status === 'end') {
      throw new UnavailableError(`${what} failed: Redis at ${this.url} is unavailable (${client.status})`);
    }
    const pending = run(client);
    this.#inflight.add(pending);
    try {
      return await pending;
    } catch (e) {
      throw storeError(e, what, this.url);
    } finally {
      this.#inflight.delete(pending);
    }
  }

  #check(): void {
    if (this.#closed !== undefined) throw new ClosedError(`store ${this.url}`);
  }
}
