import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../adapters/redis/index.js';
import type { RedisStore } from '../../adapters/redis/index.js';
import { isEventyError } from '../../engine/errors.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { draft } from '../contract/log-store-contract.js';
import { readAll } from '../support/log.js';
import { makeTempDir } from '../support/temp.js';
import { freePort, killServer, startRedisServer } from '../support/redis.js';

/** A follower that collects what it sees and lets the test wait for a count (no timing involved). */
function collectFollow(store: RedisStore, signal: AbortSignal) {
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

describe('redis store across a Redis restart', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let port: number;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('eventy-redis-'));
    port = await freePort();
    server = await startRedisServer(port, dir);
  });

  afterAll(async () => {
    await killServer(server);
    await cleanup();
  });

  it('refuses appends with unavailable while Redis is down, loses nothing acknowledged, and the follower resumes', async () => {
    const store = await openRedisStore(`redis://127.0.0.1:${port}`, { segmentRecords: 16 });
    expect(store.capabilities.durability).toBe('always');
    const ac = new AbortController();
    const follower = collectFollow(store, ac.signal);
    const acked: string[] = [];
    const batch = (n: number): RecordDraft[] => [draft(n), draft(n + 1), draft(n + 2)];
    try {
      for (let n = 0; n < 30; n += 3) {
        const { records } = await store.append(batch(n));
        acked.push(...eventIds(records));
      }
      await follower.reach(30);

      const bystander = await openRedisStore(`redis://127.0.0.1:${port}`);
      await killServer(server);
      for (let i = 0; i < 5; i++) {
        await expect(store.append([draft(1000 + i)])).rejects.toSatisfy((e) =>
          isEventyError(e, 'unavailable'),
        );
      }
      // While Redis is away a follower still ends on abort, and close() does not wait for Redis.
      const stop = new AbortController();
      const stranded = bystander.follow({ from: 30, signal: stop.signal })[Symbol.asyncIterator]().next();
      stop.abort();
      expect(await stranded).toEqual({ done: true, value: undefined });
      const waiting = bystander.follow({ from: 30 })[Symbol.asyncIterator]().next();
      await bystander.close();
      expect(await waiting).toEqual({ done: true, value: undefined });

      server = await startRedisServer(port, dir);
      for (let n = 30; n < 60; n += 3) acked.push(...eventIds(await appendOnceBack(store, batch(n))));
      await follower.reach(60);
    } finally {
      ac.abort();
      await follower.done;
      await store.close();
    }
    expect(follower.seen.map((r) => r.position)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(eventIds(follower.seen)).toEqual(acked);

    const again = await openRedisStore(`redis://127.0.0.1:${port}`);
    try {
      expect(await again.head()).toBe(60);
      expect(eventIds(await readAll(again))).toEqual(acked);
      const times = (await readAll(again)).map((r) => r.time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    } finally {
      await again.close();
    }
  });

  it('closing while Redis is down leaves no socket and no timer behind', async () => {
    const ownPort = await freePort();
    const ownDir = await mkdtemp(join(dir, 'own-'));
    const own = await startRedisServer(ownPort, ownDir);
    const resources = (): string[] =>
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap');
    try {
      const before = resources();
      const store = await openRedisStore(`redis://127.0.0.1:${ownPort}`);
      await store.append([draft(0)]);
      const pending = store.follow({ from: 1 })[Symbol.asyncIterator]().next();
      await killServer(own);
      await expect(store.append([draft(1)])).rejects.toSatisfy((e) => isEventyError(e, 'unavailable'));
      await store.close();
      expect(await pending).toEqual({ done: true, value: undefined });
      // None of its own left: at most what was there before (a timer of another test may end meanwhile).
      const count = (list: string[], kind: string): number => list.filter((r) => r === kind).length;
      for (const kind of ['Timeout', 'TCPSocketWrap'])
        expect(count(resources(), kind)).toBeLessThanOrEqual(count(before, kind));
    } finally {
      await killServer(own);
    }
  });
});

/**
 * Appends once Redis takes appends again: while the store's connection is still coming back, each try
 * must fail with `unavailable` (the test's final comparison with the acknowledged appends shows that
 * none of the refused tries landed). Bounded by the test timeout, not by a clock of its own.
 */
async function appendOnceBack(store: RedisStore, drafts: RecordDraft[]): Promise<readonly StoredRecord[]> {
  for (;;) {
    try {
      return (await store.append(drafts)).records;
    } catch (e) {
      if (!isEventyError(e, 'unavailable')) throw e;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
