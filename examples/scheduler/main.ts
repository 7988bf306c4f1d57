// The event-scheduler demo on Eventy: scheduled jobs (interval, cron, one-off) fire events into the
// `jobs` queue, a subscriber runs each job and reports JOB_STARTED / JOB_COMPLETED / JOB_FAILED to the
// `job-events` queue under the job's correlation id, and SIGINT / SIGTERM shut it down gracefully.
// Run: npm run example:scheduler   (store: EVENTY_STORE, default file:.eventy-scheduler)
import { createQueueManager, type QueueEvent } from 'eventy';
import { jobSchedules, tasks, type JobEvent, type JobPayload } from './jobs.js';

const log = (level: 'INFO' | 'WARN' | 'ERROR', message: string): void => {
  const time = new Date().toISOString().replace('T', ' ').replace('Z', '');
  console.log(`${time} | ${level.padEnd(5)} | ${message}`);
};

log('INFO', 'Starting the scheduler application...');
const manager = await createQueueManager({
  store: process.env.EVENTY_STORE ?? 'file:.eventy-scheduler',
  handleSignals: false, // handled below: announce the shutdown, then drain
});
const jobs = manager.queue<JobPayload>('jobs');
const events = manager.queue<JobEvent>('job-events');

// Event handler: every lifecycle event, with its correlation id.
await events.subscribe(
  (e: QueueEvent<JobEvent>) => {
    log('INFO', `[${e.headers.correlationId ?? '-'}] ${e.payload.type} ${e.payload.jobId ?? ''}`.trimEnd());
  },
  { name: 'event-log' },
);
log('INFO', 'Event handler started');

// Job manager: runs the job each fired event names.
await jobs.subscribe(
  async (e, ctx) => {
    const jobId = e.headers.scheduleId ?? e.id;
    await ctx.publish<JobEvent>(
      { type: 'JOB_STARTED', jobId, data: { scheduledFor: e.headers.scheduledFor } },
      { queue: 'job-events' },
    );
    try {
      const result = await tasks[e.payload.task](manager, jobs);
      await ctx.publish<JobEvent>({ type: 'JOB_COMPLETED', jobId, data: result }, { queue: 'job-events' });
      return result;
    } catch (error) {
      await ctx.publish<JobEvent>(
        { type: 'JOB_FAILED', jobId, data: { error: String(error) } },
        { queue: 'job-events' },
      );
      throw error;
    }
  },
  { name: 'run-job', timeout: 10_000 },
);

for (const [id, options] of Object.entries(jobSchedules(Date.now()))) {
  const s = await jobs.schedule(id, options);
  const next = s.nextSlot === null ? 'ended' : new Date(s.nextSlot).toISOString();
  log(
    'INFO',
    `Scheduled job ${id} (${s.cron ?? (s.every === undefined ? 'one-off' : `every ${s.every} ms`)}), next: ${next}`,
  );
}
log('INFO', '✅ Application is running. Press Ctrl+C to stop.');

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    log('WARN', `${signal} again: exiting now`);
    process.exit(130);
  }
  stopping = true;
  log('INFO', `Shutdown requested (${signal})`);
  const announced = await events.publish(
    { type: 'SHUTDOWN_REQUESTED' },
    { correlationId: `shutdown-${process.pid}` },
  );
  await events
    .waitForResult(announced.id, { signal: AbortSignal.timeout(5000) })
    .catch(() => log('WARN', 'SHUTDOWN_REQUESTED was not handled within 5 s'));
  // Drains the handlers in flight (SHUTDOWN_REQUESTED included), stops firing, leaves, closes the log.
  await manager.close();
  log('INFO', 'Stopped cleanly');
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    shutdown(signal).catch((error: unknown) => {
      log('ERROR', `Shutdown failed: ${String(error)}`);
      process.exitCode = 1;
    });
  });
}
