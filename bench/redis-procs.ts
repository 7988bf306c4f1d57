// Worker processes of the Redis benchmark and the IPC they speak (the same as bench/queue-worker.ts):
// the worker sends `ready`, answers `report` with its latencies, and exits on `stop`. Workers that cannot
// see each other's progress (BullMQ, raw streams) also send `progress` with how many events they
// finished, at most every few milliseconds.
import { fork, type ChildProcess } from 'node:child_process';
import type { Observable } from 'rxjs';
import type { QueueResult } from '../index.js';

/** High-resolution wall-clock time in ms, comparable across processes of one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

/** What a worker answers to `report`: the publish → handler-start latencies since the last report. */
export interface Report {
  readonly type: 'report';
  readonly latencies: number[];
  readonly handled: number;
  readonly rss: number;
  /** CPU time (user + system) the worker used so far, in ms. */
  readonly cpu: number;
}

interface Message {
  readonly type: string;
  readonly done?: number;
  /** When the worker's count of finished events last grew ({@link now}). */
  readonly at?: number;
}

/** Every worker process not yet exited, for {@link killWorkers}. */
const running = new Set<ChildProcess>();

/** SIGKILLs every worker still running (an interrupted run leaves none behind). */
export function killWorkers(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Worker processes of one benchmark case, forked from compiled files next to this one. */
export class Workers {
  readonly #children: ChildProcess[] = [];
  readonly #done = new Map<ChildProcess, { done: number; at: number }>();

  /** Forks `count` workers of `file` (relative to this file) with `args` and waits until all are ready. */
  static async start(file: string, args: readonly string[], count: number): Promise<Workers> {
    const workers = new Workers();
    const path = new URL(file, import.meta.url).pathname;
    const execArgv = process.env.BENCH_WORKER_ARGS?.split(' ').filter(Boolean) ?? [];
    await Promise.all(
      Array.from({ length: count }, () => {
        const child = fork(path, [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
        workers.#children.push(child);
        running.add(child);
        child.once('exit', () => running.delete(child));
        child.on('message', (m: Message) => {
          if (m.type === 'progress') workers.#done.set(child, { done: m.done ?? 0, at: m.at ?? 0 });
        });
        return new Promise<void>((resolve, reject) => {
          const onMessage = (m: Message): void => {
            if (m.type !== 'ready') return;
            child.off('message', onMessage);
            resolve();
          };
          child.on('message', onMessage);
          child.once('exit', (code) => reject(new Error(`${file} exited with ${String(code)} before ready`)));
        });
      }),
    );
    return workers;
  }

  /** Events finished by all workers together, as they last told (workers that send `progress`). */
  get done(): number {
    let sum = 0;
    for (const { done } of this.#done.values()) sum += done;
    return sum;
  }

  /** When the last of the events counted by {@link done} finished: the latest of the workers' times. */
  get doneAt(): number {
    return Math.max(0, ...[...this.#done.values()].map((p) => p.at));
  }

  /** The highest count a worker told: for workers that each see every worker's progress (Eventy's fold). */
  get highest(): number {
    return Math.max(0, ...[...this.#done.values()].map((p) => p.done));
  }

  /**
   * When the count {@link highest} reached was reached: the earliest time among the workers that told it
   * (each folds every result; the first to have them all saw the events done).
   */
  get highestAt(): number {
    const top = this.highest;
    return Math.min(...[...this.#done.values()].filter((p) => p.done === top).map((p) => p.at));
  }

  /** Collects (and clears) every worker's latencies. */
  async reports(): Promise<Report[]> {
    return Promise.all(
      this.#children.map(
        (child) =>
          new Promise<Report>((resolve) => {
            const onMessage = (m: Message): void => {
              if (m.type !== 'report') return;
              child.off('message', onMessage);
              resolve(m as unknown as Report);
            };
            child.on('message', onMessage);
            child.send({ type: 'report' });
          }),
      ),
    );
  }

  /** Asks every worker to stop and waits until all exited. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve(null);
            c.once('exit', resolve);
            c.send({ type: 'stop' });
          }),
      ),
    );
  }
}

/** Resolves once `check()` holds, looking every 2 ms; throws once `deadlineMs` passed without it. */
export async function until(check: () => boolean, what = 'the workers', deadlineMs = 600_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`benchmark: waited ${deadlineMs / 1000} s for ${what}, in vain`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * The worker side: counts handled and finished events, answers `report`, stops on `stop`, and sends
 * `progress` (at most every 5 ms) when `progress` is set.
 */
export function serveWorker(stop: () => Promise<void>, progress: boolean): WorkerSide {
  const side = new WorkerSide();
  const timer = progress ? sendProgress(side.count) : undefined;
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'report') {
      const report: Report = {
        type: 'report',
        latencies: side.latencies.splice(0),
        handled: side.handled,
        rss: process.memoryUsage().rss,
        cpu: cpuMs(),
      };
      process.send?.(report);
    } else if (msg.type === 'stop') {
      clearInterval(timer);
      void stop().then(() => process.exit(0));
    }
  });
  return side;
}

/** A count of finished events and when it last grew ({@link now}): a run ends when its last event did. */
export class DoneCount {
  n = 0;
  at = 0;

  add(k: number): void {
    this.n += k;
    this.at = now();
  }
}

/**
 * How many events of the benchmark's subscriber (`work`) are done as this process's fold sees them: its
 * accepted `ok` results (the fold's `done`: fenced results do not count), counted as they are folded.
 * Reading it costs nothing, where `manager.inspect()` builds every row: call this before any result is
 * recorded (it counts from now on).
 */
export function countDone(queue: { results$(): Observable<QueueResult> }): DoneCount {
  const count = new DoneCount();
  queue.results$().subscribe((r) => {
    if (r.subscriber === 'work' && r.status === 'ok' && r.accepted) count.add(1);
  });
  return count;
}

/** {@link countDone}'s count, as a function. */
export function doneCounter(queue: { results$(): Observable<QueueResult> }): () => number {
  const count = countDone(queue);
  return () => count.n;
}

/**
 * Sends `progress` with the count and when it last grew, every 5 ms while it changes (the timer does
 * not hold the process). The time is what a run's end is taken from: not when the benchmark heard.
 */
export function sendProgress(count: DoneCount): NodeJS.Timeout {
  let sent = 0;
  return setInterval(() => {
    if (count.n === sent) return;
    sent = count.n;
    process.send?.({ type: 'progress', done: count.n, at: count.at });
  }, 5).unref();
}

/** Counters of one worker process. */
export class WorkerSide {
  readonly latencies: number[] = [];
  handled = 0;
  readonly count = new DoneCount();

  /** Call at handler start with the payload's send time. */
  started(sentAt: number): void {
    this.latencies.push(now() - sentAt);
    this.handled++;
  }

  /** Call when `n` events are done (completed, acknowledged). */
  finished(n = 1): void {
    this.count.add(n);
  }

  ready(): void {
    process.send?.({ type: 'ready' });
  }
}

/** CPU time (user + system) this process used so far, in ms. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** The `p` quantile of sorted values (NaN when empty). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

/**
 * Calls `send(i)` at `rate` per second for `seconds`, sends not awaited (as in production). Each send is
 * made when it is due, or as soon after as a timer fires: the pacer sleeps between sends (1 ms timer
 * steps), so that it does not take a core from the systems measured — a busy-waiting pacer holds one of
 * the machine's two cores. `BENCH_PACER=spin` busy-waits on setImmediate instead, for sub-ms schedules.
 * Latencies are measured from each send's own time, so a late send is not counted against the system.
 */
export async function paced(rate: number, seconds: number, send: (i: number) => void): Promise<number> {
  const count = Math.round(rate * seconds);
  const spin = process.env.BENCH_PACER === 'spin';
  const start = now();
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    if (spin) while (now() < due) await new Promise((resolve) => setImmediate(resolve));
    else if (now() < due) await new Promise((resolve) => setTimeout(resolve, due - now()));
    send(i);
  }
  return count;
}
