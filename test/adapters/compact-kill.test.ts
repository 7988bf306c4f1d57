import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../index.js';
import { draft } from '../contract/log-store-contract.js';
import { Children } from '../support/children.js';
import { collect } from '../support/log.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { tempDir } from '../support/temp.js';
import { sleep } from '../support/wait.js';

const RECORDS = 600;
/** Key prefixes of the Redis logs made here, deleted after each test. */
const prefixes: string[] = [];

describe.each([
  // Small segments (1 KiB, 12 records), so that the log has many for the compactor to remove one by one.
  ['filesystem', async () => `file:${join(await tempDir(), 'log')}?segmentBytes=1024`],
  [
    'Redis',
    () => {
      const prefix = uniquePrefix();
      prefixes.push(prefix);
      return Promise.resolve(`${REDIS_URL}?prefix=${prefix}&segmentRecords=12`);
    },
  ],
])('%s store: a process killed while compacting', (_name, freshUrl) => {
  const children = new Children();
  afterEach(async () => {
    await children.killAll();
    await Promise.all(prefixes.splice(0).map((p) => deletePrefix(p)));
  });

  it('leaves a consistent log: first, head and records agree, and compaction goes on from there', async () => {
    for (let round = 0; round < 4; round++) {
      const url = await freshUrl();
      const store = await openStore(url);
      for (let i = 0; i < RECORDS; i += 6) await store.append([0, 1, 2, 3, 4, 5].map((k) => draft(i + k)));
      const all = await collect(store.read());
      // A snapshot covering the whole log: compaction removes nothing before the newest one.
      await store.putSnapshot(RECORDS - 1, Uint8Array.of(1));
      await store.close();

      const child = children.spawn('compactor', [url]);
      await child.waitForLine((l) => l === 'ready');
      await sleep(5 + Math.random() * 40 * (round + 1));
      child.proc.kill('SIGKILL');
      await child.exited;

      const again = await openStore(url);
      try {
        const first = await again.first();
        const reported = child.lines.filter((l) => /^\d+$/.test(l)).map(Number);
        // At least what the child reported, and never past the last compaction it could have started.
        expect(first).toBeGreaterThanOrEqual(reported.at(-1) ?? 0);
        expect(await again.head()).toBe(RECORDS);
        expect(await collect(again.read())).toEqual(all.slice(first));
        if (first > 0) {
          await expect(collect(again.read({ from: first - 1 }))).rejects.toMatchObject({
            code: 'truncated',
            first,
          });
        }
        if (again.checkStorage) expect(await again.checkStorage()).toEqual([]);
        // The next compaction goes on from there.
        const r = await again.compact({ keepFrom: RECORDS, policy: { maxBytes: 0 } });
        expect(r.first).toBeGreaterThan(first);
        expect(await collect(again.read({ from: r.first }))).toEqual(all.slice(r.first));
        if (again.checkStorage) expect(await again.checkStorage()).toEqual([]);
      } finally {
        await again.close();
      }
    }
  });
});
