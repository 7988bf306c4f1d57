import type pg from 'pg';
import { eachRecord } from '../../engine/each-record.js';
import { Continuity, type LogIdentity } from '../../engine/continuity.js';
import { decodeRecord, encodeRecord } from '../../engine/codec.js';
import { checkDrafts, checkReplica, encodeDrafts } from '../../engine/append-batch.js';
import { ClosedError, InvalidArgumentError, isEventyError, TruncatedError } from '../../engine/errors.js';
import { compactStore } from '../../engine/retention.js';
import { checkPosition, type Position } from '../../engine/position.js';
import { stamp, type StoredRecord, type RecordDraft } from '../../engine/records.js';
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
import { AppendGroups, type Placed, type Refused } from './pg-append.js';
import { checkMeta, isMissingTable, refusedAppend } from './pg-continuity.js';
import { storeError } from './pg-errors.js';
import { Flusher } from './pg-flush.js';
import { contiguous, END, followPages, OwnAppends, PAGE, toRecord, type Page } from './pg-follow.js';
import type { PgListener } from './pg-listener.js';
import {
  deletePgSnapshot,
  getPgSnapshot,
  listPgSnapshots,
  partitions,
  planPgCompaction,
  putPgSnapshot,
  type PgRetentionContext,
} from './pg-retention.js';
import {
  createPartitions,
  ensurePartitions,
  partitionBases,
  readLogRow,
  type LogRow,
  type PgNames,
} from './pg-schema.js';
import { isMissingPartition, pageOf, PgStatements, type MetaRow } from './pg-statements.js';
/**
 * Times an append retries after creating the partitions it lacked. Each try creates what the head then
 * needs, but concurrent appenders may run past it again before the retry (with small segments).
 */
const GROW_ATTEMPTS = 100;

/** Anything that runs a `pg` query: a `Client`, a `PoolClient` or a `Pool`. */
export interface Queryable {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

/** How a {@link PostgresStore} is wired; made by `openPostgresStore`. */
export interface PgStoreParts {
  /** Connections for reads and flushes (the server's `synchronous_commit`). */
  readonly pool: pg.Pool;
  /** Connections with `synchronous_commit` off, for appends (see `Flusher`). */
  readonly asyncPool: pg.Pool;
  readonly listener: PgListener;
  readonly url: string;
  readonly names: PgNames;
  readonly row: LogRow;
  readonly capabilities: StoreCapabilities;
  readonly retention: RetentionPolicy | undefined;
}

/** An append's result whose records are decoded on first use (most callers read only positions). */
class Appended implements AppendResult {
  readonly positions: Position[];
  #records: StoredRecord[] | undefined;
  constructor(
    private readonly bodies: readonly Buffer[],
    first: Position,
    readonly time: number,
  ) {
    this.positions = bodies.map((_, i) => first + i);
  }
  get records(): StoredRecord[] {
    this.#records ??= this.bodies.map((b, i) => {
      const r = decodeRecord(b, '', this.positions[i] as Position) as { position: number; time: number };
      r.position = this.positions[i] as Position;
      r.time = this.time;
      return r as unknown as StoredRecord;
    });
    return this.#records;
  }
}

/**
 * A log in PostgreSQL: one row per log in `<schema>.eventy_logs` (identity, head, first kept position,
 * last log time) and a table `<schema>.log_<name>` partitioned by position range, one partition per
 * segment (`position`, `time`, `more` — further records of the batch follow —, the record's CBOR).
 *
 * An append is one statement (see `PgStatements`): dense, gap-free positions from the head row, the
 * batch in one transaction, log time from the server's clock never going back, a NOTIFY at commit.
 * Followers are woken by LISTEN on one shared connection and poll as a fallback. Every call has a
 * deadline (`timeout`), after which it fails with `unavailable`.
 *
 * Continuity (see `LogStore`): the handle keeps the identity (id, epoch) the log's row had when it
 * opened and the highest position it appended or delivered. An append matches both in its `UPDATE` of
 * the row, so nothing is appended to a log recreated or rolled back; every read and follow page comes
 * with the log's row from the same snapshot, and a follower rereads its last delivered row with each
 * page. Dropped tables, another id or epoch, a lower head or another last record: `log-diverged`.
 */
