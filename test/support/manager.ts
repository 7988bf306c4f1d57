import { randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';
import { createQueueManager, type QueueManager, type QueueManagerOptions } from '../../index.js';
// Evaluated before this module, so its after-each hook is registered first: after-each hooks run in
// reverse order, so managers close before the temp dirs they used are removed.
import './temp.js';

/** A fresh name for a shared in-process memory log. */
export function memoryUrl(): string {
  return `memory:runtime-${randomUUID()}`;
}

const open: QueueManager[] = [];

/**
 * A manager on `store` (default a fresh `memory:`), with small timings and no signal handlers. Every
 * manager opened here is closed after the test, even when the test fails half-way.
 */
export async function manager(options: QueueManagerOptions = {}): Promise<QueueManager> {
  const m = await createQueueManager({
    store: 'memory:',
    handleSignals: false,
    leaseMs: 5_000,
    heartbeatMs: 1_000,
    spreadGraceMs: 20,
    shutdownTimeout: 2_000,
    ...options,
  });
  open.push(m);
  return m;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});
