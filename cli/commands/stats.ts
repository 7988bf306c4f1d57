import type { Command } from 'commander';
import { replayLog, replayStart, viewsFold, type LogStore, type LogViews } from '../../index.js';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { colourEnabled, formatTime, painter, toJson, writeLine } from '../output.js';
import { progressBar } from '../progress.js';
import { renderStats } from '../render-views.js';
import { withExistingStore, withStore } from '../store.js';
import { historyText, logHistory } from '../log-history.js';
import { statsRows } from '../../index.js';

interface StatsOptions {
  store: string;
  watch?: boolean;
  interval: number;
  json?: boolean;
}

/** `eventy stats [queue…]`: depth, in-flight, done, failed, dead, throughput and lag, now or live. */
export function statsCommand(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .summary('depth, in-flight, done, failed, dead, throughput and lag')
    .description('per queue and subscriber: depth, in-flight, done, failed, dead, throughput and lag')
    .argument('[queue...]', 'only these queues')
    .addOption(storeOption(ctx.env))
    .option('-w, --watch', 'keep the numbers current as the log grows, until Ctrl-C')
    .option('--interval <ms>', 'with --watch: how often to print', intAtLeast(100), 1000)
    .option('--json', 'print JSON: {time, position, queues} (one line per refresh with --watch)')
    .addHelpText(
      'after',
      `
Examples:
  $ eventy stats
  $ eventy stats orders --watch
  $ eventy stats --json | jq '.queues[].subscribers[] | {name, depth, lag}'`,
    )
    .action((queues: string[], o: StatsOptions) => stats(ctx, queues, o));
}

async function stats(ctx: CliContext, queues: string[], o: StatsOptions): Promise<void> {
  const paint = painter(!o.json && colourEnabled(ctx.stdout, ctx.env));
  const tty = ctx.stdout.isTTY === true && !o.json;
  await (o.watch ? withStore : withExistingStore)(o.store, async (store) => {
    const head = await store.head();
    // Shown before the fold: on a log whose history retention cut, it says where the log starts.
    const history = await logHistory(store, Date.now());
    if (!o.json) await writeLine(ctx.stdout, paint('dim', historyText(history)));
    const bar = progressBar(ctx.stderr, 'stats', 'records', head);
    const views = await replayLog(store, {
      into: await replayStart(store), // from the newest snapshot when retention cut the log
      onProgress: (p) => bar.update(p + 1),
      signal: ctx.signal,
    });
    bar.done();
    const print = async (): Promise<void> => {
      // "Now" is the wall clock: an idle log's throughput decays and its leases expire as time passes.
      const now = Math.max(Date.now(), views.time);
      const rows = statsRows(views, queues, now);
      if (o.json) {
        await writeLine(ctx.stdout, toJson({ time: now, position: views.position, queues: rows, history }));
        return;
      }
      if (tty && o.watch) ctx.stdout.write('\u001b[H\u001b[2J');
      await writeLine(
        ctx.stdout,
        paint('dim', `${store.url} at position ${views.position}, ${formatTime(now)}`),
      );
      for (const line of renderStats(rows, paint)) await writeLine(ctx.stdout, line);
      if (o.watch && !tty) await writeLine(ctx.stdout, '');
    };
    await print();
    if (o.watch) await watch(store, views, o.interval, print, ctx.signal);
  });
}

/** Folds new records as they come and prints every `interval` ms until the signal aborts. */
async function watch(
  store: LogStore,
  views: LogViews,
  interval: number,
  print: () => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let printing = Promise.resolve();
  const timer = setInterval(() => {
    printing = printing.then(print);
  }, interval);
  try {
    for await (const r of store.follow({ from: views.position + 1, signal })) viewsFold.evolve(views, r);
  } finally {
    clearInterval(timer);
    await printing;
  }
}
