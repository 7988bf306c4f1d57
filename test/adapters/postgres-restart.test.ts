import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPostgresStore,
  PostgresConnectError,
  type PostgresStore,
} from '../../adapters/postgres/index.js';
import { isEventyError } from '../../engine/errors.js';
import type { AppendResult } from '../../engine/storage.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { draft } from '../contract/log-store-contract.js';
import { createCluster, withClient, type Cluster } from '../support/postgres.js';
import { sleep, until } from '../support/wait.js';

/** A follower that collects what it sees and lets the test wait for a count (no timing involved). */
function collectFollow(store: PostgresStore, signal: AbortSignal) {
  const seen: StoredRecord[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const done = (async () => {
    for await (const r of store.follow({ signal })) {
      seen.push(r);
      for (const w of waiters.filter((w) => seen.length >= w.count)) w.resolve();
    }
  })();
  const reach = (count: number): Promise<void> =>
    seen.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }));
  return { seen, done, reach };
}

function eventIds(records: readonly StoredRecord[]): string[] {
  return records.map((r) => (r as unknown as { eventId: string }).eventId);
}

/**
 * Appends once the server is back: `unavailable` until the pool has a live connection again. The
 * batch is sent with the expected head, so a batch stored by a call that then failed is not stored twice.
 */
async function appendOnceBack(store: PostgresStore, batch: RecordDraft[]): Promise<AppendResult> {
  for (let attempt = 0; ; attempt++) {
    const head = await store.head().catch(() => undefined);
    if (head === undefined) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      return await store.append(batch, { expectedHead: head });
    } catch (e) {
      if (!isEventyError(e, 'unavailable') || attempt > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('postgres store on a private cluster', () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await createCluster(password);
  });

  afterAll(async () => {
    await cluster.destroy();
  });

  it('a wrong password: PostgresConnectError (credentials), the password never shown', async () => {
    const wrong = `not-${password}`;
    const e = await openPostgresStore(cluster.url({}, wrong)).then(
      () => new Error('opened with a wrong password'),
      (e: unknown) => e as Error,
    );
    expect(e instanceof PostgresConnectError && e.problem).toBe('credentials');
    expect(e.message).toMatch(/password authentication failed/);
    expect(e.message).not.toContain(wrong);
  });

  it('across a server crash and restart: unavailable while down, nothing acknowledged lost, the follower resumes', async () => {
    const store = await openPostgresStore(cluster.url({ segmentRecords: 16, timeout: 2_000 }));
    expect(store.capabilities.durability).toBe('always');
    const ac = new AbortController();
    const follower = collectFollow(store, ac.signal);
    const acked: string[] = [];
    const batch = (n: number): RecordDraft[] => [draft(n), draft(n + 1), draft(n + 2)];
    try {
      for (let n = 0; n < 30; n += 3) acked.push(...eventIds((await store.append(batch(n))).records));
      await follower.reach(30);

      const bystander = await openPostgresStore(cluster.url({ timeout: 2_000 }));
      await cluster.stop();
      for (let i = 0; i < 3; i++) {
        await expect(store.append([draft(1000 + i)])).rejects.toSatisfy((e) =>
          isEventyError(e, 'unavailable'),
        );
      }
      // While the server is away a follower still ends on abort, and close() does not wait for it.
      const stop = new AbortController();
      const stranded = bystander.follow({ from: 30, signal: stop.signal })[Symbol.asyncIterator]().next();
      stop.abort();
      expect(await stranded).toEqual({ done: true, value: undefined });
      const waiting = bystander.follow({ from: 30 })[Symbol.asyncIterator]().next();
      await bystander.close();
      expect(await waiting).toEqual({ done: true, value: undefined });

      await cluster.start();
      for (let n = 30; n < 60; n += 3)
        acked.push(...eventIds((await appendOnceBack(store, batch(n))).records));
      await follower.reach(60);
    } finally {
      ac.abort();
      await follower.done;
      await store.close();
    }
    expect(follower.seen.map((r) => r.position)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(eventIds(follower.seen)).toEqual(acked);

    await using again = await openPostgresStore(cluster.url());
    expect(await again.head()).toBe(60);
    const all: StoredRecord[] = [];
    for await (const r of again.read()) all.push(r);
    expect(eventIds(all)).toEqual(acked);
    const times = all.map((r) => r.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("a follower that reaches its own handle's synced append waits out a flush that fails (unavailable) and delivers it once one succeeds", async () => {
    // A synchronous standby that never comes: synchronous commits (the flush) wait for it until the
    // deadline, commits without synchronous_commit (the append statements) do not.
    const standby = (names: string) =>
      withClient(async (c) => {
        await c.query(`ALTER SYSTEM SET synchronous_standby_names = '${names}'`);
        await c.query('SELECT pg_reload_conf()');
      }, cluster.url());
    const store = await openPostgresStore(cluster.url({ log: 'stalled', timeout: 1_000 }));
    const ac = new AbortController();
    const state = { seen: [] as StoredRecord[], error: undefined as unknown };
    const done = (async () => {
      try {
        for await (const r of store.follow({ signal: ac.signal })) state.seen.push(r);
      } catch (e) {
        state.error = e;
      }
    })();
    try {
      await store.append([draft(0), draft(1)]);
      await until(() => state.seen.length === 2, 'the first batch');
      await standby('nobody');
      await until(
        () =>
          withClient(
            async (c) =>
              (
                (await c.query('SHOW synchronous_standby_names')).rows[0] as
                  { synchronous_standby_names: string } | undefined
              )?.synchronous_standby_names === 'nobody',
            cluster.url(),
          ),
        'the standby setting',
      );
      // Committed, but no flush covers it before the deadline: unavailable to the caller.
      await expect(store.append([draft(2), draft(3)])).rejects.toSatisfy((e) =>
        isEventyError(e, 'unavailable'),
      );
      // The follower woke for it and asked for the flush after the append did: its own try fails a
      // deadline later (margin for a slow machine).
      await sleep(2_500);
      expect(state.error).toBeUndefined();
      expect(state.seen).toHaveLength(2);
      await standby('');
      await store.append([draft(4)]);
      await until(() => state.seen.length === 5 || state.error !== undefined, 'the follower', 15_000);
      expect(state.error).toBeUndefined();
      expect(eventIds(state.seen)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    } finally {
      await standby('').catch(() => undefined);
      ac.abort();
      await done;
      await store.close();
    }
  });
});
