// A BullMQ worker process for bench/redis.ts: a trivial handler, concurrency from argv, and the setup
// BullMQ documents for speed (jobs removed on completion, no QueueEvents).
// argv: redisUrl keyPrefix concurrency
import { Worker } from 'bullmq';
import { serveWorker } from './redis-procs.js';

const [url = '', prefix = '', concurrency = '10'] = process.argv.slice(2);

const worker = new Worker<{ sentAt: number }>(
  'bench',
  (job) => {
    side.started(job.data.sentAt);
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
const side = serveWorker(() => worker.close(), true);
worker.on('completed', () => side.finished());
worker.on('error', (e) => console.error('bullmq worker:', e));
await worker.waitUntilReady();
side.ready();
