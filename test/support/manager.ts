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
const cleanups: (() => Promise<void>)[] = [];

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

/** Runs `cleanup` after the test, once every manager of the test is closed. */
export function afterManagers(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** One store backend as the runtime contract sees it. */
export interface RuntimeStore {
  readonly name: string;
  /** A fresh, empty log for this test (removed after the test); the same URL opens the same log. */
  url(): Promise<string>;
  /** Manager options for this store (timings), over the defaults of {@link manager}, under a test's. */
  readonly options?: QueueManagerOptions;
}

/** What a part of the runtime contract gets: managers and fresh logs on one store backend. */
export interface RuntimeHarness {
  readonly store: string;
  /** A manager (closed after the test) on `options.store`, else on a fresh log of this backend. */
  manager(options?: QueueManagerOptions): Promise<QueueManager>;
  /** A fresh log of this backend. */
  url(): Promise<string>;
}

/** The harness of one backend. */
export function runtimeHarness(store: RuntimeStore): RuntimeHarness {
  return {
    store: store.name,
    url: () => store.url(),
    manager: async (options = {}) =>
      manager({ ...store.options, ...options, store: options.store ?? (await store.url()) }),
  };
}
