import type { Command } from 'commander';
import { storeOption } from '../args.js';
import type { CliContext } from '../context.js';
import { copyBetween } from './import.js';

interface ExportOptions {
  store: string;
  to: string;
  json?: boolean;
}

/** `eventy export --to URL`: copies this log into another store, resuming where a copy stopped. */
export function exportCommand(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .summary('copy this log into another store (resumable)')
    .description('copy this log (--store) into another store, keeping positions and times; resumable')
    .addOption(storeOption(ctx.env))
    .requiredOption('--to <url>', 'the store to copy into: empty, or an earlier copy of this log')
    .option('--json', 'print {from, to, copied} as JSON')
    .addHelpText(
      'after',
      `
Run it again to bring the copy up to date: it starts from the target's head.

Examples:
  $ eventy export --to file:/backup/eventy
  $ eventy export --store file:.eventy --to "redis://127.0.0.1:6379/?prefix=app"`,
    )
    .action((o: ExportOptions) => copyBetween(ctx, o.store, o.to, o.json === true));
}
