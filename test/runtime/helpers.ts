import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import {
  createQueueManager,
  type StoredRecord,
  type QueueManager,
  type QueueManagerOptions,
  type RecordDraft,
} from '../../index.js';

/** A fresh name for a shared in-process memory log. */
export function memoryUrl(): string {
  return `memory:runtime-${randomUUID()}`;
}

const open: QueueManager[] = [];
const dirs: string[] = [];

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

/** A fresh temp dir, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'eventy-runtime-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what = 'condition',
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every record of the manager's log from the start. */
export async function readAll(m: QueueManager, to?: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of m.store.read(to === undefined ? {} : { to })) out.push(r);
  return out;
}

/** Stamps drafts as a log would: dense positions from 0, the given (non-decreasing) times. */
export function stampAll(items: readonly (readonly [time: number, draft: RecordDraft])[]): StoredRecord[] {
  return items.map(([time, draft], position) => ({ ...draft, v: 1, position, time }));
}

/** A promise and its resolver. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
