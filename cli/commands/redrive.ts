import type { Command } from 'commander';
import { createQueueManager, type DeadEvent, type DeadEventFilters } from '../../index.js';
import { collect, parsePoint, storeOption, type Point } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { colourEnabled, formatTime, painter, table, toJson, writeLine } from '../output.js';

interface RedriveFlags {
  store: string;
  subscriber: string;
  ids?: string[];
  errorMatch?: string;
  deadBefore?: Point;
  yes?: boolean;
  json?: boolean;
}

/** `eventy redrive QUEUE --subscriber S`: shows the matching dead events; puts them back with --yes. */
export function redriveCommand(program: Command, ctx: CliContext): void {
  program
    .command('redrive')
    .summary("put a subscriber's dead events back to pending")
    .description(
      "show a competing subscriber's dead events (failed with no retry left) matching the filters, and with --yes put them back to pending with a fresh retry budget",
    )
    .argument('<queue>', 'the queue')
    .requiredOption('--subscriber <name>', 'the subscriber whose dead events to redrive')
    .option('--ids <id,…>', 'only these event ids; repeatable', collect)
    .option('--error-match <text>', 'only events whose last error ("Name: message") contains this text')
    .option('--dead-before <time>', 'only events that died before this ISO time', parsePoint)
    .option('--yes', 'redrive them (without it, only show what would be redriven)')
    .option('--json', 'print JSON: {dead: [...], redriven}')
    .addOption(storeOption(ctx.env))
    .addHelpText(
      'after',
      `
Without --yes nothing is appended. With --yes one events.redriven record puts the events back; only
those still dead when it is folded are redriven, and the count printed is theirs.

Examples:
  $ eventy redrive orders --subscriber bill
  $ eventy redrive orders --subscriber bill --error-match ECONNREFUSED --yes
  $ eventy redrive orders --subscriber bill --dead-before 2025-01-31T12:00:00Z --yes --json`,
    )
    .action((queue: string, o: RedriveFlags) => redrive(ctx, queue, o));
}

async function redrive(ctx: CliContext, queue: string, o: RedriveFlags): Promise<void> {
  const filters = toFilters(o);
  const paint = painter(!o.json && colourEnabled(ctx.stdout, ctx.env));
  const manager = await createQueueManager({ store: o.store, handleSignals: false });
  try {
    const q = manager.queue(queue);
    const dead = await q.deadEvents(filters);
    const redriven = o.yes === true && dead.length > 0 ? await q.redrive(filters) : undefined;
    if (o.json) {
      await writeLine(ctx.stdout, toJson({ dead, redriven: redriven ?? 0, dryRun: o.yes !== true }));
      return;
    }
    if (dead.length > 0) for (const line of deadTable(dead, paint)) await writeLine(ctx.stdout, line);
    const what = `${dead.length} dead event${dead.length === 1 ? '' : 's'} of ${queue}/${o.subscriber}`;
    if (o.yes !== true) {
      const hint = dead.length > 0 ? ' (nothing redriven: add --yes to redrive them)' : '';
      await writeLine(ctx.stdout, `${what} match${dead.length === 1 ? 'es' : ''}${hint}`);
    } else await writeLine(ctx.stdout, `redriven: ${redriven ?? 0} of ${what} matching`);
  } finally {
    await manager.close();
  }
}

function toFilters(o: RedriveFlags): DeadEventFilters {
  if (o.deadBefore !== undefined && !('time' in o.deadBefore))
    throw new UsageError('--dead-before takes an ISO time like 2025-01-31T12:00:00Z, not a position');
  return {
    subscriber: o.subscriber,
    ...(o.ids === undefined ? {} : { ids: o.ids }),
    ...(o.errorMatch === undefined ? {} : { errorMatches: o.errorMatch }),
    ...(o.deadBefore === undefined ? {} : { deadBefore: o.deadBefore.time }),
  };
}

function deadTable(dead: readonly DeadEvent[], paint: ReturnType<typeof painter>): string[] {
  const rows = dead.map((d) => [
    d.eventId,
    String(d.eventPosition),
    String(d.attempt),
    formatTime(d.deadAt),
    d.error ? `${d.error.name}: ${d.error.message}` : '-',
  ]);
  return table(['EVENT', 'POSITION', 'ATTEMPT', 'DEAD AT', 'ERROR'], rows, paint, [1, 2]);
}
