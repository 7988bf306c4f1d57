import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { draft } from '../contract/log-store-contract.js';
import { Children } from '../support/children.js';
import { collect } from '../support/log.js';
import { tempDir } from '../support/temp.js';
import { sleep } from '../support/wait.js';

const SEGMENT_BYTES = 1024;
const RECORDS = 600;

describe('filesystem store: a process killed while compacting', () => {
  const children = new Children();
  afterEach(() => children.killAll());

  it('leaves a consistent log: first, head and records agree, and the storage checks pass', async () => {
    for (let round = 0; round < 4; round++) {
      const dir = join(await tempDir(), 'log');
      const url = `file:${dir}`;
      const store = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
      for (let i = 0; i < RECORDS; i += 6) await store.append([0, 1, 2, 3, 4, 5].map((k) => draft(i + k)));
      const all = await collect(store.read());
      await store.close();

      const child = children.spawn('fs-compactor', [url, String(SEGMENT_BYTES)]);
      await child.waitForLine((l) => l === 'ready');
      await sleep(5 + Math.random() * 40 * (round + 1));
      child.proc.kill('SIGKILL');
      await child.exited;

      const again = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
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
        expect(await again.checkStorage()).toEqual([]);
        // The next compaction goes on from there.
        const r = await again.compact({ keepFrom: RECORDS, policy: { maxBytes: 0 } });
        expect(await collect(again.read({ from: r.first }))).toEqual(all.slice(r.first));
        expect(await again.checkStorage()).toEqual([]);
      } finally {
        await again.close();
      }
    }
  });
});
