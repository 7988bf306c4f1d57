// npx tsx bench/postgres-lock.ts [-- --seconds S] [-- --rounds K]   (or node dist/bench/postgres-lock.js)
// Two ways to give dense, gap-free positions to appenders on many connections, on one server
// (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test), each in a schema dropped after:
// - head row: one statement bumps the log's head row (its row lock orders the appenders until commit)
//   and inserts the batch after the old head (what the Postgres store does);
// - advisory lock: BEGIN and pg_advisory_xact_lock, then an INSERT numbered from max(position) + 1
//   (a statement of its own: it must see the previous holder's commit), then COMMIT.
// Appenders on 1 and 8 connections, batches of 1 and 100; records per second, best of the rounds.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
});
const url = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const schema = `bench_lock_${process.pid}`;
const NOW = `floor(extract(epoch from clock_timestamp()) * 1000)::bigint`;

const HEAD_ROW = `WITH h AS (
  UPDATE ${schema}.head SET head = head + $1, last_time = greatest(last_time, ${NOW})
  RETURNING head - $1 AS first, last_time AS time
), ins AS (
  INSERT INTO ${schema}.records (position, time, body)
  SELECT h.first + i.ord - 1, h.time, i.body FROM h, unnest($2::bytea[]) WITH ORDINALITY AS i(body, ord)
)
SELECT first FROM h`;

const ADVISORY_INSERT = `WITH last AS (
  SELECT position, time FROM ${schema}.records ORDER BY position DESC LIMIT 1
), h AS (
  SELECT coalesce((SELECT position + 1 FROM last), 0) AS first,
    greatest(coalesce((SELECT time FROM last), 0), ${NOW}) AS time
)
INSERT INTO ${schema}.records (position, time, body)
SELECT h.first + i.ord - 1, h.time, i.body FROM h, unnest($1::bytea[]) WITH ORDINALITY AS i(body, ord)`;

type Way = (c: pg.Client, bodies: Buffer[]) => Promise<void>;
const WAYS: Record<string, Way> = {
  'head row': async (c, bodies) => {
    await c.query({ name: 'head', text: HEAD_ROW, values: [bodies.length, bodies] });
  },
  'advisory lock': async (c, bodies) => {
    await c.query('BEGIN; SELECT pg_advisory_xact_lock(4711)');
    try {
      await c.query({ name: 'adv', text: ADVISORY_INSERT, values: [bodies] });
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    }
  },
};

async function connect(): Promise<pg.Client> {
  const c = new pg.Client(url);
  await c.connect();
  return c;
}

async function rate(way: Way, conns: number, batch: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: conns }, connect));
  const bodies = Array.from({ length: batch }, () => randomBytes(120));
  const start = performance.now();
  const until = start + seconds * 1000;
  let records = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < until) {
        await way(c, bodies);
        records += batch;
      }
    }),
  );
  const perSecond = records / ((performance.now() - start) / 1000);
  await Promise.all(clients.map((c) => c.end()));
  return Math.round(perSecond);
}

const admin = await connect();
const table: Record<string, Record<string, number>> = {};
try {
  // The ways take turns, case by case, and each keeps its best of the rounds: a burst of load from
  // elsewhere on the machine does not decide the comparison.
  for (let round = 0; round < rounds; round++) {
    for (const [conns, batch] of [
      [1, 1],
      [8, 1],
      [1, 100],
      [8, 100],
    ] as const) {
      for (const [name, way] of Object.entries(WAYS)) {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
          CREATE TABLE ${schema}.head (head bigint NOT NULL, last_time bigint NOT NULL);
          INSERT INTO ${schema}.head VALUES (0, 0);
          CREATE TABLE ${schema}.records (position bigint PRIMARY KEY, time bigint NOT NULL, body bytea NOT NULL);`);
        const row = (table[name] ??= {});
        const key = `${conns} conn × ${batch} rec/s`;
        row[key] = Math.max(row[key] ?? 0, await rate(way, conns, batch));
        const { rows } = await admin.query<{ n: string; top: string | null }>(
          `SELECT count(*) AS n, max(position) AS top FROM ${schema}.records`,
        );
        const dense = rows[0]!.top === null || Number(rows[0]!.top) + 1 === Number(rows[0]!.n);
        if (!dense) throw new Error(`${name}: positions are not dense`);
      }
    }
  }
  console.table(table);
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
