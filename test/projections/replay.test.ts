import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  dispatchFold,
  foldAll,
  replayLog,
  statsFold,
  workersFold,
  type QueueManager,
  type RecordDraft,
  type SubscriberRow,
} from '../../index.js';
import { logRows, subscriberRow, viewRows } from '../support/inspect.js';
import { readAll } from '../support/log.js';
import { manager, memoryUrl } from '../support/manager.js';
import { tempDir } from '../support/temp.js';
import { until } from '../support/wait.js';

interface Job {
  readonly n: number;
  readonly kind: 'ok' | 'flaky' | 'slow' | 'bad' | 'later';
}

/**
 * A live scenario: several subscribers, failures with retries, a timeout, a dead event, a skipped one, a
 * delayed event, one retry far in the future (left open), and a stranger's result that must be fenced.
 */
async function scenario(m: QueueManager): Promise<void> {
  const q = m.queue<Job>('jobs');
  await q.subscribe(
    async (e, ctx) => {
      if (e.payload.kind === 'flaky' && ctx.attempt === 1) throw new Error('flaky');
      if (e.payload.kind === 'slow') await new Promise(() => undefined);
      if (e.payload.kind === 'bad') throw new TypeError('bad');
      if (e.payload.kind === 'later' && ctx.attempt === 1) throw new Error('not yet');
      return e.payload.n;
    },
    {
      name: 'main',
      timeout: 30,
      retry: {
        limit: 1,
        minBackoff: 5,
        maxBackoff: 10,
        retryOn: (err) => !(err instanceof TypeError) && (err as Error).message !== 'not yet',
      },
    },
  );
  await q.subscribe(() => 'x', { name: 'oks', filter: "payload.kind == 'ok'" });
  await q.subscribe(() => 'b', { name: 'fan', delivery: 'broadcast' });
  await q.subscribe(
    (_e, ctx) => {
      if (ctx.attempt === 1) throw new Error('wait a minute');
    },
    {
      name: 'patient',
      filter: "payload.kind == 'later'",
      retry: { limit: 1, minBackoff: 60_000, maxBackoff: 60_000 },
    },
  );
  const kinds: Job['kind'][] = ['ok', 'flaky', 'slow', 'bad', 'ok', 'later', 'flaky', 'ok'];
  const events = await q.publishMany(kinds.map((kind, n) => ({ n, kind })));
  const delayed = await q.publish({ n: 99, kind: 'ok' }, { delay: 20 });
  await q.publish({ n: 100, kind: 'ok' }, { delay: 3_600_000 }); // stays open
  await q.createClaim('token-1', { by: 'test' });
  // A stranger's result on an event it never claimed: recorded, and rejected by the fold.
  await m.store.append([
    {
      type: 'result.recorded',
      queue: 'jobs',
      eventId: events[0]!.id,
      eventPosition: events[0]!.position,
      subscriberId: 'jobs/main',
      workerId: 'stranger',
      attempt: 1,
      status: 'failed',
      durationMs: 0,
    } satisfies RecordDraft,
  ]);
  for (const e of [...events, delayed]) {
    for (const subscriber of ['main', 'oks']) await q.waitForResult(e.id, { subscriber });
  }
  await until(() => subscriberRow(m, 'jobs', 'patient')?.failed === 1, 'patient failure');
  await until(async () => (await q.searchResults({ subscriber: 'fan' })).items.length === 9, 'broadcast');
}

