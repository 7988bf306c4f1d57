import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { createQueueManager, isEventyError } from '../../index.js';
import { tempDir } from '../support/temp.js';

let root: string;
beforeEach(async () => {
  root = await tempDir('eventy-corrupt-');
});

it('a manager on a log with a corrupt record fails to start with corrupt-record instead of hanging', async () => {
  const store = `file:${path.join(root, 'log')}`;
  {
    await using m = await createQueueManager({ store, handleSignals: false });
    const q = m.queue<{ n: number }>('q');
    for (let i = 0; i < 20; i++) await q.publish({ n: i });
  }
  const segment = path.join(root, 'log', '00000000000000000000.seg');
  const bytes = await fs.readFile(segment);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
  await fs.writeFile(segment, bytes);
  const error: unknown = await createQueueManager({ store, handleSignals: false, fold: 'eager' }).then(
    async (m) => {
      await m.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(isEventyError(error, 'corrupt-record'), String(error)).toBe(true);
  // A lazy manager opens (it may only publish) and fails when it starts folding: queries, subscribe.
  await using lazy = await createQueueManager({ store, handleSignals: false });
  const q = lazy.queue<{ n: number }>('q');
  await expect(q.searchEvents()).rejects.toMatchObject({ code: 'corrupt-record' });
  await expect(q.subscribe(() => undefined, { name: 'work' })).rejects.toMatchObject({
    code: 'corrupt-record',
  });
});
