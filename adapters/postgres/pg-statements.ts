import pg, { type CustomTypesConfig, type QueryArrayConfig, type QueryConfig } from 'pg';
import type { LogIdentity } from '../../engine/continuity.js';
import type { Position } from '../../engine/position.js';
import { boolArray, byteaArray } from './pg-binary.js';
import type { PgNames } from './pg-schema.js';

const NOW_MS = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** The statements of one log, as named (prepared once per connection) `pg` queries. */
export class PgStatements {
  readonly #append: string;
  readonly #replicate: string;
  readonly #page: string;
  readonly #head: string;
  readonly #flush: string;

  constructor(readonly names: PgNames) {
    const n = names;
    // One statement, so one implicit transaction: the head row's update takes its row lock, which
    // orders every appender of every process until commit, so positions are dense and commits happen in
    // position order (a reader never sees a later batch without the earlier ones). The log time is the
    // server's clock, never below the last batch's. The NOTIFY is sent at commit. The row must still
    // be the log the handle knows (its id and epoch, a head not below what the handle saw): else no row.
    this.#append = `WITH h AS (
      UPDATE ${n.logs} SET head = head + $1, last_time = greatest(last_time, ${NOW_MS})
      WHERE name = $2 AND ($3::bigint IS NULL OR head = $3::bigint)
        AND log_id = $6::uuid AND epoch = $7::bigint AND head >= $8::bigint
      RETURNING head - $1 AS first, last_time AS time
    ), ins AS (
      INSERT INTO ${n.table} (position, time, more, synced, body)
      SELECT h.first + i.ord - 1, h.time, i.more, $9::bool, i.body
      FROM h, unnest($4::bytea[], $5::bool[]) WITH ORDINALITY AS i(body, more, ord)
    )
    SELECT first::float8 AS first, time::float8 AS time, pg_notify('${n.channel}', (first + $1)::text) FROM h`;
    this.#replicate = `WITH h AS (
      UPDATE ${n.logs} SET head = head + $1, last_time = greatest(last_time, $4::bigint)
      WHERE name = $2 AND head = $3::bigint AND log_id = $7::uuid AND epoch = $8::bigint
      RETURNING head - $1 AS first
    ), ins AS (
      INSERT INTO ${n.table} (position, time, more, body)
      SELECT h.first + i.ord - 1, i.time, false, i.body
      FROM h, unnest($5::bytea[], $6::bigint[]) WITH ORDINALITY AS i(body, time, ord)
    )
    SELECT first::float8 AS first, pg_notify('${n.channel}', (first + $1)::text) FROM h`;
    // The rows and the log's row in one snapshot: the log checked with what is read from it.
    // Positions are dense, so the page is the range [from, from + limit): bounded, whatever the
    // planner's estimates, never a scan to the end of the log. Ordered by the column, not by the
    // float8 output of the same name (which would sort every row read instead of walking the key).
    this.#page = `(SELECT r.position, r.time, r.synced, r.body, NULL::uuid AS id, NULL::bigint AS epoch,
        NULL::bigint AS head, NULL::bigint AS first
      FROM ${n.table} r WHERE r.position >= $1 AND r.position < least($2::bigint, $1::bigint + $3::bigint)
      ORDER BY r.position)
      UNION ALL
      SELECT NULL, NULL, NULL, NULL, log_id, epoch, head, first
      FROM ${n.logs} WHERE name = $4`;
    // Writes a (transactional) logical message, so that its commit, synchronous, writes a record and
    // waits for the WAL to be flushed up to it: every commit visible to its snapshot is then on disk.
    // (A transaction id alone writes nothing and would commit without a flush.)
    this.#flush = `SELECT pg_logical_emit_message(true, 'eventy.flush', '')::text AS lsn, head::float8 AS head
      FROM ${n.logs} WHERE name = $1`;
    this.#head = `SELECT head::float8 AS head, first::float8 AS first, log_id::text AS id, epoch::float8 AS epoch
      FROM ${n.logs} WHERE name = $1`;
  }

  /**
   * Appends `bodies` in one transaction, `more` false at the end of each batch; no row when `expected`
   * is given and the head is elsewhere, or the log is not `identity` or its head is below `least`.
   */
  append(
    bodies: readonly Buffer[],
    more: readonly boolean[],
    expected: Position | undefined,
    identity: LogIdentity,
    least: Position,
    synced: boolean,
  ): QueryConfig {
    return {
      name: `eventy_append_${this.names.tag}`,
      text: this.#append,
      values: [
        bodies.length,
        this.names.log,
        expected ?? null,
        byteaArray(bodies),
        boolArray(more),
        identity.id,
        identity.epoch,
        least,
        synced,
      ],
    };
  }

  /**
   * Copies stamped records whose first position is `from`; no row when the head is elsewhere or the log
   * is not `identity`.
   */
  replicate(
    from: Position,
    bodies: readonly Buffer[],
    times: readonly number[],
    identity: LogIdentity,
  ): QueryConfig {
    return {
      name: `eventy_replicate_${this.names.tag}`,
      text: this.#replicate,
      values: [
        bodies.length,
        this.names.log,
        from,
        Math.max(...times),
        bodies,
        times,
        identity.id,
        identity.epoch,
      ],
    };
  }

  /**
   * The rows of `[from, min(to, from + limit))`, in position order, and the log's row ({@link MetaRow}:
   * `id` not null), in one snapshot. (No rows when `from` was dropped by retention: start at `first`.)
   */
  page(from: Position, to: Position, limit: number): QueryArrayConfig {
    return {
      name: `eventy_page_${this.names.tag}`,
      text: this.#page,
      values: [from, to, limit, this.names.log],
      // Rows as arrays of the columns' text, converted by pageOf: no object per row, no type parser
      // per column (the hot path of every follower: one row per record read).
      rowMode: 'array',
      types: TEXT_COLUMNS,
    };
  }

  /** A synchronous commit that flushes the WAL past every commit it sees; returns the head it saw. */
  flush(): QueryConfig {
    return { name: `eventy_flush_${this.names.tag}`, text: this.#flush, values: [this.names.log] };
  }

  /** The log's row: head, first kept position, identity ({@link MetaRow}). */
  head(): QueryConfig {
    return { name: `eventy_head_${this.names.tag}`, text: this.#head, values: [this.names.log] };
  }
}

/** pg's own bytea parser: hex (`\x…`), or the escape format a server's `bytea_output` may set. */
const parseBytea = pg.types.getTypeParser(pg.types.builtins.BYTEA, 'text') as (text: string) => Buffer;

/** Type "parsers" that keep every column's text (see {@link pageOf}). */
const TEXT_COLUMNS = { getTypeParser: () => (text: string) => text } as unknown as CustomTypesConfig;

/**
 * The rows of a page query (as arrays of column texts) as records' rows and the log's row (the one
 * with an id).
 */
export function pageOf(rows: readonly (readonly (string | null)[])[]): {
  rows: PageRow[];
  meta: MetaRow | undefined;
} {
  const out: PageRow[] = [];
  let meta: MetaRow | undefined;
  for (const row of rows) {
    const id = row[4];
    if (id === null || id === undefined) {
      out.push({
        position: Number(row[0]),
        time: Number(row[1]),
        synced: row[2] === 't',
        body: parseBytea(row[3] as string),
      });
    } else {
      meta = { id, epoch: Number(row[5]), head: Number(row[6]), first: Number(row[7]) };
    }
  }
  return { rows: out, meta };
}

/** The row of a read. */
export interface PageRow {
  readonly position: number;
  readonly time: number;
  /** False for a row of an append that did not wait for the WAL flush (`sync: false`). */
  readonly synced: boolean;
  readonly body: Buffer;
}

/** The log's row as the head and page statements return it. */
export interface MetaRow {
  readonly id: string;
  readonly epoch: number;
  readonly head: number;
  readonly first: number;
}

/** SQLSTATE of an insert that found no partition for its position (the log grew past its partitions). */
export function isMissingPartition(e: unknown): boolean {
  return (
    (e as { code?: unknown } | null)?.code === '23514' &&
    /no partition/i.test((e as { message?: unknown }).message as string)
  );
}
