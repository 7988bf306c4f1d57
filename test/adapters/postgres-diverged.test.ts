import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../../adapters/postgres/index.js';
import { isEventyError } from '../../engine/errors.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { PgNames } from '../../adapters/postgres/pg-schema.js';
import { draft } from '../contract/log-store-contract.js';
import { dropSchema, pgUrl, uniqueSchema, withClient } from '../support/postgres.js';
import { until } from '../support/wait.js';

/** A follower that keeps what it delivered and how it ended. */
function follow(store: PostgresStore) {
  const state = { seen: [] as StoredRecord[], error: undefined as unknown, ended: false };
  const ac = new AbortController();
  const done = (async () => {
    try {
      for await (const r of store.follow({ signal: ac.signal })) state.seen.push(r);
    } catch (e) {
      state.error = e;
    } finally {
      state.ended = true;
    }
  })();
  return { state, done, stop: () => ac.abort() };
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => new Error('acknowledged'),
    (e: unknown) => e as Error,
  );
}

const batch = (from: number, n: number): RecordDraft[] =>
  Array.from({ length: n }, (_, i) => draft(from + i));
const ids = (records: readonly { eventId?: unknown }[]): unknown[] => records.map((r) => r.eventId);

describe('postgres store: a log dropped, recreated or rolled back under its handles', () => {
  let schema: string;
  let url: string;
  const opened: PostgresStore[] = [];
  const open = async (): Promise<PostgresStore> => {
    const store = await openPostgresStore(url, { segmentRecords: 16 });
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    schema = uniqueSchema();
    url = pgUrl({ schema, log: 'orders' });
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await dropSchema(schema);
  });

  it('tables dropped, then recreated: publishers get log-diverged instead of an acknowledgement, followers stop with it', async () => {
    const early = await open();
    const late = await open();
    const reader = await open();
    const follower = follow(reader);
    await early.append(batch(0, 12));
    await late.append(batch(12, 8));
    await until(() => follower.state.seen.length === 20);

    await withClient((c) => c.query(`DROP SCHEMA "${schema}" CASCADE`));
    // Gone: nothing to append to.
    const gone = await refusal(early.append(batch(100, 3)));
    expect(isEventyError(gone, 'log-diverged'), gone.message).toBe(true);
    expect(gone.message).toMatch(/found no identity \(the log is gone\)/);

    // Created again by a store opened now: another id, from position 0.
    const newcomer = await open();
    expect((await newcomer.identity()).id).not.toBe((await late.identity()).id);
    expect((await newcomer.append(batch(200, 25))).positions[0]).toBe(0);
    const replaced = await refusal(late.append(batch(300, 3)));
    expect(isEventyError(replaced, 'log-diverged'), replaced.message).toBe(true);
    expect(replaced.message).toMatch(/expected id \S+ epoch \d+, found id \S+ epoch \d+/);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect(follower.state.seen.length).toBe(20);
    await expect(reader.head()).rejects.toMatchObject({ code: 'log-diverged' });

    // The refused handles stay refused, and nothing they sent is in the new log.
    expect(isEventyError(await refusal(early.append(batch(400, 1))), 'log-diverged')).toBe(true);
    expect(isEventyError(await refusal(late.append(batch(400, 1))), 'log-diverged')).toBe(true);
    const kept: StoredRecord[] = [];
    for await (const r of newcomer.read()) kept.push(r);
    expect(ids(kept as never)).toEqual(ids(batch(200, 25) as never));
  });

  it('truncated back to an earlier position: a handle that saw more appends nothing; a follower finds its last record replaced', async () => {
    const publisher = await open();
    const reader = await open();
    const follower = follow(reader);
    const idleReader = await open();
    const idle = follow(idleReader);
    await publisher.append(batch(0, 30));
    await publisher.append(batch(30, 20));
    await until(() => follower.state.seen.length === 50 && idle.state.seen.length === 50);
    idle.stop();
    await idle.done;

    // A rollback, as a restore from an older backup would leave it: positions 30-49 gone, head 30.
    await withClient(async (c) => {
      await c.query(`DELETE FROM "${schema}".log_orders WHERE position >= 30`);
      await c.query(`UPDATE "${schema}".eventy_logs SET head = 30 WHERE name = 'orders'`);
    });

    const refused = await refusal(publisher.append(batch(100, 3)));
    expect(isEventyError(refused, 'log-diverged'), refused.message).toBe(true);
    expect(refused.message).toMatch(/head of at least 50.*head of 30/);
    // A reader that saw 50 sees the head went back.
    await expect(idleReader.head()).rejects.toMatchObject({ code: 'log-diverged' });

    // A publisher opened now takes the log as it is: positions 30-54 hold other records than before.
    const newcomer = await open();
    expect(await newcomer.identity()).toEqual(await publisher.identity());
    expect((await newcomer.append(batch(200, 25))).positions[0]).toBe(30);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect((follower.state.error as Error).message).toMatch(/record delivered at position 49/);
    expect(follower.state.seen.map((r) => r.position)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(isEventyError(await refusal(publisher.append(batch(300, 1))), 'log-diverged')).toBe(true);
  });

  it('an idle follower whose log went back and stays there stops with log-diverged', async () => {
    const publisher = await open();
    const reader = await open();
    const follower = follow(reader);
    await publisher.append(batch(0, 40));
    await until(() => follower.state.seen.length === 40);
    await withClient(async (c) => {
      await c.query(`DELETE FROM "${schema}".log_orders WHERE position >= 20`);
      await c.query(`UPDATE "${schema}".eventy_logs SET head = 20 WHERE name = 'orders'`);
    });
    // No append, no notification: the follower's poll finds it.
    await until(() => follower.state.ended);
    expect((follower.state.error as Error).message).toMatch(/head of at least 40.*head of 20/);
  });

  it("a follower takes its own handle's appends as appended, in log order with other handles', and still finds its last one replaced", async () => {
    const own = await open();
    const other = await open();
    const follower = follow(own);
    await own.append(batch(0, 5));
    await until(() => follower.state.seen.length === 5);
    // Interleaved, and concurrent: the follower must mix its handle's batches with what it reads.
    for (let i = 0; i < 6; i++) {
      await Promise.all([
        own.append(batch(100 + i * 10, 3), { sync: i % 2 === 0 }),
        other.append(batch(200 + i * 10, 2)),
      ]);
      await own.append(batch(300 + i * 10, 1), { sync: false });
    }
    await until(() => follower.state.seen.length === 5 + 6 * 6);
    const table: StoredRecord[] = [];
    for await (const r of other.read({ from: 0 })) table.push(r);
    const row = (r: StoredRecord): unknown[] => [r.position, r.time, (r as { eventId?: unknown }).eventId];
    expect(follower.state.seen.map(row)).toEqual(table.map(row));

    // Caught up: the next own batch is delivered as appended; then the log loses it and another
    // record takes its position.
    await own.append(batch(400, 2), { sync: false });
    await until(() => follower.state.seen.length === 43);
    await withClient(async (c) => {
      await c.query(`DELETE FROM "${schema}".log_orders WHERE position >= 41`);
      await c.query(`UPDATE "${schema}".eventy_logs SET head = 41 WHERE name = 'orders'`);
    });
    const newcomer = await open();
    expect((await newcomer.append(batch(500, 3))).positions[0]).toBe(41);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect((follower.state.error as Error).message).toMatch(/record delivered at position 42/);
  });

  it("once one follower of a handle found the log rolled back, another one does not deliver the handle's own appends that the log lost", async () => {
    const own = await open();
    // A follower that has read the log so far and is not asked for more yet.
    const paused = own.followChunks()[Symbol.asyncIterator]();
    await own.append(batch(0, 5));
    expect((await paused.next()).value).toHaveLength(5);
    const running = follow(own);
    await until(() => running.state.seen.length === 5);
    await own.append(batch(100, 2)); // positions 5 and 6: taken as appended by the running follower
    await until(() => running.state.seen.length === 7);

    // Rolled back to 5, then other records at 5 and 6: the running follower finds its last one replaced.
    await withClient(async (c) => {
      await c.query(`DELETE FROM "${schema}".log_orders WHERE position >= 5`);
      await c.query(`UPDATE "${schema}".eventy_logs SET head = 5 WHERE name = 'orders'`);
    });
    await (await open()).append(batch(500, 2));
    await until(() => running.state.ended);
    expect(isEventyError(running.state.error, 'log-diverged'), String(running.state.error)).toBe(true);

    // The handle's divergence is final: the paused follower, at 5, does not deliver 100 and 101.
    const next = await paused.next().then(
      (r) => new Error(`delivered ${JSON.stringify(ids((r.value ?? []) as never))}`),
      (e: unknown) => e as Error,
    );
    expect(isEventyError(next, 'log-diverged'), next.message).toBe(true);
  });

  it("after its connection to the server dropped, a follower reads the log as it is instead of taking its handle's unsynced append", async () => {
    const own = await open();
    const records = own.follow()[Symbol.asyncIterator]();
    await own.append(batch(0, 3));
    for (let i = 0; i < 3; i++) await records.next();
    // The store's LISTEN connection, as the server sees it.
    const listen = `LISTEN "${new PgNames(schema, 'orders').channel}"`;
    const listener = (): Promise<number | undefined> =>
      withClient(async (c) => {
        const { rows } = await c.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`,
          [listen],
        );
        return rows[0]?.pid;
      });
    const before = await until(listener, 'the LISTEN connection');

    // Appended without waiting for the WAL flush; then a restart loses it: the connection drops and
    // another record takes its positions.
    await own.append(batch(100, 2), { sync: false });
    await withClient((c) => c.query('SELECT pg_terminate_backend($1)', [before]));
    await withClient(async (c) => {
      await c.query(`DELETE FROM "${schema}".log_orders WHERE position >= 3`);
      await c.query(`UPDATE "${schema}".eventy_logs SET head = 3 WHERE name = 'orders'`);
    });
    await (await open()).append(batch(500, 2));
    await until(async () => {
      const pid = await listener();
      return pid !== undefined && pid !== before;
    }, 'the LISTEN connection made again');

    const next = [(await records.next()).value, (await records.next()).value] as StoredRecord[];
    expect(ids(next as never)).toEqual(ids(batch(500, 2) as never));
    await records.return?.();
  });
});
