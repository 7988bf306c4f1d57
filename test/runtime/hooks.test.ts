import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createQueueManager,
  InvalidArgumentError,
  skip,
  Skip,
  TimeoutError,
  type Hooks,
  type QueueManager,
} from '../../index.js';
import { until } from '../support/wait.js';

describe('hooks and skips', () => {
  let manager: QueueManager;
  let calls: string[];
  let warnings: string[];
  const onWarning = (w: Error): void => void warnings.push(w.message);

  /** Hooks that note each call as `who:hook:detail`. */
  function noting(who: string): Hooks<{ n: number }> {
    return {
      onStart: (info) => void calls.push(`${who}:start:${info.subscriber ?? '-'}`),
      onShutdown: (info) => void calls.push(`${who}:shutdown:${info.subscriber ?? '-'}`),
      onReceived: (e, ctx) => void calls.push(`${who}:received:${e.payload.n}:${ctx.attempt}`),
      onSuccess: (e, result) =>
        void calls.push(
          `${who}:success:${e.payload.n}:${result instanceof Skip ? `skip(${result.reason})` : JSON.stringify(result)}`,
        ),
      onFailure: (e, error, ctx) =>
        void calls.push(`${who}:failure:${e.payload.n}:${ctx.attempt}:${(error as Error).name}`),
    };
  }

  beforeEach(async () => {
    calls = [];
    warnings = [];
    process.on('warning', onWarning);
    manager = await createQueueManager({ store: 'memory:', handleSignals: false, hooks: noting('m') });
  });
  afterEach(async () => {
    await manager.close();
    process.off('warning', onWarning);
  });

  it('run in order around each attempt, manager hooks first; shutdown hooks after the drain', async () => {
    expect(calls).toEqual(['m:start:-']);
    const q = manager.queue<{ n: number }>('jobs');
    const sub = await q.subscribe((e) => ({ doubled: e.payload.n * 2 }), { name: 'w', hooks: noting('s') });
    const e = await q.publish({ n: 1 });
    await q.waitForResult(e.id);
    await until(() => calls.includes('s:success:1:{"doubled":2}') || undefined, 'success hooks', 5000);
    expect(calls).toEqual([
      'm:start:-',
      's:start:w',
      'm:received:1:1',
      's:received:1:1',
      'm:success:1:{"doubled":2}',
      's:success:1:{"doubled":2}',
    ]);
    await sub.stop();
    expect(calls.at(-1)).toBe('s:shutdown:w');
    await manager.close();
    expect(calls.at(-1)).toBe('m:shutdown:-');
  });

  it('a timed-out attempt is a failure once, whatever its handler does later; retries get their own', async () => {
    const q = manager.queue<{ n: number }>('slow');
    let finished = 0;
    await q.subscribe(
      async () => {
        await new Promise((r) => setTimeout(r, 150)); // ignores its signal, then "succeeds"
        finished++;
        return 'late';
      },
      { name: 'w', timeout: 30, retry: { limit: 2, minBackoff: 1, maxBackoff: 1 } },
    );
    const e = await q.publish({ n: 7 });
    const result = await q.waitForResult(e.id);
    expect(result.status).toBe('timeout');
    await until(() => finished === 3 || undefined, 'the late handlers finished', 5000);
    await new Promise((r) => setTimeout(r, 50));
    const mine = calls.filter((c) => c.includes(':7:'));
    expect(mine.filter((c) => c.startsWith('m:failure'))).toEqual([
      `m:failure:7:1:${TimeoutError.name}`,
      `m:failure:7:2:${TimeoutError.name}`,
      `m:failure:7:3:${TimeoutError.name}`,
    ]);
    expect(mine.some((c) => c.startsWith('m:success'))).toBe(false);
  });

  it("a hook that throws is reported and counted, and the event's outcome stays", async () => {
    const q = manager.queue<{ n: number }>('boom');
    await q.subscribe(() => 'fine', {
      name: 'w',
      hooks: {
        onSuccess: () => {
          throw new Error('hook broke');
        },
      },
    });
    const e = await q.publish({ n: 3 });
    expect((await q.waitForResult(e.id)).status).toBe('ok');
    await until(() => manager.inspect().hosted[0]?.hookErrors === 1 || undefined, 'the error counted', 5000);
    expect(warnings.some((w) => w.includes('hook onSuccess failed: hook broke'))).toBe(true);
    expect((await q.getResults(e.id)).map((r) => r.status)).toEqual(['ok']);
  });

  it('skip(reason), returned or thrown, records skipped with the reason and is never retried', async () => {
    const q = manager.queue<{ n: number }>('picky');
    await q.subscribe(
      (e) => {
        if (e.payload.n === 1) return skip('test order');
        if (e.payload.n === 2) throw skip('thrown');
        return 'done';
      },
      { name: 'w', retry: { limit: 3, minBackoff: 1, maxBackoff: 1 } },
    );
    const [a, b, c] = await Promise.all([q.publish({ n: 1 }), q.publish({ n: 2 }), q.publish({ n: 3 })]);
    const ra = await q.waitForResult(a.id);
    const rb = await q.waitForResult(b.id);
    expect(ra).toMatchObject({ status: 'skipped', details: { reason: 'test order' }, attempt: 1 });
    expect(ra.error).toBeUndefined();
    expect(rb).toMatchObject({ status: 'skipped', details: { reason: 'thrown' } });
    expect((await q.waitForResult(c.id)).status).toBe('ok');
    expect((await q.getResults(a.id)).length).toBe(1);
    await until(
      () => calls.includes('m:success:1:skip(test order)') || undefined,
      'the skip seen by hooks',
      5000,
    );
  });

  it('bad hooks are refused before anything is appended', async () => {
    const q = manager.queue('jobs');
    await expect(q.subscribe(() => 1, { name: 'w', hooks: { onSucess: () => 1 } as never })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(q.subscribe(() => 1, { name: 'w', hooks: { onSuccess: 'x' } as never })).rejects.toThrow(
      /hook onSuccess must be a function/,
    );
    await expect(
      createQueueManager({ store: 'memory:', hooks: { onBoot: () => 1 } as never }),
    ).rejects.toThrow(/unknown manager hook "onBoot"/);
    expect(manager.inspect().subscribers).toEqual([]);
  });
});
