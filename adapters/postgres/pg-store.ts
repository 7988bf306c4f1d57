import type pg from 'pg';
import { eachRecord } from '../../engine/each-record.js';
import type { LogIdentity } from '../../engine/continuity.js';
import { decodeRecord, encodeRecord } from '../../engine/codec.js';
import { checkDrafts, checkReplica, encodeDrafts } from '../../engine/append-batch.js';
import { ClosedError, ConflictError, InvalidArgumentError } from '../../engine/errors.js';
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
import { AppendGroups, type Placed } from './pg-append.js';
import { isUnavailable, storeError } from './pg-errors.js';
import type { PgListener } from './pg-listener.js';
import {
  createPartitions,
  ensurePartitions,
  partitionBases,
  readLogRow,
  type LogRow,
  type PgNames,
} from './pg-schema.js';
import { isMissingPartition, PgStatements, type PageRow } from './pg-statements.js';

/** Rows per page of a read or follow. */
const PAGE = 1_000;
const END = Number.MAX_SAFE_INTEGER;
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
  readonly pool: pg.Pool;
  /** Connections with `synchronous_commit` off, for appends with `sync: false`. */
  readonly asyncPool: pg.Pool;
  readonly listener: PgListener;
  readonly url: string;
  readonly names: PgNames;
  readonly row: LogRow;
  readonly capabilities: StoreCapabilities;
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
    this.#records ??= this.bodies.map((b, i) => toRecord(b, this.positions[i] as Position, this.time, ''));
    return this.#records;
  }
}

