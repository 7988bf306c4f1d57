import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type QueueManager } from '../../index.js';
import { manager, memoryUrl } from '../support/manager.js';
import { until } from '../support/wait.js';

describe('rate limits', () => {
  let store = '';

  const worker = (): Promise<QueueManager> => manager({ store });

  it('10 per second across 2 workers: no window of a second holds more than 10 starts; inspect shows the wait', async () => {
    store = memoryUrl();
    const publisher = await worker();
    const q = publisher.queue<{ n: number }>('calls');
    await q.publishMany(Array.from({ length: 30 }, (_, n) => ({ n })));
    const starts: number[] = [];
    for (const m of [await worker(), await worker()]) {
      await m.queue('calls').subscribe(() => void starts.push(Date.now()), {
        name: 'api',
        from: 'earliest',
        concurrency: 20,
        rateLimit: { max: 10, perMs: 1000 },
      });
    }
    await until(() => starts.length >= 10 || undefined, 'the first window', 5000);
    await publisher.ready();
    const row = publisher.inspect({ queues: ['calls'] }).subscribers[0]!;
    expect(row.rateLimit).toEqual({ max: 10, perMs: 1000 });
    expect(row.rateLimitedUntil).toBeGreaterThan(publisher.inspect().time - 1);
    await until(() => starts.length === 30 || undefined, 'all started', 10_000);
    starts.sort((a, b) => a - b);
    // Granted by claim log time; handlers start a little after their claim: allow that jitter.
    for (let i = 0; i + 10 < starts.length; i++) expect(starts[i + 10]! - starts[i]!).toBeGreaterThan(800);
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThan(1800);
  });

  it('bad rate limits are refused', async () => {
    store = memoryUrl();
    const q = (await worker()).queue('calls');
    for (const rateLimit of [{ max: 0, perMs: 1000 }, { max: 1 }, { max: 1, perMs: 10, burst: 2 }, 5]) {
      await expect(q.subscribe(() => 1, { name: 'x', rateLimit: rateLimit as never })).rejects.toThrow(
        InvalidArgumentError,
      );
    }
    await expect(
      q.subscribe(() => 1, { name: 'b', delivery: 'broadcast', rateLimit: { max: 1, perMs: 1 } }),
    ).rejects.toThrow(/competing subscribers only/);
  });
});
