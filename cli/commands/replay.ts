import { Option, type Command } from 'commander';
import {
  replayLog,
  replayStart,
  resultRef,
  unbatched,
  viewsFold,
  type LogStore,
  type LogViews,
  type RecordOf,
} from '../../index.js';
import { intAtLeast, lastPositionAt, parsePoint, storeOption, type Point } from '../args.js';
import type { CliContext } from '../context.js';
import { diffViews, renderDiff, snapshot, type ViewsDiff } from '../diff.js';
import { UsageError } from '../errors.js';
import { History, type ResultRow } from '../history.js';
import { colourEnabled, formatTime, painter, toJson, writeLine } from '../output.js';
import { progressBar } from '../progress.js';
import {
  renderClaims,
  renderEvents,
  renderResults,
  renderStats,
  renderSubscribers,
  renderWorkers,
} from '../render-views.js';
import { withExistingStore } from '../store.js';
import { claimRows, statsRows, subscriberRows, VIEWS, workerRows, type ViewName } from '../../index.js';

interface ReplayOptions {
  store: string;
  view: ViewName;
  to?: Point;
  diff?: Point;
  limit: number;
  json?: boolean;
}

/** `eventy replay [queue…]`: the views as they were at a point of history, or what changed between two. */
export function replayCommand(program: Command, ctx: CliContext): void {
  program
    .command('replay')
    .summary('the views at a point of history, or what changed between two')
    .description(
      'fold the log up to a point and print a view of that moment, or the changes between two points',
    )
    .argument('[queue...]', 'only these queues')
    .addOption(storeOption(ctx.env))
    .addOption(new Option('--view <view>', 'what to print').choices(VIEWS).default('stats'))
    .option(
      '--to <point>',
      'fold up to and including this position, or up to this ISO time (default: the head)',
      parsePoint,
    )
    .option('--diff <point>', 'print what changed from this point to --to instead of a view', parsePoint)
    .option('--limit <n>', 'the events and results views: how many of the last to print', intAtLeast(1), 50)
    .option('--json', 'print JSON: {position, time, view, rows} (or the diff)')
    .addHelpText(
      'after',
      `
Points are positions (integers) or ISO times; a time means the last record appended at or before it.

Examples:
  $ eventy replay --view claims --to 1200
  $ eventy replay orders --view subscribers --to 2025-01-31T12:00:00Z
  $ eventy replay --diff 1000 --to 1500
  $ eventy replay --view workers --json | jq '.rows[] | select(.alive)'`,
    )
    .action((queues: string[], o: ReplayOptions) => replay(ctx, queues, o));
}

async function replay(ctx: CliContext, queues: string[], o: ReplayOptions): Promise<void> {
  const paint = painter(!o.json && colourEnabled(ctx.stdout, ctx.env));
  await withExistingStore(o.store, async (store) => {
    const head = await store.head();
    const to = o.to === undefined ? head - 1 : await lastPositionAt(store, o.to, head, '--to');
    const from = o.diff === undefined ? undefined : await lastPositionAt(store, o.diff, head, '--diff');
    if (from !== undefined && from > to)
      throw new UsageError(`--diff ${from} is after --to ${to}: the diff runs forward in time`);
    const history = new History(queues, o.limit);
    const bar = progressBar(ctx.stderr, 'replay', 'records', to + 1);
    const fold = (target: number, into: LogViews, onRecord?: History['onRecord']): Promise<LogViews> =>
      replayLog(store, {
        to: target,
        into,
        ...(onRecord ? { onRecord } : {}),
        onProgress: (p) => bar.update(p + 1),
        progressEvery: 16_384,
        signal: ctx.signal,
      });
    try {
      if (from === undefined) {
        // Only the events and results views come from the history: the others fold without keeping it.
        const keep = o.view === 'events' || o.view === 'results' ? history.onRecord : undefined;
        // On a log retention cut, the fold starts at the newest snapshot before the point.
        const views = to < 0 ? viewsFold.initial() : await fold(to, await replayStart(store, to), keep);
        bar.done();
        await printView(ctx, views, queues, o, history, paint, store);
      } else {
        const views =
          from < 0 ? viewsFold.initial() : await fold(from, await replayStart(store, from), history.onRecord);
        const a = snapshot(views, queues);
        const counted = countChanges(queues, history);
        await fold(to, views, counted.onRecord);
        bar.done();
        const results = counted.results(history.resultsAfter(from).slice(-o.limit));
        const d = diffViews(a, snapshot(views, queues), results, counted.published());
        await printDiff(ctx, d, o, paint);
      }
    } finally {
      bar.done();
    }
  });
}

/** Counts what lands between the two points of a diff, while the history keeps the last rows. */
function countChanges(queues: readonly string[], history: History) {
  const byStatus: Record<string, number> = {};
  let fenced = 0;
  let total = 0;
  let published = 0;
  const wants = (q: unknown): boolean => queues.length === 0 || queues.includes(String(q));
  return {
    onRecord: (r: Parameters<History['onRecord']>[0], v: LogViews): void => {
      history.onRecord(r, v);
      if (!wants((r as { queue?: unknown }).queue)) return;
      if (r.type === 'event.published') published++;
      if (r.type !== 'result.recorded' && r.type !== 'results.recorded') return;
      for (const x of unbatched(r) as RecordOf<'result.recorded'>[]) {
        total++;
        if (v.dispatch.rejected.has(resultRef(x))) fenced++;
        else byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
      }
    },
    results: (last: ResultRow[]): ViewsDiff['results'] => ({ total, byStatus, fenced, last }),
    published: () => published,
  };
}

async function printView(
  ctx: CliContext,
  views: LogViews,
  queues: string[],
  o: ReplayOptions,
  history: History,
  paint: ReturnType<typeof painter>,
  store: LogStore,
): Promise<void> {
  const rows = {
    claims: () => claimRows(views, queues),
    workers: () => workerRows(views, queues),
    subscribers: () => subscriberRows(views, queues),
    stats: () => statsRows(views, queues),
    events: () => history.events(),
    results: () => history.results(),
  }[o.view]();
  if (o.json) {
    await writeLine(
      ctx.stdout,
      toJson({ store: store.url, position: views.position, time: views.time, view: o.view, rows }),
    );
    return;
  }
  const render = {
    claims: renderClaims,
    workers: renderWorkers,
    subscribers: renderSubscribers,
    stats: renderStats,
    events: renderEvents,
    results: renderResults,
  }[o.view] as (rows: unknown, paint: ReturnType<typeof painter>) => string[];
  const at =
    views.position < 0
      ? 'before the first record'
      : `at position ${views.position} (${formatTime(views.time)})`;
  await writeLine(ctx.stdout, paint('dim', `${o.view} ${at} of ${store.url}`));
  for (const line of render(rows, paint)) await writeLine(ctx.stdout, line);
}

async function printDiff(
  ctx: CliContext,
  d: ViewsDiff,
  o: ReplayOptions,
  paint: ReturnType<typeof painter>,
): Promise<void> {
  if (o.json) {
    await writeLine(ctx.stdout, toJson(d));
    return;
  }
  for (const line of renderDiff(d, paint)) await writeLine(ctx.stdout, line);
}
