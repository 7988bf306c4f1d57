import type { Command } from 'commander';
import {
  createQueueManager,
  type QueueManager,
  type ScheduleInfo,
  type ScheduleOptions,
} from '../../index.js';
import { intAtLeast, storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import {
  colourEnabled,
  formatDuration,
  formatTime,
  painter,
  preview,
  table,
  toJson,
  writeLine,
} from '../output.js';

interface AddFlags {
  store: string;
  cron?: string;
  tz?: string;
  every?: string;
  at?: string;
  payload: string;
  limit?: number;
  catchUp?: string;
  json?: boolean;
}

/** `eventy schedule add|ls|rm`: the schedules of a queue, kept in the log. */
export function scheduleCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('schedule')
    .summary('add, list and remove schedules (cron, interval, one-off)')
    .description('schedules fire events into a queue while a worker hosts one of its subscribers');
  cmd
    .command('add')
    .description('add or replace a schedule (the new definition takes effect from the next slot)')
    .argument('<queue>', 'the queue its events go to')
    .argument('<id>', 'the schedule id')
    .addOption(storeOption(ctx.env))
    .option('--cron <expr>', 'cron expression: 5 fields, or 6 with seconds first')
    .option('--tz <zone>', 'IANA time zone of --cron (default UTC)')
    .option('--every <duration>', "interval: ms or a duration like '500ms', '5m', '1h30m'")
    .option('--at <time>', 'one-off: an ISO time')
    .requiredOption('--payload <json>', 'the payload of every fired event, as JSON')
    .option('--limit <n>', 'fire at most this many times', intAtLeast(1))
    .option('--catch-up <policy>', 'slots missed while no worker ran: none, latest (default) or all')
    .option('--json', 'print the schedule as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ eventy schedule add reports nightly --cron '0 3 * * *' --tz Europe/Paris --payload '{"kind":"daily"}'
  $ eventy schedule add jobs heartbeat --every 30s --payload null
  $ eventy schedule add mail reminder --at 2026-12-24T18:00:00Z --payload '{"to":"santa"}'`,
    )
    .action((queue: string, id: string, o: AddFlags) => add(ctx, queue, id, o));
  cmd
    .command('ls')
    .description('list schedules: definition, next slot, last slot fired, count fired')
    .argument('[queue]', 'only this queue')
    .addOption(storeOption(ctx.env))
    .option('--json', 'print one JSON object per schedule')
    .action((queue: string | undefined, o: { store: string; json?: boolean }) => list(ctx, queue, o));
  cmd
    .command('rm')
    .description('remove a schedule (exit code 1 when there is none)')
    .argument('<queue>', 'the queue')
    .argument('<id>', 'the schedule id')
    .addOption(storeOption(ctx.env))
    .action((queue: string, id: string, o: { store: string }) => remove(ctx, queue, id, o));
}

async function withManager<T>(store: string, fn: (m: QueueManager) => Promise<T>): Promise<T> {
  const m = await createQueueManager({ store, handleSignals: false });
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}

async function add(ctx: CliContext, queue: string, id: string, o: AddFlags): Promise<void> {
  const kinds = [o.cron, o.every, o.at].filter((k) => k !== undefined).length;
  if (kinds !== 1) throw new UsageError('give exactly one of --cron, --every or --at');
  let payload: unknown;
  try {
    payload = JSON.parse(o.payload);
  } catch {
    throw new UsageError(`--payload must be JSON, got: ${o.payload}`);
  }
  const every = o.every === undefined ? undefined : /^\d+$/.test(o.every) ? Number(o.every) : o.every;
  const options = {
    payload,
    ...(o.cron === undefined ? {} : { cron: o.cron }),
    ...(o.tz === undefined ? {} : { tz: o.tz }),
    ...(every === undefined ? {} : { every }),
    ...(o.at === undefined ? {} : { at: o.at }),
    ...(o.limit === undefined ? {} : { limit: o.limit }),
    ...(o.catchUp === undefined ? {} : { catchUp: o.catchUp }),
  } as ScheduleOptions;
  const s = await withManager(o.store, (m) => m.queue(queue).schedule(id, options));
  await writeLine(ctx.stdout, o.json ? toJson(s) : `${s.queue}/${s.id}: next ${slot(s.nextSlot)}`);
}

async function list(
  ctx: CliContext,
  queue: string | undefined,
  o: { store: string; json?: boolean },
): Promise<void> {
  const all = await withManager(o.store, async (m) => {
    const queues = queue === undefined ? await scheduledQueues(m) : [queue];
    const out: ScheduleInfo[] = [];
    for (const q of queues) {
      let pageId: string | null = null;
      do {
        const page = await m.queue(q).searchSchedules(pageId === null ? {} : { pageId });
        out.push(...page.items);
        pageId = page.nextPageId;
      } while (pageId !== null);
    }
    return out;
  });
  if (o.json) {
    for (const s of all) await writeLine(ctx.stdout, toJson(s));
    return;
  }
  if (all.length === 0) {
    await writeLine(ctx.stdout, queue === undefined ? 'no schedules' : `no schedules on queue ${queue}`);
    return;
  }
  const paint = painter(colourEnabled(ctx.stdout, ctx.env));
  const rows = all.map((s) => [
    s.queue,
    s.id,
    when(s),
    s.ended ? 'ended' : slot(s.nextSlot),
    slot(s.lastSlot),
    String(s.fired),
    preview(s.payload, 30),
  ]);
  for (const line of table(['QUEUE', 'ID', 'WHEN', 'NEXT', 'LAST', 'FIRED', 'PAYLOAD'], rows, paint, [5]))
    await writeLine(ctx.stdout, line);
}

async function remove(ctx: CliContext, queue: string, id: string, o: { store: string }): Promise<void> {
  const removed = await withManager(o.store, (m) => m.queue(queue).unschedule(id));
  if (!removed) throw new UsageError(`no schedule ${id} on queue ${queue}`);
  await writeLine(ctx.stdout, `removed ${queue}/${id}`);
}

/** The queues that ever had a schedule, from the log's `schedule.registered` records. */
async function scheduledQueues(m: QueueManager): Promise<string[]> {
  const queues = new Set<string>();
  for await (const r of m.store.read()) if (r.type === 'schedule.registered') queues.add(r.queue as string);
  return [...queues].sort();
}

function when(s: ScheduleInfo): string {
  if (s.cron !== undefined) return `cron ${s.cron}${s.tz === undefined ? '' : ` ${s.tz}`}`;
  if (s.every !== undefined) return `every ${formatDuration(s.every)}`;
  return `at ${formatTime(s.at ?? 0)}`;
}

function slot(t: number | null): string {
  return t === null ? '-' : formatTime(t);
}
