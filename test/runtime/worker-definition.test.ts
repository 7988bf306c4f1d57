import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createQueueManager,
  defineWorker,
  handler,
  InvalidArgumentError,
  isWorkerDefinition,
  startWorker,
  type Hooks,
  type QueueEvent,
  type QueueManager,
} from '../../index.js';
import { readAll } from '../support/log.js';
import { until } from '../support/wait.js';

interface Order {
  readonly n: number;
  readonly total?: number;
  readonly tag?: string;
}

describe('defineWorker, handler and predicate filters', () => {
  let manager: QueueManager;
  let warnings: Error[];
  const onWarning = (w: Error): void => void warnings.push(w);

  beforeEach(async () => {
    warnings = [];
    process.on('warning', onWarning);
    manager = await createQueueManager({ store: 'memory:', handleSignals: false });
  });
  afterEach(async () => {
    if (!manager.closed) await manager.close();
    process.off('warning', onWarning);
  });

  /** Publishes the orders and returns each one's final status for `subscriber`. */
  async function statuses(subscriber: string, orders: Order[]): Promise<string[]> {
    const q = manager.queue<Order>('orders');
    const events = [];
    for (const o of orders) events.push(await q.publish(o));
    const results = await Promise.all(events.map((e) => q.waitForResult(e.id, { subscriber })));
    return results.map((r) => r.status);
  }

  it('routes by predicates; one that throws or answers with a promise counts as no match', async () => {
    const ran: number[] = [];
    const note = (e: QueueEvent<Order>): void => void ran.push(e.payload.n);
    const worker = defineWorker({
      handlers: [
        handler<Order>({ queue: 'orders', name: 'big', filter: (e) => (e.payload.total ?? 0) > 100 }, note),
        handler<Order>(
          {
            queue: 'orders',
            name: 'fragile',
            filter: (e) => {
              if (e.payload.tag === undefined) throw new Error('no tag');
              return e.payload.tag === 'vip';
            },
          },
          note,
        ),
        // An async predicate, against its type: JavaScript callers can pass one.
        handler<Order>(
          { queue: 'orders', name: 'async', filter: (() => Promise.resolve(true)) as never },
          note,
        ),
        handler<Order>(
          {
            queue: 'orders',
            name: 'mixed',
            filter: ['payload.n == `1`', (e) => e.payload.tag === 'vip'],
            operator: 'any',
          },
          note,
        ),
      ],
    });
    await startWorker(manager, worker);
    const orders = [
      { n: 1, total: 150 },
      { n: 2, tag: 'vip' },
      { n: 3, total: 50, tag: 'x' },
    ];
    expect(await statuses('big', orders)).toEqual(['ok', 'skipped', 'skipped']);
    const q = manager.queue<Order>('orders');
    const status = async (sub: string): Promise<string[]> =>
      (await q.searchResults({ subscriber: sub })).items
        .sort((a, b) => a.eventPosition - b.eventPosition)
        .map((r) => r.status);
    await until(async () => ((await status('mixed')).length === 3 ? true : undefined), 'all results', 10_000);
    await until(async () => ((await status('async')).length === 3 ? true : undefined), 'all results', 10_000);
    await until(
      async () => ((await status('fragile')).length === 3 ? true : undefined),
      'all results',
      10_000,
    );
    expect(await status('fragile')).toEqual(['skipped', 'ok', 'skipped']); // n=1 threw
    expect(await status('async')).toEqual(['skipped', 'skipped', 'skipped']);
    expect(await status('mixed')).toEqual(['ok', 'ok', 'skipped']);
    expect(warnings.filter((w) => (w as { code?: string }).code === 'EVENTY_FILTER_ASYNC')).toHaveLength(1);
    // The registration names the predicates: the log cannot hold the functions.
    const regs = (await readAll(manager)).filter((r) => r.type === 'subscriber.registered') as {
      name?: string;
      filter?: unknown;
    }[];
    expect(regs.find((r) => r.name === 'mixed')?.filter).toEqual({
      expressions: ['payload.n == `1`'],
      operator: 'any',
      predicates: ['(anonymous)'], // an arrow function in an array has no name
    });
    expect(regs.find((r) => r.name === 'async')?.filter).toEqual({
      expressions: [],
      operator: 'all',
      predicates: ['filter'],
    });
  });

  it('scopes a definition’s event hooks to its handlers; onStart at start, onShutdown when the manager closes', async () => {
    const calls: string[] = [];
    const hooks = (who: string): Hooks<Order> => ({
      onStart: () => void calls.push(`${who}:start`),
      onReceived: (e) => void calls.push(`${who}:received:${e.queue}`),
      onSuccess: (e) => void calls.push(`${who}:success:${e.queue}`),
      onShutdown: () => void calls.push(`${who}:shutdown`),
    });
    const a = defineWorker({
      handlers: [
        handler<Order>(
          { queue: 'a', name: 'h', hooks: { onSuccess: () => void calls.push('own:success:a') } },
          () => {
            calls.push('handler:a');
          },
        ),
      ],
      hooks: hooks('A'),
    });
    const b = defineWorker({
      handlers: [handler({ queue: 'b', name: 'h' }, () => void calls.push('handler:b'))],
      hooks: hooks('B'),
    });
    expect(isWorkerDefinition(a)).toBe(true);
    const subs = await startWorker(manager, [a, b]);
    expect(subs.map((s) => s.subscriberId)).toEqual(['a/h', 'b/h']);
    expect(calls).toEqual(['A:start', 'B:start']);
    const ea = await manager.queue('a').publish({ n: 1 });
    await manager.queue('a').waitForResult(ea.id);
    await until(() => calls.includes('own:success:a') || undefined, 'hooks of a', 5000);
    const eb = await manager.queue('b').publish({ n: 2 });
    await manager.queue('b').waitForResult(eb.id);
    await until(() => calls.includes('B:success:b') || undefined, 'hooks of b', 5000);
    await manager.close();
    expect(calls).toEqual([
      'A:start',
      'B:start',
      'A:received:a',
      'handler:a',
      'A:success:a',
      'own:success:a',
      'B:received:b',
      'handler:b',
      'B:success:b',
      'A:shutdown',
      'B:shutdown',
    ]);
  });

  it('gives handlers without their own concurrency the default, and names a handler after its function', async () => {
    const worker = defineWorker({
      handlers: [
        handler({ queue: 'jobs' }, function resize() {}),
        handler({ queue: 'jobs', name: 'slow', concurrency: 1 }, () => undefined),
      ],
    });
    await startWorker(manager, worker, { concurrency: 4 });
    const hosted = Object.fromEntries(manager.inspect().hosted.map((h) => [h.subscriber, h.concurrency]));
    expect(hosted).toEqual({ resize: 4, slow: 1 });
  });

  it('refuses bad definitions with invalid-argument, naming what is wrong', () => {
    const bad = (f: () => unknown, message: RegExp): void => {
      expect(f).toThrow(InvalidArgumentError);
      expect(f).toThrow(message);
    };
    bad(() => handler({ queue: 'jobs' }, () => undefined), /needs a name: give options.name/);
    bad(() => handler({ queue: '' }, function f() {}), /queue name must be a non-empty string/);
    bad(() => handler({ queue: 'jobs', filter: 'payload.[' }, function f() {}), /bad JMESPath filter/);
    bad(
      () => handler({ queue: 'jobs', filter: [1 as unknown as string] }, function f() {}),
      /filter must be/,
    );
    bad(() => handler({ queue: 'jobs', retry: { limit: -1 } }, function f() {}), /retry.limit must be/);
    bad(
      () => handler({ queue: 'jobs', colour: 'red' } as never, function f() {}),
      /unknown subscribe option "colour"/,
    );
    bad(() => handler({ queue: 'jobs' }, 'nope' as never), /needs a handler function/);
    const h = handler({ queue: 'jobs' }, function same() {});
    bad(() => defineWorker({ handlers: [h, h] }), /two handlers of queue jobs are named same/);
    bad(() => defineWorker({ handlers: [() => undefined] as never }), /must come from handler/);
    bad(
      () => defineWorker({ handlers: [], hooks: { onDone: () => undefined } as never }),
      /unknown worker hook "onDone"/,
    );
    bad(() => defineWorker({ handlers: [], queue: 'x' } as never), /unknown defineWorker option "queue"/);
  });
});
