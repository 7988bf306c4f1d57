// `npm run bench:idle [-- --workers 3 --subscribers 5 --seconds 30]`: how many records an idle deployment
// appends. Forks the worker processes (bench/idle-worker.ts) on a fresh file store, each hosting the
// subscribers with nothing to do, lets them settle, then counts the records appended over the window:
// records/s for all of them together and per worker per heartbeat interval (the default, 2 s), by type.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../index.js';
import { killWorkers, Workers } from './redis-procs.js';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '3' },
    subscribers: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '30' },
  },
});
const WORKERS = Number(args.workers);
const SECONDS = Number(args.seconds);
/** The manager's default `heartbeatMs`. */
const HEARTBEAT_MS = 2000;
/** Time for the workers' joins and first reservations to settle before counting. */
const SETTLE_MS = 3000;
const TARGET_PER_S = 1.5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

process.on('exit', killWorkers);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eventy-bench-idle-'));
const url = `file:${path.join(dir, 'log')}`;
const store = await openStore(url);
try {
  const workers = await Workers.start('./idle-worker.js', [url, args.subscribers], WORKERS);
  await sleep(SETTLE_MS);
  const from = await store.head(); // the next position: the first record counted
  await sleep(SECONDS * 1000);
  const to = await store.head();
  const byType = new Map<string, number>();
  for await (const r of store.read({ from, to })) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
  await workers.stop();
  const records = to - from;
  const perSecond = records / SECONDS;
  const perWorkerBeat = records / WORKERS / (SECONDS / (HEARTBEAT_MS / 1000));
  console.log(
    `idle: ${WORKERS} workers × ${args.subscribers} subscribers, file store, ${SECONDS} s, ${os.cpus().length} cores`,
  );
  console.table([
    {
      records,
      'records/s': Number(perSecond.toFixed(2)),
      'per worker per heartbeat': Number(perWorkerBeat.toFixed(2)),
      target: `≤ ${TARGET_PER_S}/s`,
      ok: perSecond <= TARGET_PER_S,
    },
  ]);
  console.table(Object.fromEntries([...byType].map(([type, n]) => [type, { records: n }])));
} finally {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
