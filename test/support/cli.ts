import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach } from 'vitest';
import { makeTempDir } from './temp.js';

/** The repository root. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI: tests run the real binary, as a user would. */
export const MAIN = join(root, 'dist/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    if (name.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (name.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds the package when the CLI is missing or older than the sources (`npm test` builds first, so
 * this is for running one file with `npx vitest`). A lock directory keeps parallel test files from
 * building at once.
 */
export function ensureBuilt(): void {
  // Tests write logs with the sources and the CLI reads them with the build: both must agree.
  const sources = (): number =>
    Math.max(
      statSync(join(root, 'index.ts')).mtimeMs,
      ...['cli', 'engine', 'projections', 'runtime', 'adapters'].map((d) => newestSource(join(root, d))),
    );
  const fresh = (): boolean => existsSync(MAIN) && statSync(MAIN).mtimeMs >= sources();
  if (fresh()) return;
  const lock = join(root, 'dist/.cli-test-build.lock');
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 120_000) throw new Error(`waited 2 minutes for ${lock}: remove it if no build runs`);
      spawnSync('sleep', ['0.2']);
    }
  }
  try {
    if (!fresh()) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
  } finally {
    rmdirSync(lock);
  }
  if (!existsSync(MAIN)) throw new Error('npm run build did not produce dist/cli/main.js');
}

/** How a CLI run ended, with everything it printed. */
export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A CLI process running in the background, its output split into lines. */
export interface Running {
  readonly proc: ChildProcess;
  readonly lines: string[];
  stderr(): string;
  readonly exited: Promise<Run>;
  /** Resolves once `count` lines (in all) were printed; rejects if the process ends first. */
  waitForLines(count: number): Promise<string[]>;
  /** Resolves once stderr matches; rejects if the process ends first. */
  waitForStderr(match: RegExp): Promise<string>;
}

/** How to start a CLI process. */
export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed. */
  readonly stdin?: string;
  /** Node arguments before the script, e.g. `['--import', 'tsx']` to load TypeScript modules. */
  readonly nodeArgs?: readonly string[];
}

/** Env of the CLI processes: no colour unless a test asks, no inherited store. */
function cliEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.EVENTY_STORE;
  delete env.FORCE_COLOR;
  delete env.DEBUG;
  Object.assign(env, extra);
  return env;
}

/**
 * Starts and tracks CLI processes; {@link killAll} (in afterEach) kills any still alive, so a failing
 * test leaves none behind.
 */
export class Cli {
  readonly #alive = new Set<Running>();

  constructor(readonly cwd: string = root) {}

  /** Starts `eventy <args>`. */
  spawn(args: readonly string[], options: RunOptions = {}): Running {
    const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN, ...args], {
      cwd: this.cwd,
      env: cliEnv(options.env ?? {}),
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.stdin !== undefined) proc.stdin?.end(options.stdin);
    const lines: string[] = [];
    let out = '';
    let partial = '';
    let err = '';
    const waiters = new Set<() => void>();
    const wake = (): void => {
      for (const w of [...waiters]) w();
    };
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      wake();
    });
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      wake();
    });
    let ended = false;
    const exited = new Promise<Run>((resolve) => {
      proc.once('close', (code, signal) => {
        ended = true;
        this.#alive.delete(running);
        wake();
        resolve({ code, signal, stdout: out, stderr: err });
      });
    });
    const waitFor = <T>(ready: () => T | undefined, what: string): Promise<T> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const value = ready();
          if (value !== undefined) {
            waiters.delete(check);
            resolve(value);
          } else if (ended) {
            waiters.delete(check);
            reject(
              new Error(`eventy ${args.join(' ')} exited before ${what}; stderr:\n${err}\nstdout:\n${out}`),
            );
          }
        };
        waiters.add(check);
        check();
      });
    const running: Running = {
      proc,
      lines,
      stderr: () => err,
      exited,
      waitForLines: (count) =>
        waitFor(() => (lines.length >= count ? lines.slice(0, count) : undefined), `${count} lines`),
      waitForStderr: (match) =>
        waitFor(() => (match.test(err) ? err : undefined), `stderr matched ${String(match)}`),
    };
    this.#alive.add(running);
    return running;
  }

  /** Runs `eventy <args>` to its end. */
  run(args: readonly string[], options: RunOptions = {}): Promise<Run> {
    return this.spawn(args, options).exited;
  }

  /** Runs a command that prints one JSON document and parses it; fails with its stderr otherwise. */
  async json<T = unknown>(
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
  ): Promise<T> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`eventy ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Kills every process still running (SIGKILL) and waits for each. */
  async killAll(): Promise<void> {
    const alive = [...this.#alive];
    for (const r of alive) r.proc.kill('SIGKILL');
    await Promise.all(alive.map((r) => r.exited));
  }
}

/** A fresh temporary directory and a `file:` store URL inside it. */
export async function tempStore(): Promise<TempStore> {
  const { dir, cleanup } = await makeTempDir('eventy-cli-');
  return { dir, url: `file:${join(dir, 'log')}`, cleanup };
}

export interface TempStore {
  dir: string;
  url: string;
  cleanup: () => Promise<void>;
}

/**
 * The usual setup of a CLI test file: the binary built once, a fresh store per test (the same object,
 * refilled), and every spawned process and the store removed after each test.
 */
export function cliTestbed(): { cli: Cli; store: TempStore } {
  const cli = new Cli();
  const store: TempStore = { dir: '', url: '', cleanup: () => Promise.resolve() };
  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    Object.assign(store, await tempStore());
  });
  afterEach(async () => {
    await cli.killAll();
    await store.cleanup();
  });
  return { cli, store };
}

/** True while a process with this pid exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
