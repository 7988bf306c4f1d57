import type { Queue, QueueManager, ScheduleOptions } from 'eventy';

/** What a fired job event carries: which task to run. */
export interface JobPayload {
  readonly task: 'heartbeat' | 'report' | 'welcome';
}

/** A job's lifecycle, published to the `job-events` queue with the job event's correlation id. */
export type JobEventType = 'JOB_STARTED' | 'JOB_COMPLETED' | 'JOB_FAILED' | 'SHUTDOWN_REQUESTED';

export interface JobEvent {
  readonly type: JobEventType;
  /** The schedule that fired the job; none for SHUTDOWN_REQUESTED. */
  readonly jobId?: string;
  readonly data?: unknown;
}

/**
 * The jobs of the demo, by schedule id: an interval job, a cron job (6 fields: seconds first) and a
 * one-off delayed job. Each is a schedule in the log, so restarting the demo (or running it in several
 * processes) keeps one run per slot.
 */
export function jobSchedules(now: number): Record<string, ScheduleOptions<JobPayload>> {
  return {
    heartbeat: { every: '2s', payload: { task: 'heartbeat' } },
    report: { cron: '*/5 * * * * *', tz: 'UTC', payload: { task: 'report' } },
    // A one-off: a new `at` on each start replaces the definition, so it fires once per run.
    welcome: { at: now + 3000, payload: { task: 'welcome' }, headers: { origin: 'startup' } },
  };
}

/** The work each task does; what it returns is the run's result in the log. */
export const tasks: Record<JobPayload['task'], (m: QueueManager, jobs: Queue<JobPayload>) => unknown> = {
  heartbeat: () => ({ rssMb: Math.round(process.memoryUsage().rss / 1e6) }),
  report: async (_m, jobs) => ({ runsSoFar: await jobs.countEvents() }),
  welcome: () => ({ message: 'Hello from a one-off delayed job' }),
};
