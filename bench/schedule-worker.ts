// A worker process of bench/schedule.ts: runs the fired jobs of one system with a trivial handler and
// records, per run, the schedule, its slot, when the slot fired and when the handler started. Eventy:
// the manager's scheduler fires the slots (a slot fires when its event is in the log: its log time).
// BullMQ: a job scheduler's job fires when a worker moves it to active (`processedOn`).
// argv: eventy|bullmq storeOrRedisUrl keyPrefix concurrency. IPC: `ready`, `report` → Fires, `stop`.
import { Worker } from 'bullmq';
import { createQueueManager } from '../index.js';
import { cpuMs } from './redis-procs.js';

/** One handler run: schedule id, slot time, fire time, handler start (ms since the epoch), event id. */
export type Fire = [id: string, slot: number, firedAt: number, startedAt: number, eventId: string];

/** What a worker answers to `report`: every run so far, and its CPU time (ms). */
export interface Fires {
  readonly type: 'report';
  readonly fires: Fire[];
  readonly cpu: number;
}

const [system = '', url = '', prefix = '', concurrency = '50'] = process.argv.slice(2);
const fires: Fire[] = [];
let stop: () => Promise<void>;

if (system === 'eventy') {
  const store = new URL(url);
  store.searchParams.set('prefix', prefix);
  const manager = await createQueueManager({ store: store.toString(), handleSignals: false });
  await manager.queue('ticks').subscribe(
    (e) => {
      const { scheduleId = '', scheduledFor = '' } = e.headers;
      fires.push([scheduleId, Date.parse(scheduledFor), e.publishedAt, Date.now(), e.id]);
    },
    { name: 'work', concurrency: Number(concurrency) },
  );
  stop = () => manager.close();
} else {
  const worker = new Worker(
    'ticks',
    (job) => {
      // A scheduler's job id is `repeat:<scheduler id>:<slot ms>`.
      const slot = Number(job.id?.split(':').at(-1) ?? NaN);
      fires.push([job.repeatJobKey ?? '', slot, job.processedOn ?? NaN, Date.now(), job.id ?? '']);
      return Promise.resolve();
    },
    {
      connection: { url, maxRetriesPerRequest: null },
      prefix,
      concurrency: Number(concurrency),
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    },
  );
  worker.on('error', (e) => console.error('bullmq worker:', e));
  await worker.waitUntilReady();
  stop = () => worker.close();
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'report') {
    const report: Fires = { type: 'report', fires, cpu: cpuMs() };
    process.send?.(report);
  } else if (msg.type === 'stop') void stop().then(() => process.exit(0));
});
process.send?.({ type: 'ready' });
