import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../adapters/open-store.js';
import { openPostgresStore } from '../../adapters/postgres/index.js';
import { isEventyError, type ErrorCode } from '../../engine/errors.js';
import type { StoredRecord } from '../../engine/records.js';
import { draft, logStoreContract } from '../contract/log-store-contract.js';
import { dropSchema, pgUrl, POSTGRES_URL, uniqueSchema, withClient } from '../support/postgres.js';

// Partitions of 7 records: the contract's tests cross partitions many times.
logStoreContract('postgres', () => {
  const schema = uniqueSchema();
  return Promise.resolve({
    open: () => openPostgresStore(POSTGRES_URL, { schema, segmentRecords: 7 }),
    cleanup: () => dropSchema(schema),
    persistent: true,
  });
});

describe('postgres store', () => {
  const schemas: string[] = [];
  function schema(): string {
    const s = uniqueSchema();
    schemas.push(s);
    return s;
  }
  afterAll(async () => {
    await Promise.all(schemas.map((s) => dropSchema(s)));
  });

  it('opens through openStore with the options in the URL, one partition per segment', async () => {
    const s = schema();
    await using store = await openStore(pgUrl({ schema: s, log: 'orders', segmentRecords: 4 }));
    expect(store.capabilities).toMatchObject({ multiProcess: true, persistent: true });
    await store.append(Array.from({ length: 10 }, (_, i) => draft(i)));
    const tables = await withClient(async (c) => {
      const { rows } = await c.query<{ t: string }>(
        `SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`,
        [s],
      );
      return rows.map((r) => r.t);
    });
    expect(tables).toEqual(
      expect.arrayContaining([
        'eventy_logs',
        'eventy_migrations',
        'log_orders_0',
        'log_orders_4',
        'log_orders_8',
      ]),
    );
  });
});

async function collect(it: AsyncIterable<StoredRecord>): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

