import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Subscription as RxSubscription } from 'rxjs';
import {
  AbortedError,
  createQueueManager,
  maskUrl,
  type QueueManager,
  type QueueResult,
} from '../../index.js';
import { serve } from '../../adapters/server/index.js';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { DEMO_QUEUE, demoTasks, type DemoTask } from '../demo-worker.js';
import { colourEnabled, formatCount, formatDuration, painter, toJson, writeLine } from '../output.js';
import { progressBar } from '../progress.js';
import { checkSharedStore } from '../store.js';
import { Supervisor } from '../supervisor.js';
import { untilAborted } from './serve.js';

interface DemoOptions {
  store: string;
  count: number;
  processes: number;
  concurrency: number;
  timeout: number;
  json?: boolean;
  serve?: boolean;
  port: number;
}

/** What the demo measured. */
interface DemoSummary {
  readonly store: string;
  readonly queue: string;
  readonly correlationId: string;
  readonly tasks: number;
  readonly done: number;
  readonly retried: number;
  readonly processes: number;
  /** Log time from the first publish to the last result. */
  readonly elapsedMs: number;
  readonly tasksPerSecond: number;
  readonly workers: { workerId: string; slot: number | null; pid: number | null; tasks: number }[];
  readonly firstPosition: number;
  readonly exampleEventId: string | null;
}

/** `eventy demo`: publishes a batch of tasks and runs worker processes that compute them. */
export function demoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .summary('publish tasks and run worker processes that compute them')
    .description('publish a batch of small tasks, run worker processes that compute them, and summarise')
    .addOption(storeOption(ctx.env))
    .option('--count <n>', 'tasks to publish', intAtLeast(1), 2000)
    .option('-p, --processes <n>', 'worker processes', intAtLeast(1), 2)
    .option('-c, --concurrency <n>', 'handlers at once per process', intAtLeast(1), 16)
    .option('--timeout <s>', 'give up when no task finishes for this many seconds', intAtLeast(1), 60)
    .option('--json', 'print the summary as JSON')
    .option('--serve', "serve the dashboard on the demo's log (from the first publish on) until Ctrl-C")
    .option('--port <n>', "the dashboard's port with --serve (0: any free one)", intAtLeast(0), 7733)
    .addHelpText(
      'after',
      `
The log stays: look at it afterwards with tail, replay, inspect and stats.

Examples:
  $ eventy demo
  $ eventy demo --count 10000 --processes 4
  $ eventy demo --serve                           watch it at http://127.0.0.1:7733/
  $ eventy demo --store file:/tmp/demo && eventy replay --store file:/tmp/demo --view subscribers`,
    )
    .action((o: DemoOptions) => demo(ctx, o));
}

function demoWorkerPath(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`../demo-worker${extname(here)}`, import.meta.url));
}

