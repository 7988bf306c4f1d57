import { existsSync, statSync } from 'node:fs';
import { extname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { checkSharedStore } from '../store.js';
import { Supervisor } from '../supervisor.js';
import { JS_EXTENSIONS, moduleFiles, TS_EXTENSIONS } from '../worker-module.js';
import { maskUrl } from '../../index.js';

interface RunOptions {
  store: string;
  processes: number;
  concurrency?: number;
  drainTimeout?: number;
  leaseMs?: number;
  heartbeatMs?: number;
}

/** `eventy run MODULE`: N worker processes running a module's subscriptions, supervised. */
export function runCommand(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .summary('run worker processes from a module')
    .description(
      'run worker processes that load MODULE (a file or a directory of them) and run its handlers, until Ctrl-C',
    )
    .argument('<module>', 'a .js/.mjs file (.ts under tsx), or a directory of them, exporting handlers')
    .addOption(storeOption(ctx.env))
    .option('-p, --processes <n>', 'worker processes', intAtLeast(1), 1)
    .option(
      '-c, --concurrency <n>',
      'default concurrency of each subscription (handlers at once per process)',
      intAtLeast(1),
    )
    .option(
      '--drain-timeout <ms>',
      'on stop, how long in-flight handlers may finish before they are released',
      intAtLeast(0),
    )
    .option(
      '--lease-ms <ms>',
      'how long a claim holds an event without a heartbeat (default 30000)',
      intAtLeast(1),
    )
    .option(
      '--heartbeat-ms <ms>',
      'how often each worker beats (default 2000; dead after 3 missed)',
      intAtLeast(1),
    )
    .addHelpText(
      'after',
      `
A module (or each module of a directory) exports its handlers by default:
  // handlers/orders.js
  import { defineWorker, handler } from 'eventy';
  export default defineWorker({
    handlers: [
      handler({ queue: 'orders', filter: "payload.type == 'new'", retry: { limit: 3 } }, bill),
      handler({ queue: 'orders', filter: (e) => e.payload.total > 100 }, function review(e) { … }),
    ],
    hooks: { onFailure: (event, error) => report(error) },
  });
or a function that sets up subscriptions itself:
  export default async function (manager, { concurrency, slot, signal }) {
    await manager.queue('orders').subscribe(async (event) => bill(event.payload), { name: 'bill' });
  }

A crashed process is restarted; the events it held fail over at once, each with a failed attempt
(WorkerCrashedError: the worker died), retried per the subscriber's retry policy. The first Ctrl-C (or
SIGTERM) drains in-flight work and stops; a second one kills the processes (their events fail over the
same way when workers run again).

Examples:
  $ eventy run ./workers.js
  $ eventy run ./handlers --processes 3 --lease-ms 10000 --heartbeat-ms 1000
  $ eventy run ./workers.js --processes 4 --concurrency 20 --store redis://127.0.0.1:6379/?prefix=app
  $ node --import tsx $(which eventy) run ./workers.ts`,
    )
    .action((module: string, o: RunOptions) => run(ctx, module, o));
}

/**
 * Checks the module path before any process starts: a module file, or a directory holding at least one,
 * each loadable by this Node (TypeScript only under tsx).
 */
export function checkModule(ctx: CliContext, module: string): string {
  const path = resolve(module);
  if (!existsSync(path)) throw new UsageError(`module not found: ${module}`);
  const isDir = statSync(path).isDirectory();
  if (!isDir && !statSync(path).isFile()) throw new UsageError(`module not found: ${module}`);
  const files = moduleFiles(path);
  if (isDir && files.length === 0)
    throw new UsageError(`no .js/.mjs/.cjs (or .ts under tsx) module in directory: ${module}`);
  const tsx = [...ctx.execArgv, ctx.env.NODE_OPTIONS ?? ''].some((a) => a.includes('tsx'));
  const ts = files.find((f) => TS_EXTENSIONS.includes(extname(f)));
  if (ts !== undefined && !tsx) {
    throw new UsageError(
      `${isDir ? relative(process.cwd(), ts) : module} is TypeScript: compile it to .js, or run the CLI under tsx (node --import tsx $(which eventy) run …)`,
    );
  }
  if (!isDir && !JS_EXTENSIONS.includes(extname(path)) && !TS_EXTENSIONS.includes(extname(path)))
    throw new UsageError(`module must be a .js, .mjs or .cjs file (or .ts under tsx), got: ${module}`);
  return path;
}

async function run(ctx: CliContext, module: string, o: RunOptions): Promise<void> {
  const path = checkModule(ctx, module);
  await checkSharedStore(o.store, 'eventy run');
  const log = (line: string): void => void ctx.stderr.write(`eventy run: ${line}\n`);
  const supervisor = new Supervisor({
    execArgv: ctx.execArgv,
    entry: ctx.entry,
    module: path,
    processes: o.processes,
    store: o.store,
    concurrency: o.concurrency,
    drainTimeout: o.drainTimeout,
    leaseMs: o.leaseMs,
    heartbeatMs: o.heartbeatMs,
    env: ctx.env,
    log,
    onMessage: (slot, m) => {
      if (m.type === 'ready') log(`worker ${slot} ready (pid ${m.pid}, worker id ${m.workerId})`);
    },
  });
  ctx.onForce(() => {
    log('forced: killing worker processes');
    supervisor.kill();
  });
  log(
    `starting ${o.processes} worker process${o.processes === 1 ? '' : 'es'} for ${module} on ${maskUrl(o.store)} (Ctrl-C to stop)`,
  );
  supervisor.start();
  const stopped = new Promise<void>((resolve) =>
    ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  const first = await Promise.race([supervisor.done, stopped.then(() => undefined)]);
  if (first === undefined) {
    log('stopping: draining in-flight work (Ctrl-C again to force)');
    await supervisor.stop();
    log('stopped');
    return;
  }
  if (first.failures.length > 0) throw new Error(first.failures[0]);
  log('every worker process finished');
}
