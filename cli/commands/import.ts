import type { Command } from 'commander';
import { AbortedError } from '../../index.js';
import { storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { copyLog } from '../copy-log.js';
import { formatCount, toJson, writeLine } from '../output.js';
import { progressBar } from '../progress.js';
import { withExistingStore, withStore } from '../store.js';

interface ImportOptions {
  store: string;
  from: string;
  json?: boolean;
}

/** `eventy import --from URL`: copies another store's log into this one, resuming where a copy stopped. */
export function importCommand(program: Command, ctx: CliContext): void {
  program
    .command('import')
    .summary("copy another store's log into this one (resumable)")
    .description(
      'copy the log of another store (--from) into this one (--store), keeping positions and times; resumable',
    )
    .addOption(storeOption(ctx.env))
    .requiredOption('--from <url>', 'the store to copy from')
    .option('--json', 'print {from, to, copied} as JSON')
    .addHelpText(
      'after',
      `
This store must be empty or an earlier copy of the other log; a second run copies only what is new.

Examples:
  $ eventy import --from "redis://127.0.0.1:6379/?prefix=app"
  $ eventy import --store file:./copy --from file:/backup/eventy`,
    )
    .action((o: ImportOptions) => copyBetween(ctx, o.from, o.store, o.json === true));
}

/** Copies the log at `sourceUrl` into `targetUrl` and prints what was copied. */
export async function copyBetween(
  ctx: CliContext,
  sourceUrl: string,
  targetUrl: string,
  json: boolean,
): Promise<void> {
  await withExistingStore(sourceUrl, (source) =>
    withStore(targetUrl, async (target) => {
      const bar = progressBar(ctx.stderr, 'copy', 'records');
      const outcome = await copyLog(source, target, {
        signal: ctx.signal,
        onProgress: (done, total) => bar.update(done, total),
      }).finally(() => bar.done());
      if (json) {
        await writeLine(ctx.stdout, toJson({ source: source.url, target: target.url, ...outcome }));
      } else if (outcome.copied === 0 && !ctx.signal.aborted) {
        await writeLine(
          ctx.stdout,
          `${target.url} is up to date with ${source.url} (${formatCount(outcome.to)} records)`,
        );
      } else {
        await writeLine(
          ctx.stdout,
          `copied ${formatCount(outcome.copied)} records (positions ${outcome.from}–${outcome.to - 1}) from ${source.url} to ${target.url}`,
        );
      }
      if (ctx.signal.aborted)
        throw new AbortedError(`interrupted at position ${outcome.to}: run the same command again to resume`);
    }),
  );
}
