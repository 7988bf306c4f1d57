// A worker of the soak (bench/soak.ts): a queue manager hosting subscriber `work` on queue `soak` with a
// short lease, a handler that takes a few ms, and `ready` on stdout once it is subscribed. SIGTERM stops it
// gracefully (the manager's signal handlers); the soak SIGKILLs it at random moments.
// A manager that fails (its log diverged, say) makes the process exit 3 with the reason on stderr.
// argv: storeUrl leaseMs [snapshotEvery]
import { createQueueManager } from '../index.js';

const [url = '', leaseMs = '1000', snapshotEvery] = process.argv.slice(2);
const lease = Number(leaseMs);
const manager = await createQueueManager({
  store: url,
  leaseMs: lease,
  heartbeatMs: Math.max(100, Math.round(lease / 4)),
  spreadGraceMs: 100,
  shutdownTimeout: 2000,
  ...(snapshotEvery === undefined ? {} : { snapshotEvery: Number(snapshotEvery) }),
});
manager.records$().subscribe({
  error: (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(3);
  },
});
await manager.queue<{ n: number }>('soak').subscribe(
  async (event) => {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    return { n: event.payload.n };
  },
  { name: 'work', concurrency: 4, from: 'earliest' },
);
process.stdout.write(`ready ${manager.workerId}\n`);
