import type { Command } from 'commander';
import { createQueueManager, type PublishOptions, type QueueEvent } from '../../index.js';
import { collect, intAtLeast, parsePoint, storeOption, type Point } from '../args.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { toJson, writeLine } from '../output.js';

interface PublishFlags {
  store: string;
  key?: string;
  correlation?: string;
  causation?: string;
  delay?: number;
  at?: Point;
  header?: string[];
  json?: boolean;
}

const CHUNK = 500;

/** `eventy publish QUEUE JSON|-`: appends one event, or one per JSON line of stdin. */
export function publishCommand(program: Command, ctx: CliContext): void {
  program
    .command('publish')
    .summary('publish an event, or JSON lines from stdin')
    .description('publish an event (a JSON payload), or one event per JSON line read from stdin with "-"')
    .argument('<queue>', 'the queue to publish to')
    .argument('<payload>', 'the payload as JSON, or - to read JSON lines from stdin')
    .addOption(storeOption(ctx.env))
    .option('--key <key>', 'idempotency key: publishing the same key again returns the first event')
    .option('--correlation <id>', 'correlation id header')
    .option('--causation <id>', 'causation id header (the event that caused this one)')
    .option('--delay <ms>', 'hold the event this many ms', intAtLeast(0))
    .option('--at <time>', 'hold the event until this ISO time', parsePoint)
    .option('--header <name=value>', 'a user header; repeatable', collect)
    .option('--json', 'print one JSON object per event: {id, position, queue}')
    .addHelpText(
      'after',
      `
Prints the id of each event published (with --json: its id, position and queue).

Examples:
  $ eventy publish orders '{"id": 7, "total": 120}'
  $ eventy publish orders '{"id": 7}' --key order-7 --correlation checkout-42
  $ cat orders.jsonl | eventy publish orders - --json`,
    )
    .action((queue: string, payload: string, o: PublishFlags) => publish(ctx, queue, payload, o));
}

async function publish(ctx: CliContext, queue: string, payload: string, o: PublishFlags): Promise<void> {
  const options = publishOptions(o);
  const payloads = payload === '-' ? await readJsonLines(ctx) : [parseJson(payload, 'payload')];
  if (payload === '-' && o.key !== undefined)
    throw new UsageError('--key takes one event: publish events with keys one at a time');
  if (payloads.length === 0) throw new UsageError('no JSON lines on stdin: nothing to publish');
  const manager = await createQueueManager({ store: o.store, handleSignals: false });
  try {
    const q = manager.queue(queue);
    const print = (e: QueueEvent): Promise<void> =>
      writeLine(ctx.stdout, o.json ? toJson({ id: e.id, position: e.position, queue: e.queue }) : e.id);
    if (payloads.length === 1) {
      await print(await q.publish(payloads[0], options));
      return;
    }
    for (let i = 0; i < payloads.length && !ctx.signal.aborted; i += CHUNK) {
      for (const e of await q.publishMany(payloads.slice(i, i + CHUNK), options)) await print(e);
    }
  } finally {
    await manager.close();
  }
}

function publishOptions(o: PublishFlags): PublishOptions {
  const headers: Record<string, string> = {};
  for (const h of o.header ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header must look like name=value, got: ${JSON.stringify(h)}`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  if (o.at !== undefined && 'position' in o.at)
    throw new UsageError('--at takes an ISO time like 2025-01-31T12:00:00Z');
  return {
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.correlation !== undefined ? { correlationId: o.correlation } : {}),
    ...(o.causation !== undefined ? { causationId: o.causation } : {}),
    ...(o.delay !== undefined ? { delay: o.delay } : {}),
    ...(o.at !== undefined && 'time' in o.at ? { at: o.at.time } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(
      `${what} is not valid JSON (${(e as Error).message}): ${text.length > 60 ? `${text.slice(0, 59)}…` : text}`,
    );
  }
}

/** Every non-blank line of stdin as JSON, all checked before anything is published. */
async function readJsonLines(ctx: CliContext): Promise<unknown[]> {
  let text = '';
  ctx.stdin.setEncoding('utf8');
  for await (const chunk of ctx.stdin) text += chunk as string;
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() !== '') out.push(parseJson(line, `stdin line ${i + 1}`));
  });
  return out;
}
