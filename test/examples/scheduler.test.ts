import { afterEach, describe, expect, it } from 'vitest';
import { unbatched, type RecordOf, type StoredRecord } from '../../engine/records.js';
import { Children } from '../support/children.js';
import { readAll } from '../support/log.js';
import { tempDir } from '../support/temp.js';

const children = new Children();
afterEach(() => children.killAll());

type Published = StoredRecord & {
  readonly type: 'event.published';
  readonly queue: string;
  readonly eventId: string;
  readonly payload: { type?: string; jobId?: string; task?: string };
  readonly headers: Record<string, string | undefined>;
};

describe('examples/scheduler (the event-scheduler demo)', () => {
  it('fires the interval, cron and one-off jobs once per slot with correlated lifecycle events, and shuts down cleanly on SIGTERM', async () => {
    const store = `file:${await tempDir()}`;
    const app = children.spawn('examples/scheduler/main.ts', [], { env: { EVENTY_STORE: store } });
    await app.waitForLine((l) => l.includes('Application is running'));
    // Long enough for the one-off (3 s after start), 2+ interval slots (2 s) and 1+ cron slot (5 s).
    await app.waitForLine((l) => l.includes('JOB_COMPLETED welcome'));
    await app.waitForLine((l) => /\[schedule:report:.*\] JOB_COMPLETED report/.test(l));
    const startedAt = Date.now();
    while (
      Date.now() - startedAt < 20_000 &&
      app.lines.filter((l) => l.includes('COMPLETED heartbeat')).length < 2
    )
      await new Promise((r) => setTimeout(r, 100));
    app.proc.kill('SIGTERM');
    const exit = await Promise.race([
      app.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no exit within 15 s of SIGTERM')), 15_000),
      ),
    ]);
    expect(exit, app.stderr()).toEqual({ code: 0, signal: null });
    expect(app.stderr()).toBe('');
    expect(app.lines.at(-1)).toMatch(/Stopped cleanly$/);
    expect(app.lines.some((l) => /\[shutdown-\d+\] SHUTDOWN_REQUESTED$/.test(l))).toBe(true);

    const log = await readAll(store);
    const events = log.filter((r): r is Published => r.type === 'event.published');
    const fired = events.filter((e) => e.queue === 'jobs');
    const byJob = (id: string) => fired.filter((e) => e.headers.scheduleId === id);
    expect(byJob('heartbeat').length).toBeGreaterThanOrEqual(2);
    expect(byJob('report').length).toBeGreaterThanOrEqual(1);
    expect(byJob('welcome')).toHaveLength(1);
    expect(byJob('welcome')[0]!.headers.origin).toBe('startup');
    // One event per slot; interval slots 2 s apart, cron slots on a multiple of 5 s.
    const slots = fired.map((e) => `${e.headers.scheduleId}@${e.headers.scheduledFor}`);
    expect(new Set(slots).size).toBe(slots.length);
    for (const e of byJob('heartbeat')) expect(Date.parse(e.headers.scheduledFor!) % 2000).toBe(0);
    for (const e of byJob('report')) expect(Date.parse(e.headers.scheduledFor!) % 5000).toBe(0);

    // Every run: JOB_STARTED then JOB_COMPLETED under the fired event's correlation id, caused by it.
    const lifecycle = events.filter((e) => e.queue === 'job-events');
    for (const job of fired) {
      const corr = job.headers.correlationId;
      expect(corr).toBe(job.headers.key);
      const mine = lifecycle.filter((e) => e.headers.correlationId === corr);
      expect(
        mine.map((e) => e.payload.type),
        corr,
      ).toEqual(['JOB_STARTED', 'JOB_COMPLETED']);
      for (const e of mine) {
        expect(e.headers.causationId).toBe(job.eventId);
        expect(e.payload.jobId).toBe(job.headers.scheduleId);
      }
    }
    // Clean shutdown: every job ran to an ok result, and the worker left the log.
    const results = log.flatMap(unbatched).filter((r) => r.type === 'result.recorded');
    const ok = new Set(
      (results as RecordOf<'result.recorded'>[])
        .filter((r) => r.subscriberId === 'jobs/run-job' && r.status === 'ok')
        .map((r) => r.eventId),
    );
    for (const job of fired) expect(ok.has(job.eventId), job.headers.key).toBe(true);
    expect(log.some((r) => r.type === 'worker.left')).toBe(true);
  });
});