function toRecord(body: Buffer, position: Position, time: number, where: string): StoredRecord {
  const r = decodeRecord(body, where, position) as { position: number; time: number };
  r.position = position;
  r.time = time;
  return r as unknown as StoredRecord;
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
 */
export class PostgresStore implements LogStore {
  readonly url: string;
  readonly capabilities: StoreCapabilities;
  readonly #identity: LogIdentity;
  readonly segmentRecords: number;
  readonly #parts: PgStoreParts;
  readonly #sql: PgStatements;
  readonly #closing = new AbortController();
  readonly #appends: AppendGroups;
  #partitionsTo: number;
  #growing: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(parts: PgStoreParts, partitionsTo: number) {
    this.#parts = parts;
    this.url = parts.url;
    this.capabilities = parts.capabilities;
    this.#identity = { id: parts.row.logId, epoch: parts.row.epoch };
    this.segmentRecords = parts.row.segmentRecords;
    this.#sql = new PgStatements(parts.names);
    this.#partitionsTo = partitionsTo;
    this.#appends = new AppendGroups((b, m, e, sync) =>
      this.#runAppend(sync ? parts.pool : parts.asyncPool, b, m, e),
    );
  }

  /** {@inheritDoc LogStore.identity} */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so that every failure is a rejection
  async identity(): Promise<LogIdentity> {
    this.#check();
    return this.#identity;
  }

  /**
   * {@inheritDoc LogStore.append}
   * @throws UnavailableError when the server cannot be reached or the deadline passed. If the
   * connection dropped while the batch was in flight, it may have been stored: retry with
   * `expectedHead` to append it at most once.
   */
  async append(drafts: readonly RecordDraft[], options: AppendOptions = {}): Promise<AppendResult> {
    this.#check();
    const { bodies, expected } = encode(drafts, options);
    const placed = await this.#appends.submit(bodies, expected, options.sync !== false);
    if (placed === undefined) throw new ConflictError(expected ?? -1, await this.head());
    this.#growAhead(placed.first + bodies.length - 1);
    return new Appended(bodies, placed.first, placed.time);
  }

  /** One append statement, creating the partitions it lacks first if it has to. */
  async #runAppend(
    pool: pg.Pool,
    bodies: Buffer[],
    more: boolean[],
    expected: Position | undefined,
  ): Promise<Placed | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await pool.query(this.#sql.append(bodies, more, expected));
        return rows[0] as Placed | undefined;
      } catch (e) {
        if (!isMissingPartition(e) || attempt >= GROW_ATTEMPTS) throw storeError(e, 'append', this.url);
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

  async #appendOn(on: Queryable, bodies: Buffer[], expected: Position | undefined): Promise<Appended> {
    const more = bodies.map((_, i) => i < bodies.length - 1);
    const { rows } = await on.query(this.#sql.append(bodies, more, expected));
    const row = rows[0] as { first: number; time: number } | undefined;
    if (row === undefined) throw new ConflictError(expected ?? -1, await this.head());
    return new Appended(bodies, row.first, row.time);
  }

  /** {@inheritDoc LogStore.replicate} */
  async replicate(records: readonly StoredRecord[]): Promise<void> {
    this.#check();
    const from = checkReplica(records);
    if (from === undefined) return;
    const bodies = records.map((r) => encodeRecord(r));
    const times = records.map((r) => r.time);
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await this.#parts.pool.query(this.#sql.replicate(from, bodies, times));
        if (rows.length === 0) throw new ConflictError(from, await this.head());
        this.#growAhead(from + records.length);
        return;
      } catch (e) {
        if (!isMissingPartition(e) || attempt >= GROW_ATTEMPTS) throw storeError(e, 'replicate', this.url);
        await this.#grow(bodies.length);
      }
    }
  }

  /** {@inheritDoc LogStore.read} */
  read(options: ReadOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.readChunks(options));
  }

  /** {@inheritDoc LogStore.readChunks} */
  async *readChunks(options: ReadOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    let next = checkPosition('from', options.from ?? 0);
    const to = options.to === undefined ? undefined : checkPosition('to', options.to);
    const end = Math.min(to ?? END, await this.head());
    const stop = (): boolean => options.signal?.aborted === true || this.#closed !== undefined;
    while (next < end && !stop()) {
      const chunk = await this.#page(next, end);
      if (chunk.length === 0) return;
      yield chunk;
      next = (chunk.at(-1)?.position ?? next) + 1;
    }
  }

  /**
   * {@inheritDoc LogStore.follow}
   * Starts at the first kept position when `from` was dropped by retention. While the server is away
   * a follower waits and reads again, so it resumes by itself.
   */
  follow(options: FollowOptions = {}): AsyncIterable<StoredRecord> {
    return eachRecord(this.followChunks(options));
  }

  /** {@inheritDoc LogStore.followChunks} */
  async *followChunks(options: FollowOptions = {}): AsyncIterable<readonly StoredRecord[]> {
    this.#check();
    let next = checkPosition('from', options.from ?? 0);
    const closing = this.#closing.signal;
    const signal = options.signal ? AbortSignal.any([options.signal, closing]) : closing;
    const { listener } = this.#parts;
    listener.start();
    while (!signal.aborted) {
      const seen = listener.version;
      let chunk: StoredRecord[] | undefined;
      try {
        chunk = await untilAborted(this.#page(next, END), signal);
      } catch (e) {
        if (aborted(signal)) return;
        if (!isUnavailable(e)) throw e;
        await listener.notifier.wait(signal, listener.pollMs);
        continue;
      }
      if (chunk === undefined) return;
      if (chunk.length > 0) {
        yield chunk;
        next = (chunk.at(-1)?.position ?? next) + 1;
        continue;
      }
      if (listener.version === seen) await listener.notifier.wait(signal, listener.pollMs);
    }
  }

  /** Reads a page; only the contiguous run from its first row (a defence: commits are in order). */
  async #page(from: Position, to: Position): Promise<StoredRecord[]> {
    const { rows } = await this.#query('read', this.#sql.page(from, to, PAGE));
    const out: StoredRecord[] = [];
    for (const row of rows as PageRow[]) {
      const last = out.at(-1);
      if (last !== undefined && row.position !== last.position + 1) break;
      out.push(toRecord(row.body, row.position, row.time, this.#parts.names.tableName));
    }
    return out;
  }

  /** {@inheritDoc LogStore.head} */
  async head(): Promise<Position> {
    const { rows } = await this.#query('head', this.#sql.head());
    return (rows[0] as { head: number } | undefined)?.head ?? 0;
  }

  /** The first position still kept (retention drops whole partitions before it). */
  async first(): Promise<Position> {
    const { rows } = await this.#query('first', this.#sql.head());
    return (rows[0] as { first: number } | undefined)?.first ?? 0;
  }

  /** The bases of the log's partitions (its segments), oldest first. */
  async segments(): Promise<number[]> {
    this.#check();
    return partitionBases(this.#parts.pool, this.#parts.names).catch((e: unknown) => {
      throw storeError(e, 'segments', this.url);
    });
  }

  /**
   * Retention: drops the partitions whose records all lie before `position` (and before the head).
   * Reads and follows from an earlier position then start at the first kept one.
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
      throw storeError(e, what, this.url);
    }
  }

  #check(): void {
    if (this.#closed !== undefined) throw new ClosedError(`store ${this.url}`);
  }
}

/** The promise's value, or undefined as soon as the signal aborts (a read on a hung server is left behind). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = (): void => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
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
