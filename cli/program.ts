import { Command } from 'commander';
import { compactCommand } from './commands/compact.js';
import { demoCommand } from './commands/demo.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { inspectCommand } from './commands/inspect.js';
import { publishCommand } from './commands/publish.js';
import { redriveCommand } from './commands/redrive.js';
import { replayCommand } from './commands/replay.js';
import { runCommand } from './commands/run.js';
import { scheduleCommand } from './commands/schedule.js';
import { serveCommand } from './commands/serve.js';
import { statsCommand } from './commands/stats.js';
import { tailCommand } from './commands/tail.js';
import { snapshotCommand } from './commands/snapshot.js';
import { verifyCommand } from './commands/verify.js';
import { workerCommand } from './commands/worker.js';
import type { CliContext } from './context.js';

/**
 * The `eventy` program: every command, parsing that throws instead of exiting (so `main.ts` picks the
 * exit code), and errors printed as one line.
 */
export function createProgram(ctx: CliContext, version: string): Command {
  const program = new Command('eventy')
    .description('Eventy: distributed task processing on an append-only, replayable log')
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: (text, write) => write(`eventy: ${text.replace(/^error: /, '').trimEnd()}\n`),
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  $ eventy demo                       publish 2,000 tasks and run 2 worker processes on ./.eventy
  $ eventy tail -f                    follow the log
  $ eventy replay --view claims --to 1200
  $ eventy run ./workers.js --processes 4
Every command takes --store URL (default: EVENTY_STORE, else file:.eventy) and --help.`,
    );
  for (const add of [
    demoCommand,
    tailCommand,
    replayCommand,
    inspectCommand,
    statsCommand,
    publishCommand,
    redriveCommand,
    scheduleCommand,
    runCommand,
    serveCommand,
    verifyCommand,
    snapshotCommand,
    compactCommand,
    exportCommand,
    importCommand,
    workerCommand,
  ]) {
    add(program, ctx);
  }
  return program;
}
