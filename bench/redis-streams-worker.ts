// The raw Redis Streams ceiling for bench/redis.ts: one consumer of a group, XREADGROUP in batches and one
// XACK per batch, sent together with the next read (one round trip per batch). A trivial handler.
// argv: redisUrl streamKey group batch
import { Redis } from 'ioredis';
import { serveWorker } from './redis-procs.js';

const [url = '', key = '', group = 'bench', batch = '100'] = process.argv.slice(2);
const consumer = `c-${process.pid}`;
const redis = new Redis(url, { maxRetriesPerRequest: null });
let stopping = false;

const side = serveWorker(async () => {
  stopping = true;
  await stopped;
  await redis.quit();
}, true);

type Reply = [stream: string, entries: [id: string, fields: string[]][]][] | null;

async function consume(): Promise<void> {
  while (!stopping) {
    const reply = (await redis.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      Number(batch),
      'BLOCK',
      100,
      'STREAMS',
      key,
      '>',
    )) as Reply;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    for (const [, fields] of entries) {
      const payload = JSON.parse(fields[1] ?? '{}') as { sentAt: number };
      side.started(payload.sentAt);
    }
    // Not awaited: the ack and the next read leave together, and replies come back in order.
    void redis.xack(key, group, ...entries.map(([id]) => id)).then((n) => side.finished(n));
  }
}

const stopped = consume();
side.ready();
