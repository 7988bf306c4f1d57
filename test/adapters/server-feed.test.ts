import { describe, expect, it } from 'vitest';
import type { Queue } from '../../index.js';
import { expectContiguous, sseFeed, wsFeed, type FeedClient, type FeedRecord } from '../support/feed.js';
import { served, type Served } from '../support/server.js';
import { sleep, until } from '../support/wait.js';

/** Opens a feed with `query`; `resume`: where a reconnecting client goes on from. */
type Open = (url: string, query: string, resume?: number) => Promise<FeedClient>;
const transports: [string, Open][] = [
  ['WebSocket', (url, query, resume) => wsFeed(url, resume === undefined ? query : `from=${resume}`)],
  // SSE resumes as a browser's EventSource does: the same URL, with Last-Event-ID.
  ['SSE', (url, query, resume) => sseFeed(url, query, resume === undefined ? undefined : resume - 1)],
];

/** Publishes to `queue` at about `rate` events/s until stopped; resolves with how many it published. */
function publisher(queue: Queue<number>, rate: number): { stop(): Promise<number> } {
  const state = { stopped: false };
  let sent = 0;
  const start = Date.now();
  const done = (async () => {
    while (!state.stopped) {
      const due = Math.min(500, Math.floor(((Date.now() - start) * rate) / 1000) - sent);
      if (due > 0) {
        await queue.publishMany(Array.from({ length: due }, (_, i) => sent + i));
        sent += due;
      }
      await sleep(5);
    }
    return sent;
  })();
  return {
    stop: () => {
      state.stopped = true;
      return done;
    },
  };
}

async function lastPosition(s: Served): Promise<number> {
  return (await s.manager.store.head()) - 1;
}

function connections(s: Served): Promise<number> {
  return new Promise((resolve, reject) =>
    s.server.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))),
  );
}

const positions = (records: readonly FeedRecord[]) => records.map((r) => r.position);

