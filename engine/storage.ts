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
  /** First position to read (inclusive); default the start of the log. */
  readonly from?: Position;
  /** Position to stop before (exclusive); default the head at the time of the call. */
  readonly to?: Position;
  readonly signal?: AbortSignal;
}

/** Options of {@link LogStore.follow}. */
export interface FollowOptions {
  /** First position to deliver (inclusive); default the start of the log. */
  readonly from?: Position;
  /** Stops the follow: the iteration ends without error. */
  readonly signal?: AbortSignal;
}

/**
 * One append-only log. Every adapter (memory, filesystem, Redis) implements this, and one contract
 * suite (`test/contract/log-store-contract.ts`) checks them all alike.
 *
 * Positions are dense integers from 0 in append order; log time is set by the store at append and never
 * decreases. Every method raises a `closed` error after {@link close}.
 */
export interface LogStore extends AsyncDisposable {
  /** The URL the store was opened with (`memory:`, `file:<dir>`, `redis://…`). */
  readonly url: string;
  readonly capabilities: StoreCapabilities;

  /**
   * Appends a batch atomically: all records or none, contiguous, one log time for the batch.
   * Resolves once the batch is durable per the store's policy.
   * @throws ConflictError when `expectedHead` is given and the head differs.
   * @throws InvalidArgumentError on an empty batch or a record that is not an object with a `type`.
   * @throws UnavailableError when the backend cannot be reached (nothing was appended).
   */
  append(records: readonly RecordDraft[], options?: AppendOptions): Promise<AppendResult>;

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
   */
  follow(options?: FollowOptions): AsyncIterable<StoredRecord>;

  /** {@link follow} in chunks of one or more records (see {@link readChunks}); the signal is looked at between chunks. */
  followChunks(options?: FollowOptions): AsyncIterable<readonly StoredRecord[]>;

  /** The next position to be assigned (the number of records ever appended). */
  head(): Promise<Position>;

  /** Releases every handle. Safe to call twice. */
  close(): Promise<void>;
}
