import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueManager, isEventyError, isRecord, type QueueManager } from '../../index.js';
import { dropSchema, pgUrl, POSTGRES_URL, uniqueSchema } from '../support/postgres.js';

async function publishedIds(m: QueueManager): Promise<string[]> {
  const ids: string[] = [];
  for await (const r of m.store.read()) if (isRecord(r, 'event.published')) ids.push(r.eventId);
  return ids;
}

describe('publish in the caller’s transaction (postgres)', () => {
  const schema = uniqueSchema();
  afterAll(() => dropSchema(schema));

  it('an event is in the log if and only if the caller’s transaction commits', async () => {
    await using m = await createQueueManager({ store: pgUrl({ schema }), handleSignals: false });
    const orders = m.queue<{ id: number }>('orders');
    const client = new pg.Client(POSTGRES_URL);
    await client.connect();
    try {
      await client.query(`CREATE TABLE "${schema}".orders (id int PRIMARY KEY)`);
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders VALUES (1)`);
      const lost = await orders.publish({ id: 1 }, { tx: client });
      await client.query('ROLLBACK');

      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders VALUES (2), (3)`);
      const kept = await orders.publishMany([{ id: 2 }, { id: 3 }], { tx: client, correlationId: 'c' });
      await client.query('COMMIT');

      expect(await publishedIds(m)).toEqual(kept.map((e) => e.id));
      expect(await publishedIds(m)).not.toContain(lost.id);
      const seen: number[] = [];
      await orders.subscribe((e) => void seen.push(e.payload.id), { name: 'bill', from: 'earliest' });
      const results = await Promise.all(kept.map((e) => orders.waitForResult(e.id)));
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
      expect(seen.sort()).toEqual([2, 3]);
    } finally {
      await client.end();
    }
  });

  it('refuses a tx with a key, and on a store without transactions', async () => {
    await using m = await createQueueManager({
      store: pgUrl({ schema, log: 'other' }),
      handleSignals: false,
    });
    const q = m.queue('q');
    await expect(q.publish({}, { tx: {}, key: 'k' })).rejects.toSatisfy((e) =>
      isEventyError(e, 'invalid-argument'),
    );
    await expect(q.publish({}, { tx: 'not a client' })).rejects.toSatisfy((e) =>
      isEventyError(e, 'invalid-argument'),
    );
    await using mem = await createQueueManager({ store: 'memory:', handleSignals: false });
    const e = await mem
      .queue('q')
      .publish({}, { tx: {} })
      .catch((e: unknown) => e as Error);
    expect(isEventyError(e, 'invalid-argument') && e.message).toMatch(/transactional database/);
  });
});