/** Awaits a rejection with an Eventy error of `code` whose message matches `pattern`; returns it. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode, pattern: RegExp): Promise<Error> {
  const e = await p.then(
    () => new Error('expected a rejection, but the call succeeded'),
    (e: unknown) => e as Error,
  );
  expect(isEventyError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
  expect(e.message).toMatch(pattern);
  return e;
}

describe('postgres store: schema, identity, retention', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    await Promise.all(schemas.map((s) => dropSchema(s)));
  });
  function schema(): string {
    const s = uniqueSchema();
    schemas.push(s);
    return s;
  }

  it('migrates once when many handles open a new schema at the same time, and keeps the identity', async () => {
    const s = schema();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresStore(POSTGRES_URL, { schema: s, segmentRecords: 5 })),
    );
    try {
      const identities = await Promise.all(stores.map((st) => st.identity()));
      const ids = new Set(identities.map((i) => `${i.id}/${i.epoch}`));
      expect(ids.size).toBe(1);
      expect(identities[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
      const versions = await withClient(async (c) => {
        const { rows } = await c.query<{ version: number }>(
          `SELECT version FROM "${s}".eventy_migrations ORDER BY version`,
        );
        return rows.map((r) => r.version);
      });
      expect(versions).toEqual([1, 2, 3]);
      const other = await openPostgresStore(POSTGRES_URL, { schema: s, log: 'other' });
      expect((await other.identity()).id).not.toBe(identities[0]!.id);
      await other.close();
      await rejectsWith(
        openPostgresStore(POSTGRES_URL, { schema: s, segmentRecords: 6 }),
        'invalid-argument',
        /which is 5, got: 6/,
      );
    } finally {
      await Promise.all(stores.map((st) => st.close()));
    }
  });

  it('migrates a log made at schema version 1: its rows count as synced, new ones are marked', async () => {
    const s = schema();
    const first = await openPostgresStore(POSTGRES_URL, { schema: s, log: 'old' });
    await first.append([draft(0), draft(1)]);
    await first.close();
    // As version 1 left it: no synced column, no snapshots table, no step 2 or 3.
    await withClient(async (c) => {
      await c.query(`ALTER TABLE "${s}".log_old DROP COLUMN synced`);
      await c.query(`DROP TABLE "${s}".eventy_snapshots`);
      await c.query(`DELETE FROM "${s}".eventy_migrations WHERE version >= 2`);
    });
    const again = await openPostgresStore(POSTGRES_URL, { schema: s, log: 'old' });
    try {
      await again.append([draft(2)], { sync: false });
      const read: unknown[] = [];
      for await (const r of again.read()) read.push((r as unknown as { eventId: string }).eventId);
      expect(read).toEqual([0, 1, 2].map((i) => (draft(i) as { eventId: string }).eventId));
      const synced = await withClient(async (c) => {
        const { rows } = await c.query<{ synced: boolean }>(
          `SELECT synced FROM "${s}".log_old ORDER BY position`,
        );
        return rows.map((r) => r.synced);
      });
      expect(synced).toEqual([true, true, false]);
    } finally {
      await again.close();
    }
  });

  it('groups concurrent appends of one handle, each batch atomic and checked on its own', async () => {
    await using store = await openPostgresStore(POSTGRES_URL, { schema: schema(), segmentRecords: 3 });
    const results = await Promise.allSettled([
      store.append([draft(0), draft(1)], { expectedHead: 0 }),
      store.append([draft(2)], { expectedHead: 0 }),
      store.append([draft(3)], { expectedHead: 2 }),
      store.append([draft(4), draft(5), draft(6), draft(7)]),
      store.append([draft(8), draft(9)]),
    ]);
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value.positions : (r.reason as Error).name)),
    ).toEqual([[0, 1], 'ConflictError', [2], [3, 4, 5, 6], [7, 8]]);
    // sync: false goes through connections that do not wait for the WAL flush: same log, same order.
    const unsynced = await Promise.all([
      store.append([draft(10)], { sync: false }),
      store.append([draft(11)]),
    ]);
    expect(unsynced.flatMap((a) => a.positions).sort((a, b) => a - b)).toEqual([9, 10]);
    const ids = (await collect(store.read())).map((r) => (r as unknown as { eventId: string }).eventId);
    expect(ids.slice(0, 9)).toEqual(['e0', 'e1', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
    expect(ids.slice(9).sort()).toEqual(['e10', 'e11']);
  });

  it('refuses a schema written by a newer release', async () => {
    const s = schema();
    await (await openPostgresStore(POSTGRES_URL, { schema: s })).close();
    await withClient((c) => c.query(`INSERT INTO "${s}".eventy_migrations (version) VALUES (99)`));
    await rejectsWith(openPostgresStore(POSTGRES_URL, { schema: s }), 'invalid-argument', /version 99/);
  });

  it('drops whole partitions before a position; reads and follows start at the first kept, or are truncated before it', async () => {
    await using store = await openPostgresStore(POSTGRES_URL, { schema: schema(), segmentRecords: 4 });
    await store.append(Array.from({ length: 10 }, (_, i) => draft(i)));
    expect(await store.dropSegmentsBefore(9)).toEqual({ dropped: 2, first: 8 });
    expect(await store.segments()).toContain(8);
    expect((await store.segments()).filter((b) => b < 8)).toEqual([]);
    expect((await collect(store.read())).map((r) => r.position)).toEqual([8, 9]);
    expect(await store.dropSegmentsBefore(100)).toEqual({ dropped: 0, first: 8 });
    await expect(collect(store.read({ from: 2 }))).rejects.toMatchObject({ code: 'truncated', first: 8 });
    await expect(store.follow({ from: 2 })[Symbol.asyncIterator]().next()).rejects.toMatchObject({
      code: 'truncated',
      first: 8,
    });
    const ac = new AbortController();
    const seen: number[] = [];
    for await (const r of store.follow({ signal: ac.signal })) {
      seen.push(r.position);
      if (seen.length === 2) ac.abort();
    }
    expect(seen).toEqual([8, 9]);
    expect((await store.append([draft(10)])).positions).toEqual([10]);
  });
});
