import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { openStore } from '../../adapters/open-store.js';
import { fromRedis, openRedisStore } from '../../adapters/redis/index.js';
import { FOLLOW_OPTIONS, release } from '../../adapters/redis/redis-connection.js';
import { followLog } from '../../adapters/redis/redis-follow.js';
import { RedisLayout } from '../../adapters/redis/redis-layout.js';
import { encodeBatch, encodeFrame, encodeRecord, scanFrames } from '../../engine/codec.js';
import type { StoredRecord } from '../../engine/records.js';
import { Continuity } from '../../engine/continuity.js';
import { draft, logStoreContract } from '../contract/log-store-contract.js';
import { collect } from '../support/log.js';
import { deletePrefix, keysUnder, quitClient, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { sleep } from '../support/wait.js';

// Segments of 7 records: the contract's tests roll segments many times.
logStoreContract('redis', () => {
  const keyPrefix = uniquePrefix();
  return Promise.resolve({
    open: () => openRedisStore(REDIS_URL, { keyPrefix, segmentRecords: 7 }),
    cleanup: () => deletePrefix(keyPrefix),
    persistent: true,
    lose: () => deletePrefix(keyPrefix),
  });
});

// The same contract on users' clients (fromRedis), with RESP3 maps as plain objects: the store must read
// either reply shape, and must leave the clients open (the harness closes them).
logStoreContract('redis via fromRedis, RESP3 replies', () => {
  const keyPrefix = uniquePrefix();
  const clients: Redis<'resp3'>[] = [];
  return Promise.resolve({
    open: () => {
      const client = new Redis(REDIS_URL, { protocol: 3, replyMapping: 'resp3' });
      clients.push(client);
      return fromRedis(client, { keyPrefix, segmentRecords: 5 });
    },
    cleanup: async () => {
      for (const client of clients) expect(client.status).toBe('ready');
      await Promise.all(clients.map(quitClient));
      await deletePrefix(keyPrefix);
    },
    persistent: true,
    lose: () => deletePrefix(keyPrefix),
  });
});

describe('redis store', () => {
  const prefixes: string[] = [];
  function prefix(): string {
    const p = uniquePrefix();
    prefixes.push(p);
    return p;
  }
  afterAll(async () => {
    await Promise.all(prefixes.map((p) => deletePrefix(p)));
  });

  it('keeps every key of a log under one hash tag, one stream per segment', async () => {
    const keyPrefix = prefix();
    await using store = await openRedisStore(`${REDIS_URL}?prefix=${keyPrefix}&log=orders&segmentRecords=4`);
    await store.append(Array.from({ length: 10 }, (_, i) => draft(i)));
    expect(await keysUnder(keyPrefix)).toEqual([
      `${keyPrefix}:{orders}:meta`,
      `${keyPrefix}:{orders}:s:0`,
      `${keyPrefix}:{orders}:s:4`,
      `${keyPrefix}:{orders}:s:8`,
    ]);
    expect((await store.segments()).map((s) => [s.base, s.from, s.to])).toEqual([
      [0, 0, 4],
      [4, 4, 8],
      [8, 8, 10],
    ]);
  });

  it('opens through openStore with the options in the URL', async () => {
    const keyPrefix = prefix();
    await using store = await openStore(`${REDIS_URL}?prefix=${keyPrefix}&log=x`);
    expect(store.capabilities.multiProcess).toBe(true);
    await store.append([draft(0)]);
    expect(await keysUnder(keyPrefix)).toContain(`${keyPrefix}:{x}:s:0`);
  });

  it('fixes the segment size when the log is created', async () => {
    const keyPrefix = prefix();
    const first = await openRedisStore(REDIS_URL, { keyPrefix, segmentRecords: 5 });
    await first.close();
    const again = await openRedisStore(REDIS_URL, { keyPrefix });
    expect(again.segmentRecords).toBe(5);
    await again.close();
    await expect(openRedisStore(REDIS_URL, { keyPrefix, segmentRecords: 6 })).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });

  it('groups concurrent appends of one handle, each batch atomic and checked on its own', async () => {
    await using store = await openRedisStore(REDIS_URL, { keyPrefix: prefix(), segmentRecords: 3 });
    const results = await Promise.allSettled([
      store.append([draft(0), draft(1)], { expectedHead: 0 }),
      store.append([draft(2)], { expectedHead: 0 }),
      store.append([draft(3)], { expectedHead: 2 }),
      store.append([draft(4), draft(5), draft(6), draft(7)]),
    ]);
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value.positions : (r.reason as Error).name)),
    ).toEqual([[0, 1], 'ConflictError', [2], [3, 4, 5, 6]]);
    const read = await collect(store.read());
    expect(read.map((r) => (r as unknown as { eventId: string }).eventId)).toEqual([
      'e0',
      'e1',
      'e3',
      'e4',
      'e5',
      'e6',
      'e7',
    ]);
    // Each append's batch boundaries survive the grouping.
    expect((await store.exportSegment(3)).equals(encodeBatch(read.slice(3, 6)))).toBe(true);
  });

  it('keeps up to 4 calls in flight: a slow answer does not hold the appends after it', async () => {
    const client = new Redis(REDIS_URL);
    // Every script answer comes 30 ms late: a slow round trip.
    const evalsha = client.evalsha.bind(client) as (...a: unknown[]) => Promise<unknown>;
    let inFlight = 0;
    let most = 0;
    const slow = async (...a: unknown[]): Promise<unknown> => {
      most = Math.max(most, ++inFlight);
      const reply = await evalsha(...a);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return reply;
    };
    (client as unknown as { evalsha: typeof slow }).evalsha = slow;
    const store = await fromRedis(client, { keyPrefix: prefix() });
    // The first call goes alone (the script may have to be loaded); the rest overlap.
    await store.append([draft(0)]);
    expect(most).toBe(1);
    const appends: Promise<{ positions: readonly number[]; time: number }>[] = [];
    for (let i = 1; i <= 6; i++) {
      appends.push(store.append([draft(i)])); // one turn each
      await new Promise((r) => setImmediate(r));
    }
    const done = await Promise.all(appends);
    expect(most).toBe(4);
    expect(done.map((d) => d.positions)).toEqual([[1], [2], [3], [4], [5], [6]]);
    // The two that waited for a free call went together in one.
    expect(done[5]?.time).toBe(done[4]?.time);
    await store.close();
    await quitClient(client);
  });

  it('sends the appends of one turn together, and those made just before close()', async () => {
    const keyPrefix = prefix();
    const store = await openRedisStore(REDIS_URL, { keyPrefix });
    // one turn: one script call, so one log time for all
    const together = await Promise.all([store.append([draft(0)]), store.append([draft(1), draft(2)])]);
    expect(together.map((r) => r.positions)).toEqual([[0], [1, 2]]);
    expect(together[1].time).toBe(together[0].time);
    expect(together[1].records.map((r) => r.position)).toEqual([1, 2]);
    const late = store.append([draft(3)]);
    await store.close();
    expect((await late).positions).toEqual([3]);
    await using again = await openRedisStore(REDIS_URL, { keyPrefix });
    expect(await again.head()).toBe(4);
  });

  it('fromRedis never closes the user client', async () => {
    const keyPrefix = prefix();
    const user = new Redis(REDIS_URL);
    try {
      const store = await fromRedis(user, { keyPrefix });
      await store.append([draft(0), draft(1)]);
      const ac = new AbortController();
      const seen: number[] = [];
      for await (const r of store.follow({ signal: ac.signal })) {
        seen.push(r.position);
        if (seen.length === 2) ac.abort();
      }
      const pending = store.follow()[Symbol.asyncIterator]().next();
      await store.close();
      expect(await pending).toEqual({ done: true, value: undefined });
      expect(seen).toEqual([0, 1]);
      expect(user.status).toBe('ready');
      expect(await user.ping()).toBe('PONG');
      expect(await user.hget(`${keyPrefix}:{default}:meta`, 'head')).toBe('2');
    } finally {
      await quitClient(user);
    }
    await expect(fromRedis({} as never)).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  // Frames of records appended in batches of `size`, cut at the end of the export.
  function framesOf(records: readonly StoredRecord[], size: number): Buffer {
    const last = records.length - 1;
    return Buffer.concat(records.map((r, i) => encodeFrame(r, i < last && r.position % size !== size - 1)));
  }

  it('works on a user client that has its own ioredis keyPrefix', async () => {
    const keyPrefix = prefix();
    const user = new Redis(REDIS_URL, { keyPrefix: `${keyPrefix}:app:` });
    try {
      const store = await fromRedis(user, { keyPrefix: 'ev', segmentRecords: 2 });
      await store.append([draft(0), draft(1), draft(2)]);
      const ac = new AbortController();
      const seen: number[] = [];
      for await (const r of store.follow({ signal: ac.signal })) {
        seen.push(r.position);
        if (seen.length === 3) ac.abort();
      }
      expect(seen).toEqual([0, 1, 2]);
      expect((await collect(store.read())).length).toBe(3);
      await store.close();
      expect(await keysUnder(keyPrefix)).toEqual([
        `${keyPrefix}:app:ev:{default}:meta`,
        `${keyPrefix}:app:ev:{default}:s:0`,
        `${keyPrefix}:app:ev:{default}:s:2`,
      ]);
    } finally {
      await quitClient(user);
    }
  });

  it('stores exactly the bytes encodeRecord writes: segment exports decode to the same records', async () => {
    await using store = await openRedisStore(REDIS_URL, { keyPrefix: prefix(), segmentRecords: 8 });
    for (let i = 0; i < 20; i += 5) await store.append([0, 1, 2, 3, 4].map((k) => draft(i + k)));
    const records = await collect(store.read());
    const segments = await store.segments();
    expect(segments.map((s) => s.base)).toEqual([0, 8, 16]);
    for (const s of segments) {
      const frames = await store.exportSegment(s.base);
      const inSegment = records.slice(s.from, s.to);
      // Batches keep their boundaries; the one running into the next segment is cut at its end.
      expect(frames.equals(framesOf(inSegment, 5))).toBe(true);
      const scanned = [...scanFrames(frames, 'export')].map((f) => (f.kind === 'record' ? f.record : f));
      expect(scanned).toEqual(inSegment);
    }
    await expect(store.exportSegment(24)).rejects.toMatchObject({ code: 'not-found' });
    await expect(store.exportSegment(3)).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('imports a segment file byte for byte, batch boundaries included', async () => {
    await using source = await openRedisStore(REDIS_URL, { keyPrefix: prefix() });
    await source.append([draft(0), draft(1), draft(2)]);
    await source.append([draft(3)]);
    await source.append([draft(4), draft(5)]);
    const records = await collect(source.read());
    // What a filesystem segment holds: one encodeBatch per append.
    const file = Buffer.concat([records.slice(0, 3), records.slice(3, 4), records.slice(4)].map(encodeBatch));
    await using target = await openRedisStore(REDIS_URL, { keyPrefix: prefix() });
    await expect(target.importSegment(file)).resolves.toEqual({ from: 0, to: 6 });
    expect((await target.exportSegment(0)).equals(file)).toBe(true);
    expect((await source.exportSegment(0)).equals(file)).toBe(true);
    expect(await collect(target.read())).toEqual(records);
  });

  it('takes a filesystem segment file byte for byte, and gives it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eventy-fs-'));
    try {
      const files = await openFileStore(`file:${dir}`, { durability: 'never' });
      await files.append([draft(0), draft(1), draft(2)]);
      await files.append([draft(3)]);
      await files.append([draft(4), draft(5)]);
      const [segment] = await files.segments();
      const fileRecords = await collect(files.read());
      await files.close();
      const bytes = await readFile(segment!.file);
      await using redis = await openRedisStore(REDIS_URL, { keyPrefix: prefix() });
      await expect(redis.importSegment(bytes)).resolves.toEqual({ from: 0, to: 6 });
      expect(await collect(redis.read())).toEqual(fileRecords);
      expect((await redis.exportSegment(0)).equals(bytes)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('imports exported segments, and refuses frames that do not continue the log', async () => {
    await using source = await openRedisStore(REDIS_URL, { keyPrefix: prefix(), segmentRecords: 8 });
    await source.append(Array.from({ length: 19 }, (_, i) => draft(i)));
    await using target = await openRedisStore(REDIS_URL, { keyPrefix: prefix(), segmentRecords: 8 });
    const exported = await Promise.all([0, 8, 16].map((b) => source.exportSegment(b)));
    // An empty log may start where the frames start (older segments dropped).
    await expect(target.importSegment(exported[1]!)).resolves.toEqual({ from: 8, to: 16 });
    await expect(target.importSegment(exported[0]!)).rejects.toMatchObject({ code: 'conflict' });
    const torn = exported[2]!.subarray(0, exported[2]!.length - 3);
    await expect(target.importSegment(torn)).rejects.toMatchObject({ code: 'corrupt-record' });
    await target.importSegment(exported[2]!);
    expect(await target.head()).toBe(19);
    expect(await collect(target.read())).toEqual(await collect(source.read({ from: 8 })));
    expect((await target.exportSegment(8)).equals(exported[1]!)).toBe(true);
    // Appends after an import continue its positions and time.
    const { positions, time } = await target.append([draft(19)]);
    expect(positions).toEqual([19]);
    expect(time).toBeGreaterThanOrEqual((await collect(source.read({ from: 18 })))[0]!.time);
  });

  it('writes positions and times around every CBOR number width exactly as cbor-x does', async () => {
    for (const start of [20, 250, 65_530, 2 ** 32 - 3]) {
      await using store = await openRedisStore(REDIS_URL, { keyPrefix: prefix() });
      const seed = { ...draft(0), v: 1, position: start, time: 5 } as StoredRecord;
      await store.importSegment(encodeFrame(seed));
      await store.append(Array.from({ length: 7 }, (_, i) => draft(i + 1)));
      const records = await collect(store.read());
      expect(records.map((r) => r.position)).toEqual(Array.from({ length: 8 }, (_, i) => start + i));
      for (const s of await store.segments()) {
        const expected = Buffer.concat(
          records.slice(s.from - start, s.to - start).map((r) => encodeRecord(r)),
        );
        const frames = await store.exportSegment(s.base);
        const bodies = [...scanFrames(frames, 'x')].map((f) =>
          f.kind === 'record' ? frames.subarray(f.offset + 8, f.end) : Buffer.alloc(0),
        );
        expect(Buffer.concat(bodies).equals(expected)).toBe(true);
      }
    }
  });

  it('drops old segments for retention: reads and follows start at the first kept position, or are truncated when asked for earlier ones', async () => {
    await using store = await openRedisStore(REDIS_URL, { keyPrefix: prefix(), segmentRecords: 7 });
    await store.append(Array.from({ length: 20 }, (_, i) => draft(i)));
    expect(await store.dropSegmentsBefore(16)).toEqual({ dropped: 2, first: 14 });
    expect(await store.dropSegmentsBefore(16)).toEqual({ dropped: 0, first: 14 });
    expect((await store.segments()).map((s) => s.base)).toEqual([14]);
    const from0 = { from: 0 };
    await expect(collect(store.read(from0))).rejects.toMatchObject({
      code: 'truncated',
      requested: 0,
      first: 14,
    });
    await expect(collect(store.follow(from0), 1)).rejects.toMatchObject({ code: 'truncated', first: 14 });
    expect((await collect(store.read())).map((r) => r.position)).toEqual([14, 15, 16, 17, 18, 19]);
    const ac = new AbortController();
    const seen: number[] = [];
    for await (const r of store.follow({ signal: ac.signal })) {
      seen.push(r.position);
      if (r.position === 19) ac.abort();
    }
    expect(seen).toEqual([14, 15, 16, 17, 18, 19]);
    expect(await store.head()).toBe(20);
  });

  it('follows records that come one at a time, in bursts and after quiet spells, each once and in order', async () => {
    // The follower's own loop, with a short block: one read at a time in bulk, a window of reads sent
    // together while records come one by one, a new connection when a window's read times out.
    const keyPrefix = prefix();
    await using store = await openRedisStore(REDIS_URL, { keyPrefix, segmentRecords: 7 });
    const base = new Redis(REDIS_URL);
    const conns: Redis[] = [];
    const ac = new AbortController();
    const follower = followLog(
      {
        layout: new RedisLayout({ keyPrefix, log: 'default' }),
        segmentRecords: 7,
        blockMs: 300,
        continuity: new Continuity(store.url, await store.identity()),
        command: (_what, run) => run(base),
        connect: () => {
          const conn = base.duplicate(FOLLOW_OPTIONS);
          conns.push(conn);
          return conn;
        },
        release,
      },
      () => ({ from: 0, signal: ac.signal }),
    );
    const seen: number[] = [];
    const reading = (async () => {
      for await (const chunk of follower) for (const r of chunk) seen.push(r.position);
    })();
    const until = async (n: number): Promise<void> => {
      const t0 = Date.now();
      while (seen.length < n) {
        if (Date.now() - t0 > 5000) throw new Error(`follower stuck at ${seen.length} of ${n} records`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    let next = 0;
    const one = async (): Promise<void> => {
      await store.append([draft(next++)]);
      await until(next);
    };
    for (let i = 0; i < 40; i++) await one(); // one at a time: windows of reads, across segment rolls
    await store.append(Array.from({ length: 500 }, () => draft(next++))); // a burst: back to bulk reads
    await until(next);
    for (let i = 0; i < 5; i++) await one();
    await Promise.all([store.append([draft(next++)]), store.append([draft(next++), draft(next++)])]);
    await until(next);
    await sleep(700); // quiet past the block time: the window's reads still waiting are dropped
    const connections = conns.length;
    for (let i = 0; i < 20; i++) await one();
    await sleep(700);
    await store.append(Array.from({ length: 3 }, () => draft(next++)));
    await until(next);
    ac.abort();
    await reading;
    await quitClient(base);
    expect(seen).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(connections).toBeGreaterThan(1);
    expect(conns.every((c) => c.status === 'end')).toBe(true);
  });

  it('leaves no socket open after close', async () => {
    const sockets = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const store = await openRedisStore(REDIS_URL, { keyPrefix: prefix() });
    await store.append([draft(0)]);
    const ac = new AbortController();
    const waiting = store.follow({ from: 1, signal: ac.signal })[Symbol.asyncIterator]().next();
    const other = store.follow({ from: 5 })[Symbol.asyncIterator]();
    const otherNext = other.next();
    ac.abort();
    expect(await waiting).toEqual({ done: true, value: undefined });
    await store.close();
    expect(await otherNext).toEqual({ done: true, value: undefined });
    expect(sockets()).toBe(before);
  });
});
