import { describe, expect, it } from 'vitest';
import { openStore } from '../../index.js';
import type { RecordDraft, StoredRecord } from '../../engine/records.js';
import { ClaimAhead, MAX_AHEAD } from '../../runtime/dispatch/claim-ahead.js';
import { manager, memoryUrl } from '../support/manager.js';
import { until } from '../support/wait.js';

describe('ClaimAhead', () => {
  it('claims ahead what two claim trips take at the rate events run, within its bounds', () => {
    const ahead = new ClaimAhead(10);
    expect(ahead.prefetch).toBe(10); // nothing measured: the least
    // 20 events a ms, claims taking 4 ms: 160 ahead (2 trips), once the smoothing has caught up.
    let starts = 0;
    for (let t = 0; t <= 500; t += 5) {
      ahead.started(starts, t);
      ahead.tripped(4);
      starts += 100;
    }
    expect(ahead.prefetch).toBeGreaterThan(150);
    expect(ahead.prefetch).toBeLessThanOrEqual(160);
    // Faster still: capped.
    for (let t = 505; t <= 1000; t += 5) {
      ahead.started(starts, t);
      ahead.tripped(20);
      starts += 100;
    }
    expect(ahead.prefetch).toBe(MAX_AHEAD);
  });

  it('stays at the least for slow handlers, and starts over after a pause', () => {
    const ahead = new ClaimAhead(10);
    let starts = 0;
    for (let t = 0; t <= 10_000; t += 100) {
      ahead.started(starts, t);
      ahead.tripped(5);
      starts += 1; // 10 events a second
    }
    expect(ahead.prefetch).toBe(10);
    const quick = new ClaimAhead(10);
    for (let t = 0, n = 0; t <= 200; t += 5, n += 100) {
      quick.started(n, t);
      quick.tripped(5);
    }
    expect(quick.prefetch).toBeGreaterThan(10);
    for (let i = 1; i <= 20; i++) quick.started(4_000 + i, 10_000 + i * 2_000); // idle for seconds
    expect(quick.prefetch).toBe(10);
  });

  it('never goes below a `concurrency` larger than its cap', () => {
    expect(new ClaimAhead(1000).prefetch).toBe(1000);
  });
});

describe('claiming ahead', () => {
  /** A memory store whose appends take `ms` (a trip to a database), and the claim batches' sizes. */
  async function slowStore(ms: number) {
    const store = await openStore(memoryUrl());
    const slow = new Proxy(store, {
      get: (target, key) => {
        if (key === 'append')
          return async (drafts: readonly RecordDraft[], options?: object) => {
            await new Promise((r) => setTimeout(r, ms));
            return target.append(drafts, options);
          };
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const batches = async (): Promise<number[]> => {
      const sizes: number[] = [];
      for await (const r of store.read()) {
        const c = r as StoredRecord & { items?: unknown[] };
        if (r.type === 'claims.acquired') sizes.push(c.items?.length ?? 0);
      }
      return sizes;
    };
    return { store, slow, batches };
  }

  async function run(prefetch: number | undefined): Promise<number[]> {
    const { store, slow, batches } = await slowStore(10);
    const m = await manager({ store: slow });
    const q = m.queue<number>('jobs');
    await q.publishMany(Array.from({ length: 2_000 }, (_, i) => i));
    let done = 0;
    await q.subscribe(
      () => {
        done++;
      },
      {
        name: 'w',
        concurrency: 10,
        from: 'earliest',
        ...(prefetch === undefined ? {} : { prefetch }),
      },
    );
    await until(() => done === 2_000, 'the backlog');
    await m.close();
    const sizes = await batches();
    await store.close();
    return sizes;
  }

  it('by default claims past concurrency twice over when claims are slow and handlers quick', async () => {
    const sizes = await run(undefined);
    expect(Math.max(...sizes)).toBeGreaterThan(20); // concurrency + prefetch = concurrency, the least
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10 + MAX_AHEAD);
  });

  it('with prefetch given, never claims past concurrency + prefetch', async () => {
    const sizes = await run(5);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(15);
  });
});
