import pg from 'pg';
import { InvalidArgumentError } from '../../engine/errors.js';
import type { Durability } from '../../engine/storage.js';
import { storeError } from './pg-errors.js';
import { PgListener } from './pg-listener.js';
import { migrate, partitionBases, PgNames } from './pg-schema.js';
import { PostgresStore } from './pg-store.js';
import { parsePostgresUrl, type PostgresStoreOptions } from './pg-url.js';

/**
 * Opens a log on PostgreSQL, on a pool of connections the store creates and closes.
 *
 * URL: `postgres://[user[:password]@]host[:port]/database[?schema=<schema>&log=<log>&segmentRecords=<n>
 * &timeout=<ms>&pool=<n>&sslmode=disable|require|verify-full]` (`postgresql://` too). Defaults: schema
 * `eventy`, log `default`, 1,048,576 records per partition, a 10 s deadline on every call, 4 pooled
 * connections (followers share one more, for LISTEN). Options given in code win over the query.
 *
 * On open the store's schema is created or migrated (versioned, idempotent, safe to race), and the log
 * is created if new: a row with a random id and an epoch, a table partitioned by position range.
 * @throws InvalidArgumentError on a bad URL or option, naming it; `PostgresConnectError` (also
 * `invalid-argument`, with `problem`: `credentials` or `database`) when the server refuses the user,
 * the password or the database.
 * @throws UnavailableError when the server cannot be reached within the deadline.
 * @example
 * await using store = await openPostgresStore('postgres://postgres@127.0.0.1:5432/app?log=orders');
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  if (typeof url !== 'string') {
    throw new InvalidArgumentError(`postgres store URL must be a string, got: ${String(url)}`);
  }
  const { connection, config, display } = parsePostgresUrl(url, options);
  const clientConfig: pg.ClientConfig = {
    ...connection,
    application_name: 'eventy',
    connectionTimeoutMillis: config.timeout,
    query_timeout: config.timeout,
    statement_timeout: config.timeout,
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...clientConfig, max: config.pool, idleTimeoutMillis: 10_000 });
  // An idle connection that breaks (the server restarted) is dropped by the pool; the next call gets a
  // new one. Without a listener the error would end the process.
  pool.on('error', () => undefined);
  // Appends commit without waiting for the WAL flush, so they hold the log's head row for their
  // statement alone; synced ones are acknowledged, and every record is read out, only once a flush on
  // the other pool covered it (see Flusher).
  const asyncPool = new pg.Pool({
    ...clientConfig,
    options: '-c synchronous_commit=off',
    max: config.pool,
    idleTimeoutMillis: 10_000,
  });
  asyncPool.on('error', () => undefined);
  const names = new PgNames(config.schema, config.log);
  try {
    const client = await pool.connect();
    try {
      const row = await migrate(client, names, config);
      const bases = await partitionBases(client, names);
      const durability = await durabilityOf(client);
      const partitionsTo = (bases.at(-1) ?? -row.segmentRecords) + row.segmentRecords;
      const listener = new PgListener(clientConfig, names.channel);
      const capabilities = { multiProcess: true, persistent: true, durability };
      return new PostgresStore(
        { pool, asyncPool, listener, url: display, names, row, capabilities, retention: config.retention },
        partitionsTo,
      );
    } finally {
      client.release();
    }
  } catch (e) {
    await Promise.all([pool.end(), asyncPool.end()].map((p) => p.catch(() => undefined)));
    throw storeError(e, 'open', display, connection.user);
  }
}

/** What an acknowledged append survives, from the server's settings. */
async function durabilityOf(client: pg.PoolClient): Promise<Durability> {
  const { rows } = await client.query<{ fsync: string; sync: string }>(
    `SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync`,
  );
  const { fsync, sync } = rows[0] ?? { fsync: 'on', sync: 'on' };
  if (fsync === 'off') return 'never';
  return sync === 'off' ? 'batch' : 'always';
}
