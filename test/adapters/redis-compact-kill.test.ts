import { afterEach, describe, expect, it } from 'vitest';
import { openRedisStore } from '../../adapters/redis/index.js';
import { draft } from '../contract/log-store-contract.js';
import { Children } from '../support/children.js';
import { collect } from '../support/log.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { sleep } from '../support/wait.js';

const RECORDS = 600;

describe('Redis store: a process killed while compacting', () => {
  const children = new Children();
  const prefixes: string[] = [];
  afterEach(async () => {
    await children.killAll();
    await Promise.all(prefixes.splice(0).map((p) => deletePrefix(p)));
  });

  it('leaves a consistent log: first, head and records agree, and compaction goes on from there', async () => {
    for (let round = 0; round < 4; round++) {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      const url = `${REDIS_URL}?prefix=${prefix}&segmentRecords=12`;
      const store = await openRedisStore(url);
      for (let i = 0; i < RECORDS; i += 6) await store.append([0, 1, 2, 3, 4, 5].map((k) => draft(i + k)));
      const all = await collect(store.read());
      await store.close();

      const child = children.spawn('redis-compactor', [url]);
      await child.waitForLine((l) => l === 'ready');
      await sleep(5 + Math.random() * 40 * (round + 1));
      child.proc.kill('SIGKILL');
      await child.exited;

      const again = await openRedisStore(url);
      try {
        const first = await again.first();
        const reported = child.lines.filter((l) => /^\d+$/.test(l)).map(Number);
        expect(first).toBeGreaterThanOrEqual(reported.at(-1) ?? 0);
        expect(await again.head()).toBe(RECORDS);
        expect(await collect(again.read())).toEqual(all.slice(first));
        if (first > 0) {
          await expect(collect(again.read({ from: first - 1 }))).rejects.toMatchObject({
            code: 'truncated',
            first,
          });
        }
        const r = await again.compact({ keepFrom: RECORDS, policy: { maxBytes: 0 } });
        expect(r.first).toBeGreaterThan(first);
        expect(await collect(again.read({ from: r.first }))).toEqual(all.slice(r.first));
      } finally {
        await again.close();
      }
    }
  });
});
