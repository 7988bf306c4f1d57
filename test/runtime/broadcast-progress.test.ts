import { describe, expect, it } from 'vitest';
import type { QueueManager } from '../../index.js';
import { manager, memoryUrl } from '../support/manager.js';
import { until } from '../support/wait.js';

describe('broadcast, per Eventy: each worker handles every event it has not handled', () => {
  let store = '';

  async function worker(workerId: string, seen: number[]): Promise<QueueManager> {
    const m = await manager({ store, workerId });
    await m.queue<{ n: number }>('news').subscribe((e) => void seen.push(e.payload.n), {
      name: 'printer',
      delivery: 'broadcast',
      from: 'earliest',
    });
    return m;
  }

  it('a restarted worker goes on where it was; a new one handles everything since the start', async () => {
    store = memoryUrl();
    const publisher = await manager({ store });
    const q = publisher.queue<{ n: number }>('news');
    for (const n of [1, 2, 3]) await q.publish({ n });

    const first: number[] = [];
    const a = await worker('worker-a', first);
    await until(() => first.length === 3 || undefined, 'a handled 1–3', 5000);
    await a.close();

    for (const n of [4, 5]) await q.publish({ n });
    const again: number[] = [];
    await worker('worker-a', again);
    const fresh: number[] = [];
    await worker('worker-b', fresh);
    await until(() => (again.length === 2 && fresh.length === 5) || undefined, 'both caught up', 5000);
    await new Promise((r) => setTimeout(r, 100));
    expect(first).toEqual([1, 2, 3]);
    expect(again).toEqual([4, 5]);
    expect(fresh).toEqual([1, 2, 3, 4, 5]);
  });
});
