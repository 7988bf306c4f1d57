import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../adapters/postgres/index.js';
import type { StoredRecord } from '../../engine/records.js';
import { draft } from '../contract/log-store-contract.js';
import { dropSchema, pgUrl, POSTGRES_URL, uniqueSchema } from '../support/postgres.js';

const APPENDER = new URL('../support/pg-appender.ts', import.meta.url).pathname;

async function collect(it: AsyncIterable<StoredRecord>): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

function eventId(r: StoredRecord): string {
  return (r as unknown as { eventId: string }).eventId;
}

describe('postgres store: appenders in many processes, appends in the caller’s transaction', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    await Promise.all(schemas.map((s) => dropSchema(s)));
  });
  function schema(): string {
    const s = uniqueSchema();
    schemas.push(s);
    return s;
  }

  it('3 processes appending at once: dense positions, every batch contiguous, each process in order', async () => {
    const url = pgUrl({ schema: schema(), segmentRecords: 50 });
    const children = ['a', 'b', 'c'].map((tag) =>
      spawn(process.execPath, ['--import', 'tsx', APPENDER, url, tag, '60'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0] as number));
    expect(codes).toEqual([0, 0, 0]);
    await using store = await openPostgresStore(url);
    const records = await collect(store.read());
    const perProcess = 60 * 3; // batches of 1..5 records, 12 of each size
    expect(records).toHaveLength(perProcess * 3);
    expect(records.map((r) => r.position)).toEqual(records.map((_, i) => i));
    const times = records.map((r) => r.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const next = new Map<string, number>();
    for (let p = 0; p < records.length;) {
      const [tag, batch] = eventId(records[p]!).split(':') as [string, string];
      expect(Number(batch)).toBe(next.get(tag) ?? 0);
      next.set(tag, Number(batch) + 1);
      const size = (Number(batch) % 5) + 1;
      const ids = records.slice(p, p + size).map(eventId);
      expect(ids).toEqual(Array.from({ length: size }, (_, k) => `${tag}:${batch}:${k}`));
      expect(new Set(records.slice(p, p + size).map((r) => r.time)).size).toBe(1);
      p += size;
    }
  });

  it('appendWith: a rolled-back transaction leaves no record, a committed one appears at its commit', async () => {
    const s = schema();
    await using store = await openPostgresStore(POSTGRES_URL, { schema: s, segmentRecords: 3 });
    const client = new pg.Client(POSTGRES_URL);
    await client.connect();
    try {
      await client.query(`CREATE TABLE "${s}".orders (id int PRIMARY KEY)`);
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${s}".orders VALUES (1)`);
      const undone = await store.appendWith(client, [draft(0), draft(1)]);
      expect(undone.positions).toEqual([0, 1]);
      await client.query('ROLLBACK');
      expect(await store.head()).toBe(0);
      expect(await collect(store.read())).toEqual([]);

      const ac = new AbortController();
      const seen: StoredRecord[] = [];
      const following = (async () => {
        for await (const r of store.follow({ signal: ac.signal })) {
          seen.push(r);
          if (seen.length === 5) ac.abort();
        }
      })();
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${s}".orders VALUES (2)`);
      // Five records over three partitions of 3: the missing ones are made in this transaction.
      const done = await store.appendWith(
        client,
        [0, 1, 2, 3, 4].map((n) => draft(n)),
      );
      expect(done.positions).toEqual([0, 1, 2, 3, 4]);
      expect(await store.head()).toBe(0); // not committed yet: nobody sees it
      await client.query('COMMIT');
      await following;
      expect(seen.map(eventId)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
      expect(seen).toEqual(done.records);
      const { rows } = await client.query<{ id: number }>(`SELECT id FROM "${s}".orders`);
      expect(rows).toEqual([{ id: 2 }]);
      expect((await store.append([draft(5)])).positions).toEqual([5]);
    } finally {
      await client.end();
    }
  });

  it('appendWith checks the expected head and leaves the caller’s transaction usable', async () => {
    const s = schema();
    await using store = await openPostgresStore(POSTGRES_URL, { schema: s });
    await store.append([draft(0)]);
    const client = new pg.Client(POSTGRES_URL);
    await client.connect();
    try {
      await client.query('BEGIN');
      await expect(store.appendWith(client, [draft(1)], { expectedHead: 0 })).rejects.toMatchObject({
        code: 'conflict',
      });
      expect((await store.appendWith(client, [draft(1)], { expectedHead: 1 })).positions).toEqual([1]);
      await client.query('COMMIT');
      expect(await store.head()).toBe(2);
    } finally {
      await client.end();
    }
  });
});
