import type { QueryConfig } from 'pg';
import type { Position } from '../../engine/position.js';
import type { PgNames } from './pg-schema.js';

const NOW_MS = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** The statements of one log, as named (prepared once per connection) `pg` queries. */
export class PgStatements {
  readonly #append: string;
  readonly #replicate: string;
  readonly #page: string;
  readonly #head: string;

  constructor(readonly names: PgNames) {
    const n = names;
    // One statement, so one implicit transaction: the head row's update takes its row lock, which
    // orders every appender of every process until commit, so positions are dense and commits happen in
    // position order (a reader never sees a later batch without the earlier ones). The log time is the
    // server's clock, never below the last batch's. The NOTIFY is sent at commit.
    this.#append = `WITH h AS (
      UPDATE ${n.logs} SET head = head + $1, last_time = greatest(last_time, ${NOW_MS})
      WHERE name = $2 AND ($3::bigint IS NULL OR head = $3::bigint)
      RETURNING head - $1 AS first, last_time AS time
    ), ins AS (
      INSERT INTO ${n.table} (position, time, more, body)
      SELECT h.first + i.ord - 1, h.time, i.more, i.body
      FROM h, unnest($4::bytea[], $5::bool[]) WITH ORDINALITY AS i(body, more, ord)
    )
    SELECT first::float8 AS first, time::float8 AS time, pg_notify('${n.channel}', (first + $1)::text) FROM h`;
    this.#replicate = `WITH h AS (
      UPDATE ${n.logs} SET head = head + $1, last_time = greatest(last_time, $4::bigint)
      WHERE name = $2 AND head = $3::bigint
      RETURNING head - $1 AS first
    ), ins AS (
      INSERT INTO ${n.table} (position, time, more, body)
      SELECT h.first + i.ord - 1, i.time, false, i.body
      FROM h, unnest($5::bytea[], $6::bigint[]) WITH ORDINALITY AS i(body, time, ord)
    )
    SELECT first::float8 AS first, pg_notify('${n.channel}', (first + $1)::text) FROM h`;
    this.#page = `SELECT position::float8 AS position, time::float8 AS time, body FROM ${n.table}
      WHERE position >= $1 AND position < $2 ORDER BY position LIMIT $3`;
    this.#head = `SELECT head::float8 AS head, first::float8 AS first FROM ${n.logs} WHERE name = $1`;
  }

  /**
   * Appends `bodies` in one transaction, `more` false at the end of each batch; no row when `expected`
   * is given and the head is elsewhere.
   */
  append(bodies: readonly Buffer[], more: readonly boolean[], expected: Position | undefined): QueryConfig {
    return {
      name: `eventy_append_${this.names.tag}`,
      text: this.#append,
      values: [bodies.length, this.names.log, expected ?? null, bodies, more],
    };
  }

  /** Copies stamped records whose first position is `from`; no row when the head is elsewhere. */
  replicate(from: Position, bodies: readonly Buffer[], times: readonly number[]): QueryConfig {
    return {
      name: `eventy_replicate_${this.names.tag}`,
      text: this.#replicate,
      values: [bodies.length, this.names.log, from, Math.max(...times), bodies, times],
    };
  }

  /** Up to `limit` rows of `[from, to)`, in position order. */
  page(from: Position, to: Position, limit: number): QueryConfig {
    return { name: `eventy_page_${this.names.tag}`, text: this.#page, values: [from, to, limit] };
  }

  /** The head and the first kept position. */
  head(): QueryConfig {
    return { name: `eventy_head_${this.names.tag}`, text: this.#head, values: [this.names.log] };
  }
}

/** The row of a read. */
export interface PageRow {
  readonly position: number;
  readonly time: number;
  readonly body: Buffer;
}

/** SQLSTATE of an insert that found no partition for its position (the log grew past its partitions). */
export function isMissingPartition(e: unknown): boolean {
  return (
    (e as { code?: unknown } | null)?.code === '23514' &&
    /no partition/i.test((e as { message?: unknown }).message as string)
  );
}
