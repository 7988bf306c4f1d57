import { spawn, type ChildProcess } from 'node:child_process';
import { CrashReporter } from './crash-reporter.js';

/** Exit code of a worker process whose module could not be loaded or set up: it is not restarted. */
export const EXIT_MODULE_FAILED = 78;

/**
 * V8 heap settings of worker processes, unless the node arguments or NODE_OPTIONS set them: a smaller
 * young generation than V8 grows to, and a major GC after less old-space growth than V8 allows. A
 * worker's live heap is small but churns fast, so V8's defaults let its RSS peak far above what it
 * holds; these keep the peak lower for a little more CPU (`bench:queue -- --memory` measures both, with
 * `BENCH_WORKER_ARGS=' '` for V8's defaults).
 */
export const WORKER_HEAP_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=150'];

/** The worker heap flags that neither the node arguments nor NODE_OPTIONS set already. */
export function workerHeapFlags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.split('=')[0]?.replaceAll('_', '-'));
  return WORKER_HEAP_FLAGS.filter((f) => !given.includes(f.split('=')[0]));
}

/** What a worker process tells its supervisor over IPC. */
export type WorkerMessage =
  | { readonly type: 'started'; readonly workerId: string; readonly pid: number }
  | { readonly type: 'ready'; readonly workerId: string; readonly pid: number }
  | { readonly type: 'failed'; readonly message: string };

export interface SupervisorOptions {
  /** Node arguments and the CLI entry script the children run (`<entry> worker <module> …`). */
  readonly execArgv: readonly string[];
  readonly entry: string;
  /** Absolute path of the module the workers load. */
  readonly module: string;
  readonly processes: number;
  readonly store: string;
  readonly concurrency?: number | undefined;
  /** How long a worker drains in-flight work when stopped (ms). */
  readonly drainTimeout?: number | undefined;
  /** The workers' lease and heartbeat (ms), when not their defaults. */
  readonly leaseMs?: number | undefined;
  readonly heartbeatMs?: number | undefined;
  readonly env: NodeJS.ProcessEnv;
  /** Status lines (started, ready, crashed, restarting). */
  readonly log: (line: string) => void;
  /** Every message of a worker, with its slot number (1-based). */
  readonly onMessage?: (slot: number, message: WorkerMessage) => void;
}

/** How the supervised processes ended. */
export interface SupervisorOutcome {
  /** Module failures (load or setup), one per slot that gave up. */
  readonly failures: readonly string[];
  readonly restarts: number;
}

interface Slot {
  readonly index: number;
  child: ChildProcess | undefined;
  /** The worker id of the process running now, once it said it. */
  workerId: string | undefined;
  crashes: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
  finished: boolean;
  failure: string | undefined;
}

const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 10_000;

/**
 * Runs N worker processes of the CLI (`eventy worker MODULE`), restarts one that crashes (with a
 * growing delay), and stops them: {@link stop} asks each to drain (SIGTERM), {@link kill} forces. A
 * process that dies (a non-zero exit, a signal) is announced in the log for it (`worker.left crashed`),
 * so its claims end at once and its events fail over in seconds rather than after their leases.
 * Children run in their own process group, so a terminal's Ctrl-C reaches only the supervisor, which
 * passes a single SIGTERM on; a child whose supervisor dies notices its IPC channel close and drains.
 */
export class Supervisor {
  readonly #slots: Slot[];
  readonly #crashes: CrashReporter;
  /** Crash announcements being appended: done waits for them. */
  readonly #reporting = new Set<Promise<void>>();
  #stopping = false;
  #restarts = 0;
  #resolve: ((o: SupervisorOutcome) => void) | undefined;
  /** Resolves once every process has ended and none will be restarted. */
  readonly done: Promise<SupervisorOutcome>;

