import { createHash } from 'node:crypto';
import type { ClientBase } from 'pg';
import { CorruptRecordError, InvalidArgumentError } from '../../engine/errors.js';
import type { PgLogConfig } from './pg-url.js';

/**
 * The names of one log's objects, quoted where they go into SQL. Schema and log names are checked
 * (lowercase letters, digits, `_`), so quoting never has to escape.
 */
export class PgNames {
  /** The schema, quoted. */
  readonly schema: string;
  readonly schemaName: string;
  /** The store's table of logs: one row per log, its identity, head and last time. */
  readonly logs: string;
  readonly migrations: string;
  /** The snapshots of every log of the schema, by log name and position. */
  readonly snapshots: string;
  /** The log's partitioned table of records. */
  readonly table: string;
  /** The table's name without its schema, the stem of its partitions' names. */
  readonly tableName: string;
  /** The NOTIFY channel of the log: a hash, so any schema and log name fit the 63 bytes. */
  readonly channel: string;
  /** A key for `pg_advisory_xact_lock` guarding the schema's DDL (migrations, partitions). */
  readonly ddlLock: string;
  /** A short hash of schema and log: names the log's prepared statements on a shared connection. */
  readonly tag: string;

  constructor(
    schemaName: string,
    readonly log: string,
  ) {
    this.schemaName = schemaName;
    this.schema = `"${schemaName}"`;
    this.logs = `${this.schema}.eventy_logs`;
    this.migrations = `${this.schema}.eventy_migrations`;
    this.snapshots = `${this.schema}.eventy_snapshots`;
    this.tableName = `log_${log}`;
    this.table = `${this.schema}."${this.tableName}"`;
    const hash = createHash('sha1').update(`${schemaName}\0${log}`).digest('hex');
    this.channel = `eventy_${hash.slice(0, 24)}`;
    this.tag = hash.slice(0, 12);
    const schemaHash = createHash('sha1').update(`eventy schema ${schemaName}`).digest('hex');
    this.ddlLock = BigInt.asIntN(64, BigInt(`0x${schemaHash.slice(0, 16)}`)).toString();
  }

  partition(base: number): string {
    return `${this.schema}."${this.tableName}_${base}"`;
  }
}

/** One step of the store's schema, applied once, in order, recorded in `eventy_migrations`. */
interface Migration {
  readonly version: number;
  readonly sql: (n: PgNames) => string;
}

