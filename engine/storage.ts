import type { LogIdentity } from './continuity.js';
import type { Position } from './position.js';
import type { StoredRecord, RecordDraft } from './records.js';

/** How hard a store works to keep an append across a crash. */
export type Durability = 'always' | 'batch' | 'never';

/** What a store can do beyond the contract. */
export interface StoreCapabilities {
  /** Several processes may append to and follow the same log. */
  readonly multiProcess: boolean;
  /** Appends survive the process (and, per durability, the machine). */
  readonly persistent: boolean;
  /** The durability policy in force. */
  readonly durability: Durability;
}

/** Options of {@link LogStore.append}. */
export interface AppendOptions {
  /**
   * Append only if the log's head (the next position to be assigned) is this one; otherwise nothing is
   * appended and a `conflict` error is raised.
   */
  readonly expectedHead?: Position;
  /**
   * `false`: resolve once written, without waiting for the durability policy's fsync. For records whose
   * loss in a machine crash only causes a re-run (claims, lease extensions, heartbeats, results): a later
   * synced append to the same log makes them durable too. Stores with an `always` policy sync anyway.
   * Default `true`.
   */
  readonly sync?: boolean;
}

/** What an append returns. */
export interface AppendResult {
  /** Positions given to the records, in the order passed. Dense and increasing. */
  readonly positions: readonly Position[];
  /** Log time given to every record of the batch. */
  readonly time: number;
  /** The records as stored. */
  readonly records: readonly StoredRecord[];
}

/** Options of {@link LogStore.read}. */
export interface ReadOptions {
  /**
   * First position to read (inclusive); default the start of the log: its first retained position
   * ({@link LogStore.first}). A position before that one is `truncated`.
   */
  readonly from?: Position;
  /** Position to stop before (exclusive); default the head at the time of the call. */
  readonly to?: Position;
  readonly signal?: AbortSignal;
}

/** Options of {@link LogStore.follow}. */
export interface FollowOptions {
  /**
   * First position to deliver (inclusive); default the start of the log: its first retained position
   * ({@link LogStore.first}). A position before that one is `truncated`.
   */
  readonly from?: Position;
  /** Stops the follow: the iteration ends without error. */
  readonly signal?: AbortSignal;
}

/**
 * A fault in how a log is kept, beyond what reading its records checks: found by
 * {@link LogStore.checkStorage}, mended (where `repairable`) by {@link LogStore.repairStorage}.
 * - `start`: the first record is not at the log's first retained position (segments before it are gone);
 * - `missing-segment`: a segment the log's own bookkeeping says exists is gone (the last one, say);
 * - `gap`: positions missing between two segments;
 * - `cut-tail`: bytes removed from the end after a write had completed (committed records lost);
 * - `torn-tail`: an incomplete batch at the end, where a write was cut short by a crash;
 * - `bad-index`: an index file with a wrong entry (readers ignore it and scan).
 */
export interface StorageFinding {
  readonly kind: 'start' | 'missing-segment' | 'gap' | 'cut-tail' | 'torn-tail' | 'bad-index';
  /** The file (or key) concerned. */
  readonly file: string;
  readonly message: string;
  /** {@link LogStore.repairStorage} mends it: an index rebuilt, an incomplete tail cut. */
  readonly repairable: boolean;
}

/** A snapshot kept by a store (see {@link SnapshotKeeping}). */
export interface SnapshotInfo {
  /** The store's name for it (a file name, a key): what `snapshot.taken` records and `getSnapshot` takes. */
  readonly ref: string;
  /** Position of the last record folded into it. */
  readonly position: Position;
  /** Size of its bytes. */
  readonly bytes: number;
}

/** What the log keeps, for stats and retention. */
export interface HistorySize {
  /** First retained position: 0 until retention removed segments. */
  readonly first: Position;
  /** The next position to be assigned. */
  readonly head: Position;
  /** Bytes of records kept (segments and their indexes; snapshots excluded). */
  readonly bytes: number;
  /** Segments kept (files, streams, partitions). */
  readonly segments: number;
  /** Bytes of the snapshots kept. */
  readonly snapshotBytes: number;
}

