/**
 * The worker module `eventy demo` runs in its worker processes: it computes small tasks (counting the
 * primes below n) and fails a few of them once, so the log shows retries too.
 */
import type { QueueManager } from '../index.js';
import type { WorkerContext } from './worker-module.js';

/** The demo's queue and subscriber. */
export const DEMO_QUEUE = 'demo';
export const DEMO_SUBSCRIBER = 'compute';

/** One demo task. */
export interface DemoTask {
  readonly task: number;
  /** Count the primes below this. */
  readonly n: number;
  /** Fail the first attempt (a transient error the retry policy recovers from). */
  readonly flaky: boolean;
}

/** A failure that goes away when tried again. */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransientError';
  }
}

/** The number of primes below `n` (sieve of Eratosthenes). */
export function countPrimes(n: number): number {
  const composite = new Uint8Array(n);
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i] === 1) continue;
    count++;
    for (let j = i * i; j < n; j += i) composite[j] = 1;
  }
  return count;
}

/** The tasks of a demo run. */
export function demoTasks(count: number): DemoTask[] {
  return Array.from({ length: count }, (_, task) => ({
    task,
    n: 20_000 + (task % 50) * 500,
    flaky: task % 100 === 42,
  }));
}

export default async function demoWorker(manager: QueueManager, context: WorkerContext): Promise<void> {
  await manager.queue<DemoTask>(DEMO_QUEUE).subscribe(
    (event, ctx) => {
      const { task, n, flaky } = event.payload;
      if (flaky && ctx.attempt === 1)
        throw new TransientError(`task ${task} failed once on purpose; it is retried`);
      return { task, primes: countPrimes(n) };
    },
    {
      name: DEMO_SUBSCRIBER,
      from: 'earliest',
      concurrency: context.concurrency ?? 16,
      retry: { limit: 3, minBackoff: 100, maxBackoff: 1000 },
    },
  );
}
