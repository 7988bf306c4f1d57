import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unbatched, type StoredRecord } from '../../index.js';
import { Cli, ensureBuilt, isRunning, root, tempStore } from '../support/cli.js';
import { readAll } from '../support/log.js';
import { until } from '../support/wait.js';

const WORKER = join(root, 'test/fixtures/cli-worker.ts');
const TSX = ['--import', 'tsx'];
const JOBS = 40;

type Rec = StoredRecord & { workerId?: string; pid?: number; status?: string; queue?: string };

describe('eventy run', () => {
  const cli = new Cli();
  let store: Awaited<ReturnType<typeof tempStore>>;

  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    store = await tempStore();
    const lines = Array.from({ length: JOBS }, (_, n) => JSON.stringify({ n })).join('\n');
    const published = await cli.run(['publish', 'jobs', '-', '--store', store.url], { stdin: `${lines}\n` });
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout.trim().split('\n')).toHaveLength(JOBS);
  });
  afterEach(async () => {
    await cli.killAll();
    await store.cleanup();
  });

  /** Waits until every job has an ok result; returns the log. */
  function drained(): Promise<Rec[]> {
    return until(
      async () => {
        const records = (await readAll(store.url)) as Rec[];
        const ok = new Set(
          records
            .flatMap((r) => unbatched(r) as Rec[])
            .filter((r) => r.type === 'result.recorded' && r.status === 'ok')
            .map((r) => (r as { eventId?: string }).eventId),
        );
        return ok.size === JOBS ? records : undefined;
      },
      `${JOBS} jobs done`,
      30_000,
      50,
    );
  }

  it('starts N worker processes that drain the queue, and stops them gracefully on SIGTERM', async () => {
    const run = cli.spawn(['run', WORKER, '--processes', '2', '--store', store.url], { nodeArgs: TSX });
    await run.waitForStderr(/worker 2 ready/);
    await run.waitForStderr(/worker 1 ready/);
    const records = await drained(); // read after both joined: each announced itself in the log
    const joined = records.filter((r) => r.type === 'worker.joined');
    const pids = [...new Set(joined.map((r) => r.pid!))];
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(run.proc.pid);

    run.proc.kill('SIGTERM');
    const end = await run.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toContain('stopped');
    // Each worker drained and announced its leave; no process is left behind.
    const left = (await readAll(store.url)).filter((r) => r.type === 'worker.left') as Rec[];
    expect(new Set(left.map((r) => r.pid))).toEqual(new Set(pids));
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });

  it('restarts a worker process that crashed', async () => {
    const crash = join(store.dir, 'crash');
    const run = cli.spawn(['run', WORKER, '--processes', '1', '--store', store.url], {
      nodeArgs: TSX,
      env: { CLI_TEST_CRASH_ONCE: crash },
    });
    await run.waitForStderr(/worker 1 exited with code 3; restarting/);
    await drained();
    run.proc.kill('SIGINT');
    const end = await run.exited;
    expect(end.code, end.stderr).toBe(0);
    const pids = (await readAll(store.url)).flatMap((r) =>
      (r as Rec).type === 'worker.joined' ? [(r as Rec).pid!] : [],
    );
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });

  it('a module that is missing is a usage error; one that cannot start fails with one line', async () => {
    const missing = await cli.run(['run', 'nope.js', '--store', store.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('eventy: module not found: nope.js');

    const ts = await cli.run(['run', WORKER, '--store', store.url]);
    expect(ts.code).toBe(2);
    expect(ts.stderr).toMatch(/is TypeScript/);

    const bad = await cli.run(['run', join(root, 'test/fixtures/cli-no-default.ts'), '--store', store.url], {
      nodeArgs: TSX,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no default export/);
    expect(bad.stderr.trim().split('\n').at(-1)).toMatch(
      /^eventy: cannot start .*cli-no-default\.ts: .*no default export/,
    );
  });
});