/**
 * Retention policy: what may be removed, once a snapshot covers it. Nothing is removed unless a policy
 * says so; a segment goes only when it lies entirely before the newest snapshot AND the policy's cut.
 */
export interface RetentionPolicy {
  /** Segments whose newest record is older than this (log time, ms) may go. */
  readonly maxAgeMs?: number;
  /** Oldest segments may go while the log keeps more than this many bytes. */
  readonly maxBytes?: number;
}

/** Options of {@link SnapshotKeeping.compact}. */
export interface CompactOptions {
  /**
   * Nothing at or after this position is removed. The store lowers it to the newest usable snapshot's
   * position + 1 (or, with no usable snapshot, to the first retained position: nothing is removed), so
   * a compaction never removes records a process needs to start; the result says what it applied.
   */
  readonly keepFrom: Position;
  /** The policy to apply; default the store's own (from its URL), else nothing is removed. */
  readonly policy?: RetentionPolicy;
  /** Report what would be removed, remove nothing. */
  readonly dryRun?: boolean;
}

/** What {@link SnapshotKeeping.compact} removed (or would remove). */
export interface CompactResult {
  readonly segments: number;
  readonly bytes: number;
  /** First retained position after it. */
  readonly first: Position;
  /**
   * The limit applied: the caller's `keepFrom`, lowered to the newest usable snapshot's position + 1 (a
   * snapshot before the head whose next record the log still holds), or to the first retained position
   * when no snapshot is usable. Nothing at or after it was removed.
   */
  readonly keepFrom: Position;
}

/**
 * Snapshots and retention, kept by the store beside the log (file: a `snapshots/` folder; Redis: keys
 * under the log's prefix; Postgres: a table; memory: in the process). Snapshot bytes are opaque to the
 * store: the runtime encodes, checksums and versions them.
 */
export interface SnapshotKeeping {
  /** Stores a snapshot atomically: after a crash it is complete or absent (temp name, fsync, rename). */
  putSnapshot(position: Position, data: Uint8Array): Promise<SnapshotInfo>;
  /** The snapshots kept, newest (highest position) first. */
  listSnapshots(): Promise<SnapshotInfo[]>;
  /** @throws NotFoundError when no snapshot has the ref. */
  getSnapshot(ref: string): Promise<Uint8Array>;
  /** Removes a snapshot; true when it existed. */
  deleteSnapshot(ref: string): Promise<boolean>;
  /** The store's retention policy (from its URL: `retention=7d`, `retentionBytes=10GiB`), if any. */
  readonly retention: RetentionPolicy | undefined;
  /**
   * Removes whole segments lying entirely before `keepFrom` and the newest usable snapshot that the
   * policy lets go, safely while other processes read and follow (they move on, or get `truncated`,
   * never wrong data). With no usable snapshot nothing is removed (see {@link CompactResult.keepFrom}).
   * @throws InvalidArgumentError when `keepFrom` is not a position or the policy is malformed.
   */
  compact(options: CompactOptions): Promise<CompactResult>;
  /** What the log keeps. */
  historySize(): Promise<HistorySize>;
}

/**
 * One append-only log, with its snapshots and retention ({@link SnapshotKeeping}). Every adapter
 * (memory, filesystem, Redis, PostgreSQL) implements all of it, and one contract suite
 * (`test/contract/log-store-contract.ts`, with `retention-contract.ts`) checks them all alike.
 *
 * Positions are dense integers from 0 in append order; log time is set by the store at append and never
 * decreases. Every method raises a `closed` error after {@link close}.
 *
 * **Continuity.** Every log has an {@link identity} (a random id made at creation, and an epoch raised
 * when history is rewritten on purpose), stored with it. A handle learns it when opened and keeps the
 * highest position it has appended or delivered. A log that was lost and created again (another id,
 * or none), rewritten (another epoch), or rolled back (a head below a position the handle has seen, or
 * another record at the last position a follower delivered) is not the log the handle knew; then:
 * - {@link append} rejects with `log-diverged` and appends nothing (nothing is acknowledged into a log
 *   the caller does not know);
 * - {@link follow} and {@link read} throw `log-diverged` (followers check when they reconnect and
 *   every few seconds while idle; a divergence that happens while a follower is busy is reported at the
 *   next check, so a few records of the new log may have been delivered before it);
 * - {@link head} throws `log-diverged` when the head went below what the handle saw.
 *
 * The error is final for the handle. To go on, open a new handle: it takes the log as it now is. A
 * process that folded the old log (a worker) must start again from the new one: stop claiming, append
 * nothing more, report and exit non-zero so that a supervisor restarts it.
 */