export class PostgresStore implements LogStore {
  readonly url: string;
  readonly capabilities: StoreCapabilities;
  readonly #continuity: Continuity;
  readonly segmentRecords: number;
  readonly #parts: PgStoreParts;
  readonly #sql: PgStatements;
  readonly #closing = new AbortController();
  readonly #appends: AppendGroups;
  readonly #flusher: Flusher;
  readonly #own: OwnAppends;
  #partitionsTo: number;
  #growing: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(parts: PgStoreParts, partitionsTo: number) {
    this.#parts = parts;
    this.url = parts.url;
    this.capabilities = parts.capabilities;
    this.#continuity = new Continuity(parts.url, { id: parts.row.logId, epoch: parts.row.epoch });
    this.segmentRecords = parts.row.segmentRecords;
    this.#sql = new PgStatements(parts.names);
    this.#partitionsTo = partitionsTo;
    this.#own = new OwnAppends(parts.listener);
    this.#appends = new AppendGroups((b, m, e, synced) => this.#runAppend(b, m, e, synced));
    this.#flusher = new Flusher(async () => {
      const { rows } = await this.#query('flush', this.#sql.flush());
      const row = rows[0] as { head: number } | undefined;
      if (row === undefined) this.#continuity.checkIdentity(undefined);
      return row?.head ?? 0;
    });
  }

  /** {@inheritDoc LogStore.identity} */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async identity(): Promise<LogIdentity> {
    this.#check();
    return this.#continuity.identity;
  }

  /**
   * {@inheritDoc LogStore.append}
   * @throws UnavailableError when the server cannot be reached or the deadline passed. If the
   * connection dropped while the batch was in flight, it may have been stored: retry with
   * `expectedHead` to append it at most once.
   * @throws LogDivergedError when the log is not the one this handle knew (nothing was appended).
   */
  async append(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#check();
    const { bodies, expected } = encode(drafts, options);
    this.#continuity.checkNotDiverged();
    const placed = await this.#appends.submit(bodies, expected, options.sync !== false);
    if (!('first' in placed))
      throw refusedAppend(this.#continuity, await this.#meta(), placed.least, expected);
    this.#own.add(placed.first, placed.time, placed.synced ?? true, bodies);
    this.#parts.listener.poke(placed.first + bodies.length);
    // Committed, not yet flushed: an unsynced batch is acknowledged now (a crash of the server may lose
    // it, so it does not count as seen), a synced one once a flush covered it.
    if (options.sync !== false) {
      await this.#flusher.flush();
      this.#continuity.saw(placed.first + bodies.length);
    }
    this.#growAhead(placed.first + bodies.length - 1);
    return new Appended(bodies, placed.first, placed.time);
  }

  /** One append statement, creating the partitions it lacks first if it has to. */
  async #runAppend(
    bodies: Buffer[],
    more: boolean[],
    expected: Position | undefined,
    synced: boolean,
  ): Promise<Placed | Refused> {
    // The least head the log may have: what this handle had seen when the statement went. The commit
    // does not wait for the WAL flush (`asyncPool`): the head row is held for the statement alone.
    const least = this.#continuity.seen;
    const { identity } = this.#continuity;
    const statement = this.#sql.append(bodies, more, expected, identity, least, synced);
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await this.#parts.asyncPool.query(statement);
        return (rows[0] as Placed | undefined) ?? { least };
      } catch (e) {
        if (!isMissingPartition(e) || attempt >= GROW_ATTEMPTS) throw this.#failure(e, 'append');
        await this.#grow(bodies.length);
      }
    }
  }

  /**
   * Appends in the caller's transaction, on the caller's `pg` client (inside `BEGIN` … `COMMIT`, at
   * READ COMMITTED): the records are in the log if and only if that transaction commits, and followers
   * see them at its commit. The log's head row stays locked until then, so every other appender waits
   * for that commit: keep such transactions short. Throws the client's errors as they are (the
   * transaction is the caller's), except that a batch that needs a new partition creates it in the
   * caller's transaction.
   * @throws ConflictError when `expectedHead` is given and the head differs (the transaction goes on).
   * @throws LogDivergedError when the log is not the one this handle knew (the transaction goes on).
   * @example
   * await client.query('BEGIN');
   * await client.query('INSERT INTO orders …');
   * await store.appendWith(client, [{ type: 'event.published', … }]);
   * await client.query('COMMIT');
   */
  async appendWith(
    client: pg.ClientBase,
    drafts: readonly RecordDraft[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    this.#check();
    const given: unknown = client;
    if (typeof (given as Partial<pg.ClientBase> | null)?.query !== 'function') {
      throw new InvalidArgumentError(
        `appendWith needs a pg client inside a transaction (BEGIN … COMMIT), got: ${given === null ? 'null' : typeof given}`,
      );
    }
    const { bodies, expected } = encode(drafts, options);
    await client.query('SAVEPOINT eventy_append');
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.#appendOn(client, bodies, expected);
        await client.query('RELEASE SAVEPOINT eventy_append');
        this.#growAhead(result.positions.at(-1) ?? 0);
        return result;
      } catch (e) {
        await client.query('ROLLBACK TO SAVEPOINT eventy_append');
        if (!isMissingPartition(e) || attempt >= GROW_ATTEMPTS) {
          await client.query('RELEASE SAVEPOINT eventy_append');
          throw e;
        }
        const { head } = await readLogRow(client, this.#parts.names);
        await createPartitions(client, this.#parts.names, this.segmentRecords, head + bodies.length);
      }
    }
  }

  /**
   * One append in the caller's transaction. The handle does not count its positions as seen: the
   * transaction may still roll back, and then they are appended by someone else.
   */
  async #appendOn(on: Queryable, bodies: Buffer[], expected: Position | undefined): Promise<Appended> {
    this.#continuity.checkNotDiverged();
    const more = bodies.map((_, i) => i < bodies.length - 1);
    const least = this.#continuity.seen;
    const { rows } = await on.query(
      // The caller's transaction commits as the caller's session does: its rows count as synced.
      this.#sql.append(bodies, more, expected, this.#continuity.identity, least, true),
    );
    const row = rows[0] as Placed | undefined;
    if (row === undefined) {
      const meta = (await on.query(this.#sql.head())).rows[0] as MetaRow | undefined;
      throw refusedAppend(this.#continuity, meta, least, expected);
    }
    return new Appended(bodies, row.first, row.time);
  }

  /** {@inheritDoc LogStore.replicate} */
  async replicate(records: readonly StoredRecord[]): Promise<void> {
    this.#check();
    const from = checkReplica(records);
    if (from === undefined) return;
    const bodies = records.map((r) => encodeRecord(r));
    const times = records.map((r) => r.time);
    this.#continuity.checkNotDiverged();
    const statement = this.#sql.replicate(from, bodies, times, this.#continuity.identity);
    for (let attempt = 0; ; attempt++) {
      let rows: unknown[];
      try {
        rows = (await this.#parts.pool.query(statement)).rows;
      } catch (e) {
        if (!isMissingPartition(e) || attempt >= GROW_ATTEMPTS) throw this.#failure(e, 'replicate');
        await this.#grow(bodies.length);
        continue;
      }
      if (rows.length === 0) {
        throw refusedAppend(this.#continuity, await this.#meta(), this.#continuity.seen, from);
      }
      await this.#flusher.flush();
      this.#continuity.saw(from + records.length);
      this.#growAhead(from + records.length);
      return;
    }
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
    const seenAtStart = this.#continuity.seen;
    const start = await this.#meta();
    checkMeta(this.#continuity, start, seenAtStart);
    let next = options.from ?? start.first;
    const end = Math.min(to ?? END, start.head);
    const stop = (): boolean => options.signal?.aborted === true || this.#closed !== undefined;
    while (next < end && !stop()) {
      const seen = this.#continuity.seen;
      const { rows, meta } = await this.#page(next, end, PAGE);
      checkMeta(this.#continuity, meta, seen);
      if (next < meta.first) throw new TruncatedError(this.url, next, meta.first);
      const run = contiguous(rows, next);
      const last = run.at(-1);
      if (last === undefined) return;
      const synced = run.findLast((row) => row.synced);
      if (synced !== undefined) await this.#durable(synced.position);
      this.#continuity.saw(last.position + 1);
      yield run.map((row) => toRecord(row, this.#parts.names.tableName));
      next = last.position + 1;
    }
  }

  /**
   * {@inheritDoc LogStore.follow}
   * While the server is away
   * a follower waits and reads again, so it resumes by itself.
   */
  follow(options: FollowOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.followChunks(options));
  }

  /** {@inheritDoc LogStore.followChunks} */
  async *followChunks(options: FollowOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    this.#continuity.checkNotDiverged();
    const from = options.from === undefined ? undefined : checkPosition('from', options.from);
    const closing = this.#closing.signal;
    const signal = options.signal ? AbortSignal.any([options.signal, closing]) : closing;
    yield* followPages(
      {
        listener: this.#parts.listener,
        continuity: this.#continuity,
        where: this.#parts.names.tableName,
        page: (f, t, limit) => this.#page(f, t, limit),
        durable: (p) => this.#durable(p),
        own: (p) => this.#own.get(p),
      },
      from,
      signal,
    );
  }

  /** Up to `limit` rows of `[from, to)` and the log's row, in one snapshot. */
  async #page(from: Position, to: Position, limit: number): Promise<Page> {
    const { rows } = await this.#query('read', this.#sql.page(from, to, limit));
    return pageOf(rows);
  }

  /**
   * Resolves once `position` is on disk: at once for one below the last flush's head, else after a
   * flush (appends commit without waiting for it; nothing is read out before it is durable).
   */
  async #durable(position: Position): Promise<void> {
    if (position >= this.#flusher.durable) await this.#flusher.flush();
  }

  /** The log's row (undefined when it is gone), unchecked. */
  async #meta(): Promise<MetaRow | undefined> {
    const { rows } = await this.#query('head', this.#sql.head());
    return rows[0] as MetaRow | undefined;
  }

  /** {@inheritDoc LogStore.head} */
  async head(): Promise<Position> {
    const seen = this.#continuity.seen;
    const meta = await this.#meta();
    checkMeta(this.#continuity, meta, seen);
    return meta.head;
  }

  /** The first position still kept (retention drops whole partitions before it). */
  async first(): Promise<Position> {
    const seen = this.#continuity.seen;
    const meta = await this.#meta();
    checkMeta(this.#continuity, meta, seen);
    return meta.first;
  }

  /** The bases of the log's partitions (its segments), oldest first. */
  async segments(): Promise<number[]> {
    this.#check();
    return partitionBases(this.#parts.pool, this.#parts.names).catch((e: unknown) => {
      throw storeError(e, 'segments', this.url);
    });
  }

  /** {@inheritDoc SnapshotKeeping.retention} */
  get retention(): RetentionPolicy | undefined {
    return this.#parts.retention;
  }

  putSnapshot(position: Position, data: Uint8Array): Promise<SnapshotInfo> {
    return this.#retained('put snapshot', (ctx) => putPgSnapshot(ctx, position, data));
  }

  listSnapshots(): Promise<SnapshotInfo[]> {
    return this.#retained('list snapshots', listPgSnapshots);
  }

  getSnapshot(ref: string): Promise<Uint8Array> {
    return this.#retained('get snapshot', (ctx) => getPgSnapshot(ctx, ref));
  }

  deleteSnapshot(ref: string): Promise<boolean> {
    return this.#retained('delete snapshot', (ctx) => deletePgSnapshot(ctx, ref));
  }

  /** {@inheritDoc SnapshotKeeping.compact} Drops whole partitions (see {@link dropSegmentsBefore}). */
  compact(options: CompactOptions): Promise<CompactResult> {
    return compactStore(this, options, {
      plan: async (keepFrom, policy) => {
        const log = { first: await this.first(), head: await this.head() };
        return this.#retained('compact', (ctx) => planPgCompaction(ctx, log, keepFrom, policy));
      },
      remove: async (first) => {
        await this.dropSegmentsBefore(first);
      },
    });
  }

  async historySize(): Promise<HistorySize> {
    const first = await this.first();
    const head = await this.head();
    const parts = await this.#retained('history size', (ctx) => partitions(ctx, first, head));
    const snaps = await this.listSnapshots();
    return {
      first,
      head,
      bytes: parts.reduce((sum, p) => sum + p.bytes, 0),
      segments: parts.length,
      snapshotBytes: snaps.reduce((sum, s) => sum + s.bytes, 0),
    };
  }

  async #retained<T>(what: string, run: (ctx: PgRetentionContext) => Promise<T>): Promise<T> {
    this.#check();
    const ctx = { pool: this.#parts.pool, names: this.#parts.names, segmentRecords: this.segmentRecords };
    try {
      return await run(ctx);
    } catch (e) {
      if (isEventyError(e)) throw e;
      throw storeError(e, what, this.url);
    }
  }

  /**
   * Retention without a policy: drops the partitions whose records all lie before `position` (and
   * before the head). Reads and follows from an earlier position then fail with `truncated`. It does not
   * look at snapshots ({@link compact} does): a position past the newest one leaves a log no process can
   * start from.
   * @returns how many partitions were dropped and the first position kept.
   */
  async dropSegmentsBefore(position: Position): Promise<{ dropped: number; first: Position }> {
    this.#check();
    const cut = checkPosition('position', position);
    const { names } = this.#parts;
    const client = await this.#connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(${names.ddlLock})`);
      const { head, first } = await readLogRow(client, names);
      const limit = Math.min(cut, head);
      const drop = (await partitionBases(client, names)).filter((b) => b + this.segmentRecords <= limit);
      // Partitions first, the head row after: an appender takes the table's lock before the row's.
      for (const base of drop) await client.query(`DROP TABLE ${names.partition(base)}`);
      const kept = Math.max(first, ...drop.map((b) => b + this.segmentRecords));
      await client.query(`UPDATE ${names.logs} SET first = $2 WHERE name = $1`, [names.log, kept]);
      await client.query('COMMIT');
      return { dropped: drop.length, first: kept };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw storeError(e, 'dropSegmentsBefore', this.url);
    } finally {
      client.release();
    }
  }

  /** Closes the pool and the LISTEN connection; followers end. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    await this.#parts.listener.close();
    await this.#growing?.catch(() => undefined);
    await Promise.all(
      [this.#parts.pool.end(), this.#parts.asyncPool.end()].map((p) => p.catch(() => undefined)),
    );
  }

  /** Keeps one partition ahead of the head, in the background, so appends rarely wait for DDL. */
  #growAhead(last: Position): void {
    if (last + 1 + this.segmentRecords <= this.#partitionsTo || this.#growing !== undefined) return;
    this.#growing = this.#grow(0)
      .catch(() => undefined)
      .finally(() => (this.#growing = undefined));
  }

  /** Creates partitions up to one segment past the head plus `more` records. */
  async #grow(more: number): Promise<void> {
    const client = await this.#connect();
    try {
      const { head } = await readLogRow(client, this.#parts.names);
      const upTo = head + more + this.segmentRecords;
      this.#partitionsTo = await ensurePartitions(client, this.#parts.names, this.segmentRecords, upTo);
    } finally {
      client.release();
    }
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#parts.pool.connect();
    } catch (e) {
      throw storeError(e, 'connect', this.url);
    }
  }

  async #query(what: string, config: pg.QueryConfig): Promise<pg.QueryResult> {
    this.#check();
    try {
      return await this.#parts.pool.query(config);
    } catch (e) {
      throw this.#failure(e, what);
    }
  }

  /** A failed statement as the error to throw: `log-diverged` when the log's tables are gone. */
  #failure(e: unknown, what: string): unknown {
    if (isMissingTable(e)) {
      try {
        this.#continuity.checkIdentity(undefined);
      } catch (diverged) {
        return diverged;
      }
    }
    return storeError(e, what, this.url);
  }

  #check(): void {
    if (this.#closed !== undefined) throw new ClosedError(`store ${this.url}`);
  }
}

function encode(
  drafts: readonly RecordDraft[],
  options: AppendOptions,
): { bodies: Buffer[]; expected: Position | undefined } {
  checkDrafts(drafts);
  const { expectedHead } = options;
  const expected = expectedHead === undefined ? undefined : checkPosition('expectedHead', expectedHead);
  // Position and time are the row's columns; the body carries zeros in their place.
  return { bodies: encodeDrafts(drafts, (d) => encodeRecord(stamp(d, 0, 0))), expected };
}
