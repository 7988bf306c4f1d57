import { describe, expect, it } from 'vitest';
import { LeaseLostError, type RecordDraft } from '../../index.js';
import { readAll, foldWithInvariants } from '../support/log.js';
import { manager, memoryUrl } from '../support/manager.js';
import { until } from '../support/wait.js';

describe('a worker taken as dead while its handler runs', () => {
  it('aborts the attempt, which another report fails as crashed, and runs it again as attempt 2', async () => {
    const store = memoryUrl();
    const timings = { leaseMs: 60_000, heartbeatMs: 200 };
    const a = await manager({ store, ...timings });
    const b = await manager({ store, ...timings });
    const seen: string[] = [];
    let abortedWith: unknown;
    const handler = async (
      event: { id: string },
      ctx: { attempt: number; signal: AbortSignal; workerId: string },
    ) => {
      seen.push(`${ctx.workerId === a.workerId ? 'a' : 'b'}:${ctx.attempt}`);
      if (ctx.attempt > 1) return 'done';
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      abortedWith = ctx.signal.reason;
      return 'too late';
    };
    const options = { name: 'w', retry: { limit: 1, minBackoff: 10, maxBackoff: 20 } };
    await a.queue('jobs').subscribe(handler, options);
    const event = await a.queue('jobs').publish({ n: 1 });
    await until(() => seen.includes('a:1'), 'attempt 1 on a');
    await b.queue('jobs').subscribe(handler, options);
    // What eventy run's supervisor appends when a worker process dies.
    const left: RecordDraft = {
      type: 'worker.left',
      workerId: a.workerId,
      host: 'h',
      pid: 0,
      queues: [],
      subscribers: [],
      reason: 'crashed',
      detail: 'exited with code 3',
    };
    await a.store.append([left]);

    const final = await b.queue('jobs').waitForResult(event.id, { signal: AbortSignal.timeout(20_000) });
    expect(final).toMatchObject({ status: 'ok', attempt: 2, details: 'done' });
    expect(abortedWith).toBeInstanceOf(LeaseLostError);
    const results = await b.queue('jobs').getResults(event.id, { includeRejected: true });
    const crash = results.find((r) => r.error?.name === 'WorkerCrashedError');
    expect(crash).toMatchObject({ attempt: 1, status: 'failed', workerId: a.workerId, accepted: true });
    expect(crash?.error?.message).toBe(`the worker died (exited with code 3): worker ${a.workerId}`);
    expect(crash?.retryAt).toBeDefined();
    expect([a.workerId, b.workerId]).toContain(crash?.reportedBy);
    // a's own late result of attempt 1 (aborted) is fenced; one accepted result per attempt.
    const accepted = results.filter((r) => r.accepted).map((r) => r.attempt);
    expect(accepted).toEqual([1, 2]);
    for (const r of results)
      if (!r.accepted && r.reportedBy === undefined) expect(r.workerId).toBe(a.workerId);
    const log = await readAll(a);
    expect(foldWithInvariants(log).violations).toEqual([]);
  });
});