export interface LogStore extends AsyncDisposable, SnapshotKeeping {
  /** The URL the store was opened with (`memory:`, `file:<dir>`, `redis://…`). */
  readonly url: string;
  readonly capabilities: StoreCapabilities;

  /**
   * Appends a batch atomically: all records or none, contiguous, one log time for the batch.
   * Resolves once the batch is durable per the store's policy.
   * @throws ConflictError when `expectedHead` is given and the head differs.
   * @throws InvalidArgumentError on an empty batch or a record that is not an object with a `type`.
   * @throws UnavailableError when the backend cannot be reached (nothing was appended).
   * @throws LogDivergedError when the log is not the one this handle knew (nothing was appended).
   */
  append(records: readonly RecordDraft[], options?: AppendOptions): Promise<AppendResult>;

  /**
   * Appends like {@link append}, inside a transaction of the caller's on the store's database: the
   * records are in the log if and only if that transaction commits, and followers see them at its
   * commit. `tx` is the client library's handle of the open transaction (PostgreSQL: a `pg` client
   * between `BEGIN` and `COMMIT`). Only stores on a transactional database have it.
   * @throws InvalidArgumentError when `tx` is not such a handle.
   */
  appendWith?(tx: unknown, records: readonly RecordDraft[], options?: AppendOptions): Promise<AppendResult>;

  /**
   * Copies records already stamped by another log, keeping their position, time and version. The first
   * record's position must be the head and the positions contiguous (export / import between stores).
   * @throws ConflictError when the positions do not continue the log.
   */
  replicate(records: readonly StoredRecord[]): Promise<void>;

  /**
   * Reads the records of `[from, to)` in order.
   * @throws CorruptRecordError when a stored record fails its checks (the records before it are yielded).
   */
  read(options?: ReadOptions): AsyncIterable<StoredRecord>;

  /**
   * {@link read} in chunks: the same records in the same order, in arrays of one or more as the store
   * has them at hand (a segment read, a Redis reply). One await per chunk instead of one per record,
   * which is most of the cost of a long read such as a replay.
   */
  readChunks(options?: ReadOptions): AsyncIterable<readonly StoredRecord[]>;

  /**
   * Yields every record from `from` on, then waits for new ones, forever: no gaps, no duplicates, across
   * segment rolls and other processes' appends. Ends without error when the signal aborts.
   * @throws LogDivergedError when the log is found replaced or rolled back (see Continuity).
   */
  follow(options?: FollowOptions): AsyncIterable<StoredRecord>;

  /** {@link follow} in chunks of one or more records (see {@link readChunks}); the signal is looked at between chunks. */
  followChunks(options?: FollowOptions): AsyncIterable<readonly StoredRecord[]>;

  /**
   * The first position the log holds: 0 until retention removes segments. Reads and follows from before
   * it throw `truncated` ({@link TruncatedError}) naming it.
   */
  first(): Promise<Position>;
  /**
   * The next position to be assigned (the number of records ever appended).
   * @throws LogDivergedError when the log went back below what this handle has seen.
   */
  head(): Promise<Position>;

  /**
   * The identity this handle holds: the one the log had when the handle opened it (see Continuity).
   * Two handles on the same log have the same identity; a log created anew gets another id.
   */
  identity(): Promise<LogIdentity>;

  /** Checks how the log is kept (see {@link StorageFinding}); stores that keep files have it. Reads only. */
  checkStorage?(): Promise<StorageFinding[]>;

  /**
   * Mends what {@link checkStorage} finds repairable, under the append lock: rebuilds bad indexes and cuts
   * an incomplete tail (the records in a cut tail are lost; the log's epoch is raised, so handles that
   * saw them fail with `log-diverged`). Returns what was mended.
   */
  repairStorage?(): Promise<StorageFinding[]>;

  /** Releases every handle. Safe to call twice. */
  close(): Promise<void>;
}