async function demo(ctx: CliContext, o: DemoOptions): Promise<void> {
  const paint = painter(!o.json && colourEnabled(ctx.stdout, ctx.env));
  const say = (line: string): Promise<void> => (o.json ? Promise.resolve() : writeLine(ctx.stdout, line));
  await checkSharedStore(o.store, 'eventy demo');
  const manager = await createQueueManager({ store: o.store, handleSignals: false });
  let watcher: RxSubscription | undefined;
  try {
    // Closed before the manager (end of this block): the dashboard reads the demo's own manager.
    await using server = o.serve ? await serve(manager, { port: o.port }) : undefined;
    if (server) await writeLine(o.json ? ctx.stderr : ctx.stdout, `dashboard: ${server.url}/`);
    const queue = manager.queue<DemoTask>(DEMO_QUEUE);
    const correlationId = `demo-${Date.now().toString(36)}`;
    const ids = new Set<string>();
    let firstPosition = -1;
    let publishedAt = 0;
    const tasks = demoTasks(o.count);
    for (let i = 0; i < tasks.length; i += 500) {
      for (const e of await queue.publishMany(tasks.slice(i, i + 500), { correlationId })) {
        ids.add(e.id);
        if (firstPosition < 0) [firstPosition, publishedAt] = [e.position, e.publishedAt];
      }
    }
    await say(
      `published ${formatCount(o.count)} tasks to queue ${paint('bold', DEMO_QUEUE)} in ${maskUrl(o.store)} (from position ${firstPosition})`,
    );

    const tally = new Tally(ids);
    const progress = new Promise<void>((resolve, reject) => {
      watcher = queue.results$({ from: firstPosition }).subscribe({
        next: (r) => {
          if (tally.add(r)) resolve();
        },
        error: reject,
      });
    });
    const outcome = await runWorkers(ctx, o, tally, progress, say).finally(() => tally.end());
    const summary = summarise(o, manager, tally, correlationId, firstPosition, publishedAt, outcome.slots);
    if (o.json) await writeLine(ctx.stdout, toJson(summary));
    else for (const line of render(summary, paint)) await writeLine(ctx.stdout, line);
    if (outcome.interrupted)
      throw new AbortedError(
        `interrupted: ${formatCount(tally.done.size)} of ${formatCount(o.count)} tasks done`,
      );
    if (server) {
      await writeLine(o.json ? ctx.stderr : ctx.stdout, `dashboard: ${server.url}/ until Ctrl-C`);
      await untilAborted(ctx.signal);
    }
  } finally {
    watcher?.unsubscribe();
    await manager.close();
  }
}

/** Counts each task's first `ok` result, per worker. */
class Tally {
  readonly done = new Map<string, string>(); // event id → worker id
  retried = 0;
  /** Set once the demo stops watching; {@link onEnd} clears its progress bar. */
  ended = false;
  onEnd: (() => void) | undefined;

  end(): void {
    this.ended = true;
    this.onEnd?.();
  }
  /** A task that failed once: the most telling one to inspect. */
  retriedId: string | undefined;
  lastTime = 0;
  constructor(private readonly ids: ReadonlySet<string>) {}

  /** True once every task is done. */
  add(r: QueueResult): boolean {
    if (!this.ids.has(r.eventId)) return false;
    if (r.status !== 'ok') {
      this.retried++;
      this.retriedId ??= r.eventId;
    } else if (!this.done.has(r.eventId)) {
      this.done.set(r.eventId, r.workerId);
      this.lastTime = Math.max(this.lastTime, r.recordedAt);
    }
    return this.done.size === this.ids.size;
  }
}

type Slots = Map<string, { slot: number; pid: number }>;

async function runWorkers(
  ctx: CliContext,
  o: DemoOptions,
  tally: Tally,
  finished: Promise<void>,
  say: (line: string) => Promise<void>,
): Promise<{ interrupted: boolean; slots: Slots }> {
  const slots: Slots = new Map();
  const supervisor = new Supervisor({
    execArgv: ctx.execArgv,
    entry: ctx.entry,
    module: demoWorkerPath(),
    processes: o.processes,
    store: o.store,
    concurrency: o.concurrency,
    env: ctx.env,
    log: (line) => void ctx.stderr.write(`eventy demo: ${line}\n`),
    onMessage: (slot, m) => {
      if (m.type === 'ready') slots.set(m.workerId, { slot, pid: m.pid });
    },
  });
  ctx.onForce(() => supervisor.kill());
  await say(`started ${o.processes} worker processes (concurrency ${o.concurrency} each); Ctrl-C stops them`);
  supervisor.start();
  const why = await Promise.race([
    finished.then(() => 'done' as const),
    watch(ctx, o, tally),
    new Promise<'signal'>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve('signal'), { once: true }),
    ),
    supervisor.done,
  ]);
  tally.end();
  if (why === 'done' || why === 'signal') {
    await say(
      why === 'done' ? 'all tasks done; stopping the worker processes' : 'stopping the worker processes',
    );
    await supervisor.stop();
    return { interrupted: why === 'signal', slots };
  }
  await supervisor.stop();
  if (why === 'stalled') {
    throw new Error(
      `no task finished for ${o.timeout}s (${formatCount(tally.done.size)} of ${formatCount(o.count)} done)`,
    );
  }
  throw new Error(why.failures[0] ?? 'every worker process ended before the tasks were done');
}

