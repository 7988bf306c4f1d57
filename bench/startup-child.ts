// One measurement of `npm run bench:startup`: opens the log at argv[2] and creates a manager with
// `fold: 'eager'` (it is ready once folded up to the head), then prints {ms, rssMb, maxRssMb,
// startedFrom, position} as one JSON line and exits. A process of its own, so its RSS is this start's.
import { createQueueManager } from '../index.js';

const started = performance.now();
const manager = await createQueueManager({
  store: process.argv[2] as string,
  fold: 'eager',
  handleSignals: false,
  snapshotEvery: 0,
});
const ms = performance.now() - started;
const { startedFrom, position } = manager.inspect();
const rssMb = process.memoryUsage().rss / 2 ** 20;
await manager.close();
const maxRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ ms, rssMb, maxRssMb, startedFrom, position }) + '\n');
