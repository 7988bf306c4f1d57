#!/usr/bin/env node
/**
 * The `eventy` command's entry: the one file with side effects. It wires the process (streams,
 * signals, exit codes) to the program; each command lives in `commands/` and uses the public API only.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CliContext } from './context.js';
import { describeError, exitCodeOf, FailedCheck } from './errors.js';
import { createProgram } from './program.js';
import { safeLine } from './output.js';

function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'eventy' && pkg.version !== undefined) return pkg.version;
    } catch {
      // try the next place: dist/cli/ or cli/ under tsx
    }
  }
  return '0.0.0';
}

const stop = new AbortController();
const forced = new Set<() => void>();
let signals = 0;

function onSignal(signal: NodeJS.Signals): void {
  signals++;
  if (signals === 1) {
    stop.abort(signal);
    return;
  }
  for (const f of forced) {
    try {
      f();
    } catch {
      // forcing: nothing left to do about it
    }
  }
  process.exit(130);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// A worker process (eventy run) whose supervisor is gone drains and stops as on a signal; the IPC
// channel alone must not keep it alive.
if (process.send !== undefined) {
  process.on('disconnect', () => stop.abort('the supervisor is gone'));
  process.channel?.unref();
}

// A closed pipe (`eventy tail | head`) ends the command quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

const ctx: CliContext = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  signal: stop.signal,
  onForce: (handler) => forced.add(handler),
  execArgv: process.execArgv,
  entry: fileURLToPath(import.meta.url),
  send: process.send ? (message) => process.send?.(message) : undefined,
};

try {
  await createProgram(ctx, packageVersion()).parseAsync(process.argv);
  process.exitCode = 0;
} catch (e) {
  const code = exitCodeOf(e);
  // Commander has printed its own one-line message already; a failed check printed its report.
  const printed = (e as { code?: unknown }).code?.toString().startsWith('commander.') === true;
  if (!printed && !(e instanceof FailedCheck)) {
    process.stderr.write(`eventy: ${safeLine(describeError(e), false)}\n`);
    if (process.env.DEBUG !== undefined && process.env.DEBUG !== '' && e instanceof Error && e.stack) {
      process.stderr.write(`${e.stack}\n`);
    }
  }
  process.exitCode = code;
}
// Everything is closed by now; should a handle linger (a backend's socket), it must not keep us alive.
setTimeout(() => process.exit(), 2000).unref();
