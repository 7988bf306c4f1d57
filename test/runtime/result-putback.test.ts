import { describe, expect, it } from 'vitest';
import { openStore } from '../../index.js';
import type { RecordDraft } from '../../engine/records.js';
import { manager, memoryUrl } from '../support/manager.js';
import { until } from '../support/wait.js';

describe('results that rode a claim append that failed', () => {
  it('are appended with a later append, not dropped as repeats: the event runs once', async () => {
    const store = await openStore(memoryUrl());
    let failed = 0;
    // The store, with an append that fails once: the first that carries claims and a result together.
    const flaky = new Proxy(store, {
      get: (target, key) => {
        if (key === 'append')
          return (drafts: readonly RecordDraft[], options?: object) => {
            const types = drafts.map((d) => d.type);
            const claims = types.some((t) => t === 'claim.acquired' || t === 'claims.acquired');
            const results = types.some((t) => t === 'result.recorded' || t === 'results.recorded');
            if (claims && results && failed++ === 0) return Promise.reject(new Error('store away'));
            return target.append(drafts, options);
          };
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const m = await manager({ store: flaky, leaseMs: 1_000, heartbeatMs: 200 });
    const runs: number[] = [];
    const q = m.queue<number>('jobs');
    await q.subscribe((e) => void runs.push(e.payload), { name: 'w', concurrency: 1 });
    const events = await q.publishMany([1, 2, 3]);
    const results = [];
    for (const e of events) results.push(await q.waitForResult(e.id));
    await until(() => failed > 0, 'the failed append');
    // Every event ran once, its first attempt's result recorded (not a lease run out and a retry).
    expect(results.map((r) => r.attempt)).toEqual([1, 1, 1]);
    expect(runs.sort()).toEqual([1, 2, 3]);
    await m.close();
    await store.close();
  });
});