  constructor(private readonly o: SupervisorOptions) {
    this.#slots = Array.from({ length: o.processes }, (_, i) => ({
      index: i + 1,
      child: undefined,
      workerId: undefined,
      crashes: 0,
      startedAt: 0,
      timer: undefined,
      finished: false,
      failure: undefined,
    }));
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    this.#crashes = new CrashReporter(o.store);
  }

  /** Pids of the processes running now. */
  get pids(): number[] {
    return this.#slots.flatMap((s) =>
      s.child?.pid !== undefined && s.child.exitCode === null ? [s.child.pid] : [],
    );
  }

  start(): void {
    for (const slot of this.#slots) this.#spawn(slot);
  }

  /** Stops restarting and asks every process to drain and leave; resolves when all have exited. */
  stop(): Promise<SupervisorOutcome> {
    this.#stopping = true;
    for (const slot of this.#slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
      if (slot.child && slot.child.exitCode === null && slot.child.signalCode === null)
        slot.child.kill('SIGTERM');
      else this.#finish(slot);
    }
    return this.done;
  }

  /** Kills every process now (SIGKILL): their leases expire and other workers take their events. */
  kill(): void {
    this.#stopping = true;
    for (const slot of this.#slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.child?.kill('SIGKILL');
    }
  }

  #spawn(slot: Slot): void {
    const args = [
      ...workerHeapFlags(this.o.execArgv, this.o.env.NODE_OPTIONS),
      ...this.o.execArgv,
      this.o.entry,
      'worker',
      this.o.module,
      '--slot',
      String(slot.index),
    ];
    if (this.o.concurrency !== undefined) args.push('--concurrency', String(this.o.concurrency));
    if (this.o.drainTimeout !== undefined) args.push('--drain-timeout', String(this.o.drainTimeout));
    if (this.o.leaseMs !== undefined) args.push('--lease-ms', String(this.o.leaseMs));
    if (this.o.heartbeatMs !== undefined) args.push('--heartbeat-ms', String(this.o.heartbeatMs));
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
      // The store URL travels in the environment, never on the command line: `ps` shows every
      // process's arguments to every user, and a URL may hold a password.
      env: { ...this.o.env, EVENTY_STORE: this.o.store },
    });
    slot.child = child;
    slot.workerId = undefined;
    slot.startedAt = Date.now();
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'failed') slot.failure = m.message;
      else slot.workerId = m.workerId;
      this.o.onMessage?.(slot.index, m);
    });
    child.on('error', (e) => this.o.log(`worker ${slot.index}: cannot start: ${e.message}`));
    child.once('exit', (code, signal) => this.#exited(slot, code, signal, child.pid));
  }

  #exited(slot: Slot, code: number | null, signal: NodeJS.Signals | null, pid: number | undefined): void {
    slot.child = undefined;
    if (signal !== null || (code !== 0 && code !== EXIT_MODULE_FAILED))
      this.#announceCrash(
        slot,
        pid ?? 0,
        signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`,
      );
    if (this.#stopping) return this.#finish(slot);
    if (code === 0) {
      this.o.log(`worker ${slot.index} finished`);
      return this.#finish(slot);
    }
    if (code === EXIT_MODULE_FAILED) {
      slot.failure ??= 'the worker module failed';
      this.o.log(`worker ${slot.index} gave up: ${slot.failure}`);
      return this.#finish(slot);
    }
    if (Date.now() - slot.startedAt > STABLE_MS) slot.crashes = 0;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** slot.crashes);
    slot.crashes++;
    this.#restarts++;
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
    this.o.log(`worker ${slot.index} ${how}; restarting in ${(delay / 1000).toFixed(1)}s`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!this.#stopping) this.#spawn(slot);
      else this.#finish(slot);
    }, delay);
  }

  /** Appends `worker.left crashed` for the slot's dead worker, if it said its id. */
  #announceCrash(slot: Slot, pid: number, detail: string): void {
    const workerId = slot.workerId;
    slot.workerId = undefined;
    if (workerId === undefined) return; // it died before it had a manager: it held nothing
    const report = this.#crashes.report({ workerId, pid, detail }).catch((e: unknown) => {
      this.o.log(
        `worker ${slot.index}: cannot record its crash: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
    this.#reporting.add(report);
    void report.then(() => this.#reporting.delete(report));
  }

  #finish(slot: Slot): void {
    slot.finished = true;
    if (!this.#slots.every((s) => s.finished)) return;
    const outcome = {
      failures: this.#slots.flatMap((s) => (s.failure === undefined ? [] : [s.failure])),
      restarts: this.#restarts,
    };
    void Promise.all(this.#reporting)
      .then(() => this.#crashes.close())
      .then(() => this.#resolve?.(outcome));
  }
}
