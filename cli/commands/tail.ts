import type { Command } from 'commander';
import { RECORD_TYPES, type StoredRecord, type LogStore, type Position } from '../../index.js';
import { collect, firstPositionAt, intAtLeast, parsePoint, storeOption, type Point } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { colourEnabled, painter, toJson, writeLine } from '../output.js';
import { recordFilter } from '../record-filter.js';
import { recordLine } from '../record-line.js';
import { withExistingStore, withStore } from '../store.js';

interface TailOptions {
  store: string;
  follow?: boolean;
  from?: Point;
  lines?: number;
  type?: string[];
  exclude?: string[];
  subscriber?: string;
  event?: string;
  correlation?: string;
  json?: boolean;
}

/** `eventy tail [queue…]`: prints records, the last few or from a point, and follows new ones. */
export function tailCommand(program: Command, ctx: CliContext): void {
  program
    .command('tail')
    .summary('print records, and follow new ones with -f')
    .description('print records of the log (the last few, or from a point) and follow new ones with -f')
    .argument('[queue...]', 'only records of these queues')
    .addOption(storeOption(ctx.env))
    .option('-f, --follow', 'keep printing records as they are appended, until Ctrl-C')
    .option('--from <point>', 'start at a position or an ISO time (instead of the last -n)', parsePoint)
    .option('-n, --lines <n>', 'print the last n matching records first (default 10)', intAtLeast(0))
    .option(
      '--type <type>',
      'only these record types: exact (claim.acquired) or a family (claim); repeatable',
      collect,
    )
    .option(
      '--exclude <types>',
      'leave out these record types (comma-separated; exact or a family, as --type); repeatable',
      collect,
    )
    .option('--subscriber <name>', 'only records of this subscriber (name or queue/name)')
    .option('--event <id>', "one event's records: published, claims, results, and the events it caused")
    .option('--correlation <id>', 'the records of the events with this correlation id')
    .option('--json', 'one JSON object per line (the records as stored)')
    .addHelpText(
      'after',
      `
Examples:
  $ eventy tail                         the last 10 records
  $ eventy tail -f orders               follow the queue "orders"
  $ eventy tail --from 2025-01-31T12:00:00Z --type result
  $ eventy tail -f --exclude worker.heartbeat
  $ eventy tail -n 0 -f --json | jq .type
  $ eventy tail --event 3f1c… --store redis://127.0.0.1:6379/?prefix=app`,
    )
    .action((queues: string[], o: TailOptions) => tail(ctx, queues, o));
}

async function tail(ctx: CliContext, queues: string[], o: TailOptions): Promise<void> {
  if (o.from !== undefined && o.lines !== undefined)
    throw new UsageError('give either --from or -n, not both');
  for (const t of o.type ?? []) checkType(t);
  const exclude = o.exclude?.flatMap((list) => list.split(',').map((t) => t.trim()));
  for (const t of exclude ?? []) checkType(t, '--exclude');
  const keep = recordFilter({
    queues,
    ...(o.type ? { types: o.type } : {}),
    ...(exclude ? { exclude } : {}),
    ...(o.subscriber !== undefined ? { subscriber: o.subscriber } : {}),
    ...(o.event !== undefined ? { event: o.event } : {}),
    ...(o.correlation !== undefined ? { correlation: o.correlation } : {}),
  });
  const filtered =
    queues.length > 0 ||
    o.type !== undefined ||
    exclude !== undefined ||
    o.subscriber !== undefined ||
    o.event !== undefined ||
    o.correlation !== undefined;
  const paint = painter(!o.json && colourEnabled(ctx.stdout, ctx.env));
  const print = (r: StoredRecord): Promise<void> =>
    writeLine(ctx.stdout, o.json ? toJson(r) : recordLine(r, paint));
  const { signal } = ctx;

  // Following may start before the log exists; printing what is there needs a log.
  await (o.follow ? withStore : withExistingStore)(o.store, async (store) => {
    const head = await store.head();
    if (o.from !== undefined) {
      const asked = await firstPositionAt(store, o.from);
      const first = await store.first();
      // Retention removed what came before `first`: start at the first record the log keeps, and say so.
      const start = Math.max(asked, first);
      if (asked < first) {
        await writeLine(
          ctx.stderr,
          `eventy tail: retention removed the records before position ${first}; starting at ${first}`,
        );
      }
      if (start >= head) {
        const what =
          'position' in o.from
            ? `position ${o.from.position} is`
            : `no record is at or after ${new Date(o.from.time).toISOString()}:`;
        await writeLine(
          ctx.stderr,
          `eventy tail: ${what} past the last record (the log holds positions below ${head})${o.follow ? '; waiting for new records' : ', nothing to print'}`,
        );
      }
      const records = o.follow
        ? store.follow({ from: start, signal })
        : store.read({ from: start, to: head, signal });
      for await (const r of records) if (keep(r)) await print(r);
      return;
    }
    const n = o.lines ?? 10;
    // Without filters the last n records are the last n positions; with them, scan and keep the last n.
    const start = filtered ? 0 : Math.max(0, head - n);
    for (const r of await lastMatching(store, start, head, n, keep, signal)) await print(r);
    if (!o.follow) return;
    for await (const r of store.follow({ from: head, signal })) if (keep(r)) await print(r);
  });
}

/**
 * A `--type` (or `--exclude`) must name a record type or a family of them (`claim`, `claim.*`): a typo
 * would print nothing (or leave nothing out).
 */
function checkType(t: string, option = '--type'): void {
  const family = t.replace(/\.\*$/, '');
  const known =
    t.includes('.') && !t.endsWith('.*')
      ? (RECORD_TYPES as readonly string[]).includes(t)
      : RECORD_TYPES.some((r) => r.startsWith(`${family}.`) || r.startsWith(`${family}s.`));
  if (!known) {
    const families = [...new Set(RECORD_TYPES.map((r) => r.split('.')[0]))].join(', ');
    throw new UsageError(
      `${option}: unknown record type ${JSON.stringify(t)}: expected a type (${RECORD_TYPES.join(', ')}) or a family (${families})`,
    );
  }
}

async function lastMatching(
  store: LogStore,
  from: Position,
  to: Position,
  n: number,
  keep: (r: StoredRecord) => boolean,
  signal: AbortSignal,
): Promise<StoredRecord[]> {
  // A circular buffer of the last n matches: memory stays at n records however long the log.
  const ring: StoredRecord[] = [];
  let next = 0;
  if (from >= to) return ring;
  // Even with n = 0 the filter sees every record: --event and --correlation track events from the start.
  for await (const r of store.read({ from, to, signal })) {
    if (!keep(r) || n === 0) continue;
    if (ring.length < n) ring.push(r);
    else ring[next] = r;
    next = (next + 1) % n;
  }
  return ring.length < n ? ring : [...ring.slice(next), ...ring.slice(0, next)];
}
