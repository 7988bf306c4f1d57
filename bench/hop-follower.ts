// A follower process of `bench:latency -- --hop`: reads one log and reports, for every record carrying a
// `sentAt`, how long after it was sent the follower had it. argv: eventy <storeUrl> | raw <redisUrl> <key>
// (an Eventy store's own follower, or a bare XREAD BLOCK loop on one stream of JSON entries).
import { Redis } from 'ioredis';
import { openStore } from '../index.js';
import { now } from './redis-procs.js';

const [mode = 'eventy', url = '', key = ''] = process.argv.slice(2);
const latencies: number[] = [];
process.on('message', () => process.send?.(latencies.splice(0)));
process.send?.('ready');

if (mode === 'eventy') {
  const store = await openStore(url);
  for await (const r of store.follow({ from: 0 })) {
    const sentAt = (r as { payload?: { sentAt?: unknown } }).payload?.sentAt;
    if (typeof sentAt === 'number') latencies.push(now() - sentAt);
  }
} else {
  const redis = new Redis(url);
  let id = '0-0';
  for (;;) {
    const reply = await redis.xread('COUNT', 1000, 'BLOCK', 5000, 'STREAMS', key, id);
    for (const [entryId, fields] of reply?.[0]?.[1] ?? []) {
      id = entryId;
      latencies.push(now() - (JSON.parse(fields[1] ?? '{}') as { sentAt: number }).sentAt);
    }
  }
}
