import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import {
  createQueueManager,
  isWorkerDefinition,
  startWorker,
  type QueueManager,
  type WorkerDefinition,
} from '../../index.js';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { describeError } from '../errors.js';
import { EXIT_MODULE_FAILED, type WorkerMessage } from '../supervisor.js';
import { moduleFiles, withSubscribeDefaults, type WorkerModule } from '../worker-module.js';

interface WorkerOptions {
  store: string;
  slot: number;
  concurrency?: number;
  drainTimeout?: number;
  leaseMs?: number;
  heartbeatMs?: number;
}

/** A worker module failed to load or set up: the supervisor does not restart it. */
export class ModuleFailedError extends Error {
  readonly exitCode = EXIT_MODULE_FAILED;
}

/**
 * `eventy worker MODULE` (hidden): one worker process, as `eventy run` and `eventy demo` start it. Loads
 * the module, hands it the manager, then runs until a signal (or the supervisor's death) and drains.
 */
export function workerCommand(program: Command, ctx: CliContext): void {
  program
    .command('worker', { hidden: true })
    .description('run one worker process (started by eventy run)')
    .argument('<module>', 'absolute path of the worker module (or directory of modules)')
    .addOption(storeOption(ctx.env))
    .option('--slot <n>', 'slot number given by the supervisor', intAtLeast(1), 1)
    .option('--concurrency <n>', 'default concurrency of subscriptions', intAtLeast(1))
    .option('--drain-timeout <ms>', 'how long to drain in-flight work when stopped', intAtLeast(0))
    .option('--lease-ms <ms>', 'lease of the claims (ms)', intAtLeast(1))
    .option('--heartbeat-ms <ms>', 'heartbeat period (ms)', intAtLeast(1))
    .action((module: string, o: WorkerOptions) => worker(ctx, module, o));
}

const DEFAULT_DRAIN_MS = 10_000;
/** Beyond the drain, how long closing may take before the worker gives up on a clean exit. */
const CLOSE_GRACE_MS = 5000;

async function worker(ctx: CliContext, module: string, o: WorkerOptions): Promise<void> {
  const setup = await load(ctx, module);
  // A store that cannot be reached is worth retrying: this fails with exit 1 and is restarted. A stop
  // asked for meanwhile wins: opening a log can take long, and the process must not outlive its stop.
  const opening = createQueueManager({
    store: o.store,
    handleSignals: false,
    ...(o.drainTimeout !== undefined ? { shutdownTimeout: o.drainTimeout } : {}),
    ...(o.leaseMs !== undefined ? { leaseMs: o.leaseMs } : {}),
    ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
  });
  const manager = await unlessAborted(opening, ctx.signal);
  if (manager === undefined) {
    void opening.then((m) => m.close()).catch(() => undefined);
    return;
  }
  // Its id before any claim: should this process die, the supervisor ends its claims in the log at once.
  ctx.send?.({ type: 'started', workerId: manager.workerId, pid: process.pid } satisfies WorkerMessage);
  const closeLimit = (o.drainTimeout ?? DEFAULT_DRAIN_MS) + CLOSE_GRACE_MS;
  const close = (): Promise<void> => withDeadline(manager.close(), closeLimit, 'closing the worker');
  try {
    await setup(manager, o);
  } catch (e) {
    await close();
    if (ctx.signal.aborted) return;
    throw failed(ctx, module, e);
  }
  ctx.send?.({ type: 'ready', workerId: manager.workerId, pid: process.pid } satisfies WorkerMessage);
  // Runs until asked to stop, until every queue it hosts has ended (an end order drained, or an
  // interrupt: exit 0, not restarted), or until the log cannot be followed any more (exit 1: restarted).
  let broken: unknown;
  const watch = manager.records$().subscribe({ error: (e: unknown) => (broken = e) });
  const failure = new Promise<void>((resolve) => watch.add(() => resolve()));
  const hosted = manager.inspect().hosted.length > 0;
  const ended = hosted ? manager.drained().catch(() => undefined) : new Promise<void>(() => undefined);
  await Promise.race([untilAborted(ctx.signal), failure, ended]);
  watch.unsubscribe();
  await close();
  if (broken !== undefined) throw broken instanceof Error ? broken : new Error(describeError(broken));
}

/** The promise's value, or undefined as soon as the signal aborts. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = (): void => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/** Waits for `promise` at most `ms`, then fails naming `what`. */
async function withDeadline(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

type Setup = (manager: QueueManager, o: WorkerOptions) => Promise<void>;

/**
 * Imports the module (or every module of the directory) and returns how to set them up on the manager:
 * the worker definitions' handlers, then each function module in turn. In a directory a module without
 * a default export is a helper and is left out. A module that cannot be used is not retried.
 */
async function load(ctx: CliContext, module: string): Promise<Setup> {
  const definitions: WorkerDefinition[] = [];
  const functions: WorkerModule[] = [];
  try {
    const files = moduleFiles(module);
    for (const file of files) {
      const loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
      const value = loaded.default;
      if (isWorkerDefinition(value)) definitions.push(value);
      else if (typeof value === 'function') functions.push(value as WorkerModule);
      else if (value !== undefined || files.length === 1) throw new Error(notAWorker(file, value));
    }
    if (definitions.length + functions.length === 0) throw new Error(notAWorker(module, undefined));
  } catch (e) {
    throw failed(ctx, module, e);
  }
  return async (manager, o) => {
    const concurrency = o.concurrency !== undefined ? { concurrency: o.concurrency } : {};
    if (definitions.length > 0) await startWorker(manager, definitions, concurrency);
    for (const fn of functions) {
      await fn(withSubscribeDefaults(manager, concurrency), {
        concurrency: o.concurrency,
        slot: o.slot,
        signal: ctx.signal,
      });
    }
  };
}

function notAWorker(module: string, value: unknown): string {
  const what = value === undefined ? 'no default export' : `a default export of type ${typeof value}`;
  return `${module} has ${what}: export default defineWorker({ handlers: [handler({ queue }, fn)] }) or a function (export default async function (manager) { … })`;
}

/** Tells the supervisor the module failed (so it is not restarted) and returns the error to throw. */
function failed(ctx: CliContext, module: string, e: unknown): ModuleFailedError {
  const message = `cannot start ${module}: ${describeError(e)}`;
  ctx.send?.({ type: 'failed', message } satisfies WorkerMessage);
  return new ModuleFailedError(message, { cause: e });
}

/** Waits for the signal, keeping the process alive meanwhile (a module may host nothing). */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const keepAlive = setInterval(() => undefined, 1 << 30);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    );
  });
}
