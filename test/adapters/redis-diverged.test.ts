import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRedisStore, type RedisStore } from '../../adapters/redis/index.js';
import { isEventyError } from '../../engine/errors.js';
import type { AppendResult } from '../../engine/storage.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { draft } from '../contract/log-store-contract.js';
import { until } from '../support/wait.js';
import { freePort, killServer, quitClient, startRedisServer } from '../support/redis.js';

/** A follower that keeps what it delivered and how it ended. */
function follow(store: RedisStore) {
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

/** Tries an append until Redis answers it (while the store's connection comes back it is `unavailable`). */
async function appendAnswered(store: RedisStore, drafts: RecordDraft[]): Promise<AppendResult | Error> {
  for (;;) {
    try {
      return await store.append(drafts);
    } catch (e) {
      if (!isEventyError(e, 'unavailable')) return e as Error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const batch = (from: number, n: number): RecordDraft[] =>
  Array.from({ length: n }, (_, i) => draft(from + i));
const ids = (records: readonly StoredRecord[]): string[] =>
  records.map((r) => (r as unknown as { eventId: string }).eventId);

describe('redis store: a server that lost or rolled back the log', () => {
  let dir: string;
  let port: number;
  let url: string;
  let server: ChildProcess | undefined;
  const opened: RedisStore[] = [];
  const open = async (): Promise<RedisStore> => {
    const store = await openRedisStore(url, { segmentRecords: 16 });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventy-diverged-'));
    port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    server = await startRedisServer(port, dir, 'none');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await killServer(server);
    await rm(dir, { recursive: true, force: true });
  });

  it('restarted empty (no persistence): publishers get log-diverged, not an acknowledgement, and followers stop with it', async () => {
    const publisher = await open();
    const reader = await open();
    const follower = follow(reader);
    await publisher.append(batch(0, 20));
    await until(() => follower.state.seen.length === 20);

    await killServer(server);
    server = await startRedisServer(port, dir, 'none');

    const refused = await appendAnswered(publisher, batch(100, 3));
    expect(isEventyError(refused, 'log-diverged'), (refused as Error).message).toBe(true);
    expect((refused as Error).message).toMatch(/expected id \S+ epoch 1, found no identity/);
    // A publisher started now takes the log as it is: a new one, from position 0.
    const newcomer = await open();
    expect((await newcomer.append(batch(200, 25))).positions[0]).toBe(0);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect(follower.state.seen.length).toBe(20);
    // The refused publisher stays refused, and nothing it sent is in the new log.
    expect(isEventyError(await appendAnswered(publisher, batch(300, 1)), 'log-diverged')).toBe(true);
    const kept: StoredRecord[] = [];
    for await (const r of newcomer.read()) kept.push(r);
    expect(ids(kept)).toEqual(batch(200, 25).map((d) => (d as { eventId: string }).eventId));
  });

  it('rolled back to an older dump: appends of a handle that saw more are refused; a follower finds its last record replaced', async () => {
    const publisher = await open();
    const reader = await open();
    const follower = follow(reader);
    await publisher.append(batch(0, 30));
    const admin = new Redis(url);
    try {
      await admin.save();
    } finally {
      await quitClient(admin);
    }
    await copyFile(join(dir, 'dump.rdb'), join(dir, 'older.rdb'));
    await publisher.append(batch(30, 20));
    await until(() => follower.state.seen.length === 50);

    await killServer(server);
    await copyFile(join(dir, 'older.rdb'), join(dir, 'dump.rdb'));
    server = await startRedisServer(port, dir, 'none');

    // The log is back at head 30 with its identity: the publisher saw 50, so it must not append.
    const refused = await appendAnswered(publisher, batch(100, 3));
    expect(isEventyError(refused, 'log-diverged'), (refused as Error).message).toBe(true);
    expect((refused as Error).message).toMatch(/head of at least 50.*head of 30/);
    // A publisher opened now appends at 30 and on: positions 30-54 hold other records than before.
    const newcomer = await open();
    expect(await newcomer.identity()).toEqual(await publisher.identity());
    expect((await newcomer.append(batch(200, 25))).positions[0]).toBe(30);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect((follower.state.error as Error).message).toMatch(/record delivered at position 49/);
    expect(follower.state.seen.map((r) => r.position)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