/** Draws the progress bar; resolves `stalled` when no task finished for `--timeout` seconds. */
function watch(ctx: CliContext, o: DemoOptions, tally: Tally): Promise<'stalled'> {
  const bar = progressBar(ctx.stderr, 'demo', 'tasks', o.count);
  let lastDone = -1;
  let since = Date.now();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const done = tally.done.size;
      bar.update(done);
      if (done !== lastDone) [lastDone, since] = [done, Date.now()];
      const over = done === o.count || ctx.signal.aborted || tally.ended;
      const stalled = Date.now() - since >= o.timeout * 1000;
      if (!over && !stalled) return;
      clearInterval(timer);
      bar.done();
      if (stalled && !over) resolve('stalled');
    }, 250);
    tally.onEnd = () => {
      clearInterval(timer);
      bar.done();
    };
  });
}

function summarise(
  o: DemoOptions,
  manager: QueueManager,
  tally: Tally,
  correlationId: string,
  firstPosition: number,
  publishedAt: number,
  slots: Map<string, { slot: number; pid: number }>,
): DemoSummary {
  const perWorker = new Map<string, number>();
  for (const w of tally.done.values()) perWorker.set(w, (perWorker.get(w) ?? 0) + 1);
  const elapsedMs = Math.max(1, tally.lastTime - publishedAt);
  return {
    store: manager.store.url,
    queue: DEMO_QUEUE,
    correlationId,
    tasks: o.count,
    done: tally.done.size,
    retried: tally.retried,
    processes: o.processes,
    elapsedMs,
    tasksPerSecond: Math.round((tally.done.size / elapsedMs) * 1000),
    workers: [...perWorker]
      .map(([workerId, tasks]) => ({
        workerId,
        slot: slots.get(workerId)?.slot ?? null,
        pid: slots.get(workerId)?.pid ?? null,
        tasks,
      }))
      .sort((a, b) => (a.slot ?? 99) - (b.slot ?? 99)),
    firstPosition,
    exampleEventId: tally.retriedId ?? tally.done.keys().next().value ?? null,
  };
}

function render(s: DemoSummary, paint: ReturnType<typeof painter>): string[] {
  const storeFlag = s.store === 'file:.eventy' ? '' : ` --store ${maskUrl(s.store)}`;
  const out = [
    '',
    paint(
      'bold',
      `${formatCount(s.done)} of ${formatCount(s.tasks)} tasks done by ${s.processes} worker processes in ${formatDuration(s.elapsedMs)}: ${formatCount(s.tasksPerSecond)} events/s`,
    ),
  ];
  for (const w of s.workers) {
    const who = w.slot !== null ? `worker ${w.slot} (pid ${w.pid})` : w.workerId;
    const share = s.done > 0 ? ((w.tasks / s.done) * 100).toFixed(1) : '0.0';
    out.push(
      `  ${who.padEnd(22)} ${formatCount(w.tasks).padStart(8)} tasks  ${share.padStart(5)}%  ${paint('dim', w.workerId)}`,
    );
  }
  if (s.retried > 0) out.push(`  ${formatCount(s.retried)} attempts failed on purpose and were retried`);
  out.push(
    '',
    'The log is kept. Look at it:',
    `  eventy tail -n 20${storeFlag}`,
    `  eventy replay --view subscribers${storeFlag}`,
    `  eventy stats${storeFlag}`,
    ...(s.exampleEventId !== null ? [`  eventy inspect ${s.exampleEventId}${storeFlag}`] : []),
  );
  return out;
}
