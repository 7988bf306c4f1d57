// npx tsx bench/postgres-clients.ts [-- --seconds S]   (or node dist/bench/postgres-clients.js)
// The two Node PostgreSQL clients, `postgres` (porsager) and `pg` (node-postgres), running the same SQL
// as the Postgres store on one server (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test), in
// a schema of their own dropped after:
// - append: one statement per batch (head row bumped, rows inserted from unnest, as the store does), batches
//   of 100 from 4 connections at once, and batches of 1 from one connection (round-trip bound);
// - follow: a catch-up read of everything appended, 1,000 rows per page by position.
// The store's client was picked by these figures.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const url = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const seconds = Number(args.seconds);
const schema = `bench_clients_${process.pid}`;

const APPEND = `WITH h AS (
  UPDATE ${schema}.head SET head = head + $1,
    last_time = greatest(last_time, floor(extract(epoch from clock_timestamp()) * 1000)::bigint)
  RETURNING head - $1 AS first, last_time AS time
), ins AS (
  INSERT INTO ${schema}.records (position, time, body)
  SELECT h.first + i.ord - 1, h.time, i.body FROM h, unnest($2::bytea[]) WITH ORDINALITY AS i(body, ord)
)
SELECT first, time FROM h`;
const PAGE = `SELECT position, time, body FROM ${schema}.records WHERE position >= $1 ORDER BY position LIMIT 1000`;

/** One client's way to run the two statements on a connection of its own. */
interface Conn {
  append(bodies: Buffer[]): Promise<void>;
  page(from: number): Promise<{ position: string; body: Buffer }[]>;
  end(): Promise<void>;
}

/** bytea[] as a text array literal, typed explicitly (porsager infers a Buffer array as one bytea). */
const byteaArray = {
  to: 1001,
  from: [] as number[],
  serialize: (xs: Buffer[]) => `{${xs.map((b) => `"\\\\x${b.toString('hex')}"`).join(',')}}`,
  parse: (x: string) => x,
};

function porsager(): Conn {
  const sql = postgres(url, { max: 1, fetch_types: false, onnotice: () => undefined, types: { byteaArray } });
  return {
    append: async (bodies) => {
      await sql.unsafe(APPEND, [bodies.length, sql.types.byteaArray(bodies as never) as never], {
        prepare: true,
      });
    },
    page: async (from) =>
      (await sql.unsafe(PAGE, [from], { prepare: true })) as unknown as { position: string; body: Buffer }[],
    end: () => sql.end(),
  };
}

async function nodePostgres(): Promise<Conn> {
  const client = new pg.Client(url);
  await client.connect();
  return {
    append: async (bodies) => {
      await client.query({ name: 'append', text: APPEND, values: [bodies.length, bodies] });
    },
    page: async (from) =>
      (await client.query<{ position: string; body: Buffer }>({ name: 'page', text: PAGE, values: [from] }))
        .rows,
    end: () => client.end(),
  };
}

const CLIENTS = { postgres: () => Promise.resolve(porsager()), pg: nodePostgres };

async function reset(admin: Conn & { exec(q: string): Promise<void> }): Promise<void> {
  await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.head (head bigint NOT NULL, last_time bigint NOT NULL);
    INSERT INTO ${schema}.head VALUES (0, 0);
    CREATE TABLE ${schema}.records (position bigint PRIMARY KEY, time bigint NOT NULL, body bytea NOT NULL);`);
}

/** Appends for `seconds` from `conns` connections at once; records per second. */
async function appendRate(open: () => Promise<Conn>, conns: number, batch: number): Promise<number> {
  const clients = await Promise.all(Array.from({ length: conns }, open));
  const bodies = Array.from({ length: batch }, () => randomBytes(120));
  const until = performance.now() + seconds * 1000;
  const start = performance.now();
  let records = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < until) {
        await c.append(bodies);
        records += batch;
      }
    }),
  );
  const rate = records / ((performance.now() - start) / 1000);
  await Promise.all(clients.map((c) => c.end()));
  return rate;
}

async function followRate(open: () => Promise<Conn>): Promise<number> {
  const c = await open();
  const start = performance.now();
  let from = 0;
  for (;;) {
    const rows = await c.page(from);
    if (rows.length === 0) break;
    from = Number(rows[rows.length - 1]!.position) + 1;
  }
  const rate = from / ((performance.now() - start) / 1000);
  await c.end();
  return rate;
}

const adminSql = postgres(url, { max: 1, onnotice: () => undefined });
const admin = Object.assign(porsager(), {
  exec: async (q: string) => {
    await adminSql.unsafe(q);
  },
});
const rows: Record<string, Record<string, number>> = {};
try {
  for (const round of [1, 2]) {
    for (const [name, open] of Object.entries(CLIENTS)) {
      await reset(admin);
      const batched = await appendRate(open, 4, 100);
      const follow = await followRate(open);
      const single = await appendRate(open, 1, 1);
      const best = rows[name] ?? { 'append 4×100 rec/s': 0, 'append 1×1 rec/s': 0, 'follow rec/s': 0 };
      rows[name] = {
        'append 4×100 rec/s': Math.max(best['append 4×100 rec/s']!, Math.round(batched)),
        'append 1×1 rec/s': Math.max(best['append 1×1 rec/s']!, Math.round(single)),
        'follow rec/s': Math.max(best['follow rec/s']!, Math.round(follow)),
      };
      console.error(`round ${round} ${name}: done`);
    }
  }
  console.table(rows);
} finally {
  await adminSql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await adminSql.end();
  await admin.end();
}
