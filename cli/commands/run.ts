import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { checkSharedStore } from '../store.js';
import { Supervisor } from '../supervisor.js';
import { maskUrl } from '../../index.js';

interface RunOptions {
  store: string;
  processes: number;
  concurrency?: number;
  drainTimeout?: number;
}

const JS = ['.js', '.mjs', '.cjs'];
const TS = ['.ts', '.mts', '.cts'];

/** `eventy run MODULE`: N worker processes running a module's subscriptions, supervised. */
export function runCommand(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .summary('run worker processes from a module')
    .description(
      'run worker processes that load MODULE (its default export receives the manager), until Ctrl-C',
    )
    .argument('<module>', 'a .js/.mjs file (.ts under tsx) whose default export sets up subscriptions')
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
    .addHelpText(
      'after',
      `
The module:
  // workers.js
  export default async function (manager, { concurrency, slot, signal }) {
    await manager.queue('orders').subscribe(async (event) => bill(event.payload), { name: 'bill' });
  }

A crashed process is restarted. The first Ctrl-C (or SIGTERM) drains in-flight work and stops; a second
one kills the processes (their leases expire and other workers take their events again).

Examples:
  $ eventy run ./workers.js
  $ eventy run ./workers.js --processes 4 --concurrency 20 --store redis://127.0.0.1:6379/?prefix=app
  $ node --import tsx $(which eventy) run ./workers.ts`,
    )
    .action((module: string, o: RunOptions) => run(ctx, module, o));
}

/** Checks the module path before any process starts: it must exist and be loadable by this Node. */
export function checkModule(ctx: CliContext, module: string): string {
  const path = resolve(module);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`module not found: ${module}`);
  const ext = extname(path);
  const tsx = [...ctx.execArgv, ctx.env.NODE_OPTIONS ?? ''].some((a) => a.includes('tsx'));
  if (TS.includes(ext) && !tsx) {
    throw new UsageError(
      `${module} is TypeScript: compile it to .js, or run the CLI under tsx (node --import tsx $(which eventy) run …)`,
    );
  }
  if (!JS.includes(ext) && !TS.includes(ext))
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