describe.each(transports)('the live feed over %s', (name, open) => {
  it('sends every record from a position, then the live ones, each with its position', async () => {
    await using s = await served();
    const q = s.manager.queue<number>('a');
    for (let i = 0; i < 5; i++) await q.publish(i);
    const client = await open(s.server.url, 'from=2');
    await client.reach(4);
    await q.publishMany([5, 6]);
    await client.reach(6);
    expectContiguous(positions(client.records), 2, 6);
    expect(client.records.map((r) => r.payload)).toEqual([2, 3, 4, 5, 6]);
    expect(client.next).toBe(7);
    client.kill();
  });

  it('sends what JSON has no word for as strings: bigints in decimal, bytes in base64', async () => {
    await using s = await served();
    await s.manager.queue('odd').publish({ big: 2n ** 70n, bytes: new Uint8Array([1, 2, 3]), n: 1 });
    const client = await open(s.server.url, 'from=0');
    await client.reach(0);
    expect(client.records[0]?.payload).toEqual({ big: '1180591620717411303424', bytes: 'AQID', n: 1 });
    client.kill();
  });

  it('filters by queue, by type and by subscriber', async () => {
    await using s = await served();
    const a = s.manager.queue<number>('a');
    const b = s.manager.queue<number>('b');
    await a.subscribe(() => 'ok', { name: 'w' });
    await b.subscribe(() => 'ok', { name: 'w' });
    const byQueue = await open(s.server.url, 'from=0&queue=a');
    const byType = await open(s.server.url, 'from=0&type=event.published&type=subscriber.registered');
    const bySub = await open(s.server.url, 'from=0&subscriber=b/w');
    const events = [...(await a.publishMany([1, 2, 3])), ...(await b.publishMany([4, 5]))];
    for (const e of events) await s.manager.queue(e.queue).waitForResult(e.id);
    const all: FeedRecord[] = [];
    for await (const chunk of s.manager.store.readChunks({ from: 0, to: await s.manager.store.head() })) {
      all.push(...(chunk as unknown as FeedRecord[]));
    }
    const want = {
      queue: all.filter((r) => r.queue === 'a'),
      type: all.filter((r) => r.type === 'event.published' || r.type === 'subscriber.registered'),
      sub: all.filter((r) => r.subscriberId === 'b/w'),
    };
    expect(want.sub.some((r) => r.type.startsWith('result'))).toBe(true);
    for (const [client, expected] of [
      [byQueue, want.queue],
      [byType, want.type],
      [bySub, want.sub],
    ] as const) {
      await client.reach(expected.at(-1)!.position);
      await sleep(50); // anything wrongly sent after the last expected record would show now
      const end = all.at(-1)!.position; // what comes later (reservations, heartbeats) is not in `all`
      expect(positions(client.records).filter((p) => p <= end)).toEqual(positions(expected));
      client.kill();
    }
  });

  it('resumed 3 times with its last position under a 2,000 records/s publisher: nothing lost, nothing twice', async () => {
    await using s = await served();
    const q = s.manager.queue<number>('busy');
    await q.subscribe(() => 'ok', { name: 'w' }); // claims and results between the events
    const from = (await lastPosition(s)) + 1;
    const pub = publisher(q, 2000);
    const seen: number[] = [];
    let client = await open(s.server.url, `from=${from}`);
    for (let i = 0; i < 3; i++) {
      await sleep(300 + i * 150);
      await until(() => client.next !== undefined, 'a first record');
      client.kill();
      seen.push(...positions(client.records));
      client = await open(s.server.url, `from=${from}`, client.next);
    }
    await sleep(300);
    const sent = await pub.stop();
    expect(sent).toBeGreaterThan(1000);
    const last = await lastPosition(s);
    await client.reach(last);
    seen.push(...positions(client.records));
    expectContiguous(seen, from, last);
    client.kill();
  });

  it('drops a client too slow to keep up with lagging; the log and the other clients go on', async () => {
    const feedBuffer = 256 * 1024;
    await using s = await served({ feedBuffer });
    const q = s.manager.queue<string>('big');
    const from = (await lastPosition(s)) + 1;
    const follower = await open(s.server.url, '');
    const slow = await open(s.server.url, '');
    const stalled = await open(s.server.url, ''); // never reads again
    slow.pause();
    stalled.pause();
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      for (const c of s.server.app.websocketServer.clients)
        maxBuffered = Math.max(maxBuffered, c.bufferedAmount);
    }, 2);
    const payload = 'x'.repeat(1000);
    let published = 0;
    const dropped = (): boolean => s.server.feedClients() === 1;
    try {
      // The kernel's socket buffers take a few MB first; 64 MB is far past any of them.
      while (!dropped() && published < 64_000) {
        await q.publishMany(Array.from({ length: 250 }, () => payload));
        published += 250;
        await sleep(1);
      }
    } finally {
      clearInterval(sampler);
    }
    expect(dropped()).toBe(true);
    // The log did not wait for the slow client: the follower gets everything while it stays stalled.
    const last = await lastPosition(s);
    await follower.reach(last);
    expectContiguous(positions(follower.records), from, last);
    if (name === 'WebSocket') expect(maxBuffered).toBeLessThan(feedBuffer + 2 * 1024 * 1024);

    slow.resume();
    const code = await slow.ended;
    if (name === 'WebSocket') expect(code).toBe(4008);
    expect(slow.lagging).toBe(slow.next ?? from);
    // One that stopped reading altogether is cut after a grace: it holds no buffer for long.
    await until(async () => (await connections(s)) === 1, 'the stalled client cut off', 15_000);
    // Lossless all the same: resuming from where `lagging` said picks up exactly there.
    const again = await open(s.server.url, `from=${slow.lagging}`, slow.lagging);
    await again.reach(last);
    expectContiguous([...positions(slow.records), ...positions(again.records)], from, last);
    follower.kill();
    again.kill();
    stalled.kill();
  });
});
