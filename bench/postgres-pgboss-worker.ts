// A pg-boss worker process for bench/postgres.ts: a trivial handler, jobs fetched in batches of
// `concurrency`, woken by LISTEN/NOTIFY and fetching on while batches come back full (pg-boss's own
// settings for speed). argv: postgresUrl schema concurrency
import { PgBoss } from 'pg-boss';
import { serveWorker } from './redis-procs.js';

const [url = '', schema = '', concurrency = '10'] = process.argv.slice(2);

const boss = new PgBoss({
  connectionString: url,
  schema,
  useListenNotify: true,
  supervise: false,
  schedule: false,
  migrate: false,
});
boss.on('error', (e) => console.error('pg-boss worker:', e));
await boss.start();
const side = serveWorker(() => boss.stop({ graceful: false }), true);
await boss.work<{ sentAt: number }>(
  'bench',
  { batchSize: Number(concurrency), pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
  async (jobs) => {
    for (const job of jobs) side.started(job.data.sentAt);
    await Promise.resolve();
    // Counted once the handler returns; pg-boss then marks the batch completed in one statement.
    queueMicrotask(() => side.finished(jobs.length));
  },
);
side.ready();
