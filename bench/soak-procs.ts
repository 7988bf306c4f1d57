// Child processes of the soak (bench/soak.ts): compiled scripts next to this file, spawned with node, their
// stdout split into lines as they arrive. Every child still running is SIGKILLed by killAll, so an
// interrupted or failed soak leaves none behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Every child not yet exited, for {@link killAll}. */
const running = new Set<ChildProcess>();

/** SIGKILLs every child still running (publishers, workers, private Redis servers). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** A running child: its process and a promise of its exit. */
export interface Proc {
  readonly child: ChildProcess;
  /** Resolves once the process has exited and its stdout has been read to the end. */
  readonly closed: Promise<void>;
  /** Everything it wrote to stderr so far (the last 4,000 characters). */
  stderr(): string;
}

/**
 * Starts `command` with `args`, calls `onLine` for every complete stdout line (a line cut by a kill is
 * never passed on), and resolves once a line satisfies `ready` — or rejects when the process exits first
 * or `readyMs` passes.
 */
export async function start(
  command: string,
  args: readonly string[],
  onLine: (line: string) => void,
  ready: (line: string) => boolean,
  readyMs = 30_000,
): Promise<Proc> {
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    err = (err + chunk).slice(-4000);
  });
  const closed = once(child, 'close').then(() => {
    running.delete(child);
  });
  let isReady = false;
  const readyOrExit = new Promise<void>((resolve, reject) => {
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        onLine(line);
        if (!isReady && ready(line)) {
          isReady = true;
          resolve();
        }
      }
    });
    void closed.then(() => {
      reject(new Error(`${describe(command, args)} exited before it was ready:\n${err}`));
    });
    child.once('error', reject);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), readyMs);
  try {
    await readyOrExit;
  } finally {
    clearTimeout(timer);
  }
  return { child, closed, stderr: () => err };
}

/** A compiled soak script next to this file, run with the same node. */
export function script(name: string): [string, string] {
  return [process.execPath, new URL(`./${name}.js`, import.meta.url).pathname];
}

/** SIGKILLs a child and waits until it is gone. */
export async function kill(proc: Proc): Promise<void> {
  proc.child.kill('SIGKILL');
  await proc.closed;
}

/** Asks a child to stop with `signal` and waits up to `ms`, then SIGKILLs it; true when it stopped itself. */
export async function stop(proc: Proc, signal: NodeJS.Signals = 'SIGTERM', ms = 15_000): Promise<boolean> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return true;
  proc.child.kill(signal);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    proc.child.kill('SIGKILL');
  }, ms);
  await proc.closed;
  clearTimeout(timer);
  return !killed;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A whole number in [min, max]. */
export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

function describe(command: string, args: readonly string[]): string {
  const name = args.find((a) => a.endsWith('.js')) ?? command;
  return name.split('/').pop() ?? name;
}
