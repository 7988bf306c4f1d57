// A worker process of bench:idle: hosts SUBSCRIBERS competing subscribers (one queue each) with a handler
// that never runs (nothing is published), and speaks bench/redis-procs.ts's IPC (`ready`, `stop`).
// argv: storeUrl subscribers
import { createQueueManager } from '../index.js';

const [store = '', subscribers = '5'] = process.argv.slice(2);

const manager = await createQueueManager({ store, handleSignals: false });
for (let i = 0; i < Number(subscribers); i++) {
  await manager.queue(`idle-${i}`).subscribe(() => undefined, { name: 'work', concurrency: 10 });
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stop') void manager.close().then(() => process.exit(0));
});
process.send?.({ type: 'ready' });