// Append-only: a released step is never edited, a change is a new step.
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: (n) => `CREATE TABLE ${n.logs} (
      name text PRIMARY KEY,
      log_id uuid NOT NULL DEFAULT gen_random_uuid(),
      epoch bigint NOT NULL,
      head bigint NOT NULL DEFAULT 0,
      first bigint NOT NULL DEFAULT 0,
      last_time bigint NOT NULL DEFAULT 0,
      segment_records bigint NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
  {
    // Appends commit before their WAL flush: `synced` marks the rows of appends that wait for it, which
    // readers deliver only once flushed (see Flusher). Rows written before were all synced.
    version: 2,
    sql: (n) => `DO $$ DECLARE l record; BEGIN
      FOR l IN SELECT name FROM ${n.logs} LOOP
        EXECUTE format('ALTER TABLE IF EXISTS %I.%I ADD COLUMN IF NOT EXISTS synced boolean NOT NULL DEFAULT true',
          ${literal(n.schemaName)}, 'log_' || l.name);
      END LOOP;
    END $$`,
  },
  {
    // Snapshots (opaque bytes the runtime encodes) kept beside the logs; one row each, written at once.
    version: 3,
    sql: (n) => `CREATE TABLE ${n.snapshots} (
      log text NOT NULL,
      position bigint NOT NULL,
      data bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (log, position)
    )`,
  },
];

/** A string as an SQL literal (the names it is used for are checked: no quote in them). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The newest schema version this release knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The log's row: who it is and where it stands. */
export interface LogRow {
  readonly logId: string;
  readonly epoch: number;
  readonly head: number;
  readonly first: number;
  readonly segmentRecords: number;
}

const NOW_MS = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/**
 * Brings the schema to {@link SCHEMA_VERSION} and creates the log if it is new (its row, with a random
 * id and an epoch, its table and first partitions), in one transaction under the schema's DDL lock:
 * idempotent, and safe when several processes open the same store at once.
 * @throws InvalidArgumentError when the schema is newer than this release, or the log's segment size
 * differs from an explicit one.
 */
export async function migrate(client: ClientBase, n: PgNames, config: PgLogConfig): Promise<LogRow> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${n.ddlLock})`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${n.schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${n.migrations} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${n.migrations}`,
    );
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new InvalidArgumentError(
        `schema ${config.schema} is at version ${current}, written by a newer Eventy; this one knows up to ${SCHEMA_VERSION}`,
      );
    }
    for (const m of MIGRATIONS.filter((m) => m.version > current)) {
      await client.query(m.sql(n));
      await client.query(`INSERT INTO ${n.migrations} (version) VALUES ($1)`, [m.version]);
    }
    const row = await ensureLog(client, n, config);
    await client.query('COMMIT');
    return row;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function ensureLog(client: ClientBase, n: PgNames, config: PgLogConfig): Promise<LogRow> {
  await client.query(
    `INSERT INTO ${n.logs} (name, epoch, segment_records) VALUES ($1, ${NOW_MS}, $2) ON CONFLICT (name) DO NOTHING`,
    [n.log, config.segmentRecords],
  );
  await client.query(`CREATE TABLE IF NOT EXISTS ${n.table} (
    position bigint NOT NULL,
    time bigint NOT NULL,
    more boolean NOT NULL,
    synced boolean NOT NULL DEFAULT true,
    body bytea NOT NULL,
    PRIMARY KEY (position)
  ) PARTITION BY RANGE (position)`);
  const row = await readLogRow(client, n);
  if (config.segmentExplicit && row.segmentRecords !== config.segmentRecords) {
    throw new InvalidArgumentError(
      `segmentRecords must match the log's (fixed when it was created), which is ${row.segmentRecords}, got: ${config.segmentRecords}`,
    );
  }
  await createPartitions(client, n, row.segmentRecords, row.head + row.segmentRecords);
  return row;
}

/** Reads the log's row. */
export async function readLogRow(client: Pick<ClientBase, 'query'>, n: PgNames): Promise<LogRow> {
  const { rows } = await client.query<Record<string, string>>(
    `SELECT log_id, epoch, head, first, segment_records FROM ${n.logs} WHERE name = $1`,
    [n.log],
  );
  const r = rows[0];
  if (r === undefined) throw new CorruptRecordError(n.logs, 0, `the row of log ${n.log} is missing`);
  return {
    logId: String(r.log_id),
    epoch: Number(r.epoch),
    head: Number(r.head),
    first: Number(r.first),
    segmentRecords: Number(r.segment_records),
  };
}

/** The bases of the log's partitions, oldest first. */
export async function partitionBases(client: Pick<ClientBase, 'query'>, n: PgNames): Promise<number[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = to_regclass($1)`,
    [n.table],
  );
  const stem = `${n.tableName}_`;
  return rows
    .map((r) => (r.name.startsWith(stem) ? Number(r.name.slice(stem.length)) : NaN))
    .filter((b) => Number.isSafeInteger(b))
    .sort((a, b) => a - b);
}

/**
 * Creates the partitions that cover positions below `upTo` and do not exist yet (on the caller's
 * transaction: the caller holds the DDL lock or is the user's transaction). Returns the end of the last.
 */
export async function createPartitions(
  client: ClientBase,
  n: PgNames,
  segmentRecords: number,
  upTo: number,
): Promise<number> {
  const bases = await partitionBases(client, n);
  const last = bases.at(-1);
  let next = last === undefined ? 0 : last + segmentRecords;
  for (; next < upTo; next += segmentRecords) {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${n.partition(next)} PARTITION OF ${n.table}
       FOR VALUES FROM (${next}) TO (${next + segmentRecords})`,
    );
  }
  return next;
}

/** {@link createPartitions} in a transaction of its own under the DDL lock (the store's connection). */
export async function ensurePartitions(
  client: ClientBase,
  n: PgNames,
  segmentRecords: number,
  upTo: number,
): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${n.ddlLock})`);
    const end = await createPartitions(client, n, segmentRecords, upTo);
    await client.query('COMMIT');
    return end;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