describe('replay determinism', () => {
  it('folds the recorded log from the start into exactly the views the live manager had', async () => {
    const m = await manager({ heartbeatMs: 60_000, leaseMs: 60_000 });
    await scenario(m);
    const live = logRows(m.inspect());
    const log = await readAll(m, { to: live.position + 1 });
    expect(log).toHaveLength(live.position + 1);

    // Each fold over the records equals the views replayLog rebuilds from the store, and those views
    // show exactly the rows the live manager showed at that position.
    const claims = foldAll(dispatchFold, log);
    const replayed = await replayLog(m.store, { to: live.position });
    expect(claims).toEqual(replayed.dispatch);
    expect(foldAll(workersFold, log)).toEqual(replayed.workers);
    expect(foldAll(statsFold, log)).toEqual(replayed.stats);
    expect(viewRows(replayed)).toEqual(live);

    // and the state is the one the scenario should have produced
    const main = claims.subscribers.get('jobs/main')!;
    expect(main.counts).toEqual({ done: 6, failed: 6, dead: 3, skipped: 0, rejected: 1 });
    expect(main.items.size).toBe(0); // the far-delayed event is open but untouched
    expect(claims.rejected.size).toBe(1);
    const patient = claims.subscribers.get('jobs/patient')!;
    // its finishedBelow waits on the event due for retry in a minute; later skips sit above it
    expect([...patient.items.values()].map((i) => i.status)).toEqual([
      'retry',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(claims.subscribers.get('jobs/oks')!.counts).toMatchObject({ done: 4, skipped: 5 });
    expect(claims.tokens.size).toBe(1);
  });

  it('gives a fresh manager on the same log the same views and view streams as the live one', async () => {
    const store = memoryUrl();
    const m = await manager({ store, heartbeatMs: 60_000, leaseMs: 60_000 });
    await scenario(m);
    const head = await m.store.head();
    await until(() => m.inspect().position === head - 1, 'the live manager to fold the head');
    const fresh = await manager({ store });
    expect(fresh.inspect().position).toBe(-1); // a manager follows the log once something needs it
    await fresh.ready();
    expect(fresh.inspect().position).toBe(m.inspect().position);

    const liveQ = m.queue('jobs');
    const freshQ = fresh.queue('jobs');
    const [liveStats, freshStats] = await Promise.all([
      firstValueFrom(liveQ.views.stats$),
      firstValueFrom(freshQ.views.stats$),
    ]);
    expect(freshStats).toEqual(liveStats);
    const main = liveStats.subscribers.find((s) => s.name === 'main');
    expect(main).toMatchObject({ done: 6, dead: 3, failed: 6, rejected: 1, depth: 1, inFlight: 0 });
    expect(await firstValueFrom(freshQ.views.claims$)).toEqual(await firstValueFrom(liveQ.views.claims$));
    expect(await firstValueFrom(freshQ.views.subscribers$)).toEqual(
      await firstValueFrom(liveQ.views.subscribers$),
    );
    expect(logRows(fresh.inspect())).toEqual(logRows(m.inspect()));
    expect(await replayLog(fresh.store, { to: head - 1 })).toEqual(
      await replayLog(m.store, { to: head - 1 }),
    );
    expect(await freshQ.searchResults({ status: 'failed' })).toEqual(
      await liveQ.searchResults({ status: 'failed' }),
    );
  });

  it('replays a filesystem log into the views the live manager had, after the manager is gone', async () => {
    const dir = await tempDir();
    const m = await manager({ store: `file:${dir}`, heartbeatMs: 60_000, leaseMs: 60_000 });
    await scenario(m);
    const live = logRows(m.inspect());
    await m.close();

    const reopened = await manager({ store: `file:${dir}`, fold: 'eager' });
    const log = await readAll(reopened, { to: live.position + 1 });
    const replayed = await replayLog(reopened.store, { to: live.position });
    expect(foldAll(dispatchFold, log)).toEqual(replayed.dispatch);
    expect(foldAll(statsFold, log)).toEqual(replayed.stats);
    expect(viewRows(replayed)).toEqual(live);
    // the reopened manager folded the same records, plus the worker.left of the closed one, which took
    // back the reservations it held
    const now = reopened.inspect();
    expect(now.position).toBeGreaterThan(live.position);
    expect(viewRows(await replayLog(reopened.store, { to: now.position }))).toEqual(logRows(now));
    expect(live.reservations.some((r) => r.subscriber === 'main' && r.workerId === m.workerId)).toBe(true);
    expect(now.reservations.filter((r) => r.workerId === m.workerId)).toEqual([]);
    expect(now.claims).toEqual(live.claims);
    const progress = ({ lag: _lag, ...row }: SubscriberRow) => row; // lag counts the records folded since
    expect(now.subscribers.map(progress)).toEqual(live.subscribers.map(progress));
    const left = (await readAll(reopened)).filter((r) => r.type === 'worker.left');
    expect(left.map((r) => (r as { workerId: string }).workerId)).toEqual([m.workerId]);
  });
});
