import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import {
  dispatchFold,
  createQueueManager,
  foldAll,
  resultRef,
  unbatched,
  type StoredRecord,
  type RecordOf,
} from '../../index.js';
import { subscriberRow } from '../support/inspect.js';
import { readAll, foldWithInvariants } from '../support/log.js';
import { until } from '../support/wait.js';

/** How the distributed suite reaches one backend: a fresh store URL per test, removed afterwards. */
export interface DistributedHarness {
  readonly url: string;
  cleanup(): Promise<void>;
}

const WORKER = new URL('../fixtures/dist-worker.ts', import.meta.url).pathname;

/** A worker process, its worker id and the lines it printed. */
type Worker = ChildProcess & { workerId: string; lines: string[] };

function spawnWorker(
  url: string,
  delivery: 'competing' | 'broadcast',
  timings: readonly string[] = [],
): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, url, 'jobs', delivery, '5', ...timings], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const worker = Object.assign(child, { workerId: '', lines: [] as string[] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      worker.lines.push(line);
      if (line.startsWith('ready')) {
        worker.workerId = line.slice('ready '.length);
        resolve(worker);
      }
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${String(code)} before it was ready`)));
  });
}

/** Waits up to 90 s, polling every 50 ms: worker processes on a busy machine take their time. */
const waitUntil = (check: () => boolean | Promise<boolean>, what: string) => until(check, what, 90_000, 50);

/** The log folded once: its events, its single records (batches unbatched), and each event's accepted ok results. */
function outcome(records: StoredRecord[]) {
  const state = foldAll(dispatchFold, records);
  const singles = records.flatMap(unbatched);
  const results = singles.filter((r): r is RecordOf<'result.recorded'> => r.type === 'result.recorded');
  const accepted = new Map<string, RecordOf<'result.recorded'>[]>();
  for (const r of results) {
    if (r.status === 'ok' && !state.rejected.has(resultRef(r)))
      accepted.set(r.eventId, [...(accepted.get(r.eventId) ?? []), r]);
  }
  const events = records.filter((r): r is RecordOf<'event.published'> => r.type === 'event.published');
  return { state, singles, results, accepted, events };
}

/** The runtime's multi-process guarantees, against real worker processes on one store. */
export function distributedSuite(name: string, factory: () => Promise<DistributedHarness>): void {
  describe(`distributed runtime: ${name}`, () => {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });

    it('3 competing workers, one SIGKILLed mid-run: every event has exactly one accepted ok result', async () => {
      const h = await factory();
      // eager: the test polls inspect(), which shows the views but does not start following the log
      await using m = await createQueueManager({ store: h.url, handleSignals: false, fold: 'eager' });
      try {
        const q = m.queue<{ n: number }>('jobs');
        for (let i = 0; i < 3; i++) children.push(await spawnWorker(h.url, 'competing'));
        for (let i = 0; i < 2000; i += 100)
          await q.publishMany(Array.from({ length: 100 }, (_, k) => ({ n: i + k })));
        const done = (): number => subscriberRow(m, 'jobs', 'work')?.done ?? 0;
        await waitUntil(() => done() >= 300, '300 results before the kill');
        children[0]!.kill('SIGKILL');
        await waitUntil(() => done() >= 2000, 'all 2000 events done');

        const { state, results, accepted, events } = outcome(await readAll(m));
        expect(events).toHaveLength(2000);
        for (const e of events) expect(accepted.get(e.eventId), `event ${e.eventId}`).toHaveLength(1);
        expect(state.subscribers.get('jobs/work')?.counts.done).toBe(2000);
        // the killed worker did part of the work, and the others finished it
        const byWorker = new Set(results.map((r) => r.workerId));
        expect(byWorker.size).toBe(3);
        // what it held when it died failed as crashed (reported by the others), and nothing else failed
        const failed = results.filter((r) => r.status !== 'ok' && !state.rejected.has(resultRef(r)));
        for (const r of failed) {
          expect(r.error?.name).toBe('WorkerCrashedError');
          expect(r.reportedBy).not.toBe(r.workerId);
        }
        expect(failed.length).toBeGreaterThan(0);
        expect(new Set(failed.map((r) => r.workerId)).size).toBe(1);
      } finally {
        await h.cleanup();
      }
    });

    it('a trickle over 2 workers, one SIGKILLed: events bound to its reservation run elsewhere once its heartbeats stop', async () => {
      const h = await factory();
      // eager: the test polls inspect(), which shows the views but does not start following the log
      await using m = await createQueueManager({ store: h.url, handleSignals: false, fold: 'eager' });
      try {
        const q = m.queue<{ n: number }>('jobs');
        for (let i = 0; i < 2; i++) children.push(await spawnWorker(h.url, 'competing'));
        const done = (): number => subscriberRow(m, 'jobs', 'work')?.done ?? 0;
        const total = 300;
        for (let n = 0; n < total; n++) {
          await q.publish({ n });
          if (n === 100) children[0]!.kill('SIGKILL');
          await new Promise((r) => setTimeout(r, 3));
        }
        await waitUntil(() => done() >= total, `all ${total} events done`);

        const { singles, accepted, events } = outcome(await readAll(m));
        expect(events).toHaveLength(total);
        for (const e of events) expect(accepted.get(e.eventId), `event ${e.eventId}`).toHaveLength(1);
        // At a trickle most events never needed a claim record: a reservation took them as published.
        const claimed = new Set(
          singles
            .filter((r) => r.type === 'claim.acquired')
            .map((r) => (r as RecordOf<'claim.acquired'>).eventId),
        );
        expect(events.filter((e) => !claimed.has(e.eventId)).length).toBeGreaterThan(total / 2);
        // The killed worker (the one whose records stop first) did part of the work; whatever it held
        // when it died (bound or claimed) was run again by the other, as a later attempt.
        const lastRecord = new Map<string, number>();
        for (const r of singles) if ('workerId' in r) lastRecord.set(r.workerId as string, r.position);
        const [killed] = [...lastRecord].sort((a, b) => a[1] - b[1])[0]!;
        const ok = [...accepted.values()].flat();
        expect(ok.some((r) => r.workerId === killed)).toBe(true);
        for (const r of ok) if (r.attempt > 1) expect(r.workerId).not.toBe(killed);
      } finally {
        await h.cleanup();
      }
    });

    it('a worker SIGKILLed holding an event: once its heartbeats stop for its TTL another reports it crashed and retries it', async () => {
      const h = await factory();
      await using m = await createQueueManager({ store: h.url, handleSignals: false });
      try {
        // A lease far longer than the liveness TTL (3 heartbeats of 300 ms): the failover is the TTL's.
        const timings = ['60000', '300'];
        for (let i = 0; i < 2; i++) children.push(await spawnWorker(h.url, 'competing', timings));
        const workers = children as Worker[];
        const running = (attempt: number) =>
          waitUntil(
            () => workers.some((w) => w.lines.includes(`running ${event.id} ${attempt}`)),
            `attempt ${attempt} running`,
          ).then(() => workers.find((w) => w.lines.includes(`running ${event.id} ${attempt}`))!);
        const event = await m.queue<{ n: number; hang: boolean }>('jobs').publish({ n: 0, hang: true });
        const first = await running(1);
        first.kill('SIGKILL');
        const second = await running(2);
        expect(second).not.toBe(first);

        const records = await readAll(m);
        const { state, singles, results } = outcome(records);
        const mine = results.filter((r) => r.eventId === event.id && !state.rejected.has(resultRef(r)));
        expect(mine).toHaveLength(1);
        const [crash] = mine as [RecordOf<'result.recorded'>];
        expect(crash).toMatchObject({
          attempt: 1,
          status: 'failed',
          workerId: first.workerId,
          reportedBy: second.workerId,
          error: { name: 'WorkerCrashedError' },
        });
        expect(crash.error?.message).toMatch(/no heartbeat for 900 ms/);
        expect(crash.retryAt).toBeDefined();
        // Not before its heartbeats had stopped for the TTL (the fold's rule), long before the lease.
        const lastBeat = Math.max(
          ...singles
            .filter((r) => r.type === 'worker.heartbeat' || r.type === 'worker.joined')
            .filter((r) => (r as RecordOf<'worker.heartbeat'>).workerId === first.workerId)
            .map((r) => r.time),
        );
        expect(crash.time - lastBeat).toBeGreaterThanOrEqual(900);
        expect(crash.time - lastBeat).toBeLessThan(30_000);
        expect(records.some((r) => r.type === 'worker.left' && r.workerId === first.workerId)).toBe(false);
        // Attempt 2 is the survivor's claim.
        const item = state.subscribers.get('jobs/work')?.items.get(event.position);
        expect(item).toMatchObject({ status: 'claimed', attempt: 2, owner: second.workerId, failures: 1 });
        expect(foldWithInvariants(records).violations).toEqual([]);
      } finally {
        await h.cleanup();
      }
    });

    it('broadcast with 3 workers: exactly 3 results per event, one per worker', async () => {
      const h = await factory();
      // eager: the test polls inspect(), which shows the views but does not start following the log
      await using m = await createQueueManager({ store: h.url, handleSignals: false, fold: 'eager' });
      try {
        const q = m.queue<{ n: number }>('jobs');
        for (let i = 0; i < 3; i++) children.push(await spawnWorker(h.url, 'broadcast'));
        await q.publishMany(Array.from({ length: 200 }, (_, n) => ({ n })));
        const count = (): number => m.inspect({ queues: ['jobs'] }).stats[0]?.ok ?? 0;
        await waitUntil(() => count() >= 600, '600 broadcast results');
        for (const c of children) c.kill('SIGTERM');
        await Promise.all(
          children.map(
            (c) =>
              new Promise((r) =>
                c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r),
              ),
          ),
        );
        const records = await readAll(m);
        const perEvent = new Map<string, string[]>();
        for (const r of records.flatMap(unbatched)) {
          if (r.type !== 'result.recorded') continue;
          const res = r as RecordOf<'result.recorded'>;
          perEvent.set(res.eventId, [...(perEvent.get(res.eventId) ?? []), res.workerId]);
        }
        expect(perEvent.size).toBe(200);
        for (const workers of perEvent.values()) {
          expect(workers).toHaveLength(3);
          expect(new Set(workers).size).toBe(3);
        }
        // graceful stop on SIGTERM appends worker.left for each
        expect(records.filter((r) => r.type === 'worker.left')).toHaveLength(3);
      } finally {
        await h.cleanup();
      }
    });
  });
}
