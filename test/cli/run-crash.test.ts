import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  dispatchFold,
  foldAll,
  resultRef,
  unbatched,
  type RecordOf,
  type StoredRecord,
} from '../../index.js';
import { Cli, ensureBuilt, root, tempStore } from '../support/cli.js';
import { readAll } from '../support/log.js';
import { sleep, until } from '../support/wait.js';

const WORKER = join(root, 'test/fixtures/cli-crash-worker.ts');
const TSX = ['--import', 'tsx'];
const HEARTBEAT_MS = 2000;
const LEASE_MS = 120_000;

type Result = RecordOf<'result.recorded'>;

describe('eventy run: a handler that kills its worker process', () => {
  const cli = new Cli();
  let store: Awaited<ReturnType<typeof tempStore>>;

  beforeAll(() => ensureBuilt());
  beforeEach(async () => (store = await tempStore()));
  afterEach(async () => {
    await cli.killAll();
    await store.cleanup();
  });

  /** The accepted results of the event, by attempt, once `count` are in. */
  async function accepted(
    eventId: string,
    count: number,
  ): Promise<{ results: Result[]; log: StoredRecord[] }> {
    return until(
      async () => {
        const log = await readAll(store.url);
        const state = foldAll(dispatchFold, log);
        const results = log
          .flatMap(unbatched)
          .filter((r): r is Result => r.type === 'result.recorded' && r.eventId === eventId)
          .filter((r) => !state.rejected.has(resultRef(r)));
        return results.length >= count ? { results, log } : undefined;
      },
      `${count} accepted results of ${eventId}`,
      45_000,
      100,
    );
  }

  it('ends each attempt in a failed (crashed) result within 3 heartbeats, retried once, then dead', async () => {
    const runs = join(store.dir, 'runs');
    const published = await cli.run(['publish', 'jobs', '{"crash":true}', '--store', store.url]);
    expect(published.code, published.stderr).toBe(0);
    const eventId = published.stdout.trim();
    expect(eventId).toMatch(/^\S+$/);
    const run = cli.spawn(
      [
        'run',
        WORKER,
        '--processes',
        '3',
        '--store',
        store.url,
        '--lease-ms',
        String(LEASE_MS),
        '--heartbeat-ms',
        String(HEARTBEAT_MS),
      ],
      { nodeArgs: TSX, env: { CLI_TEST_RUNS: runs } },
    );
    const { results, log } = await accepted(eventId, 2);

    // Attempt 1 failed with the crash and was retried; attempt 2 too, past the limit: dead.
    expect(results.map((r) => [r.attempt, r.status, r.error?.name, r.retryAt !== undefined])).toEqual([
      [1, 'failed', 'WorkerCrashedError', true],
      [2, 'failed', 'WorkerCrashedError', false],
    ]);
    const state = foldAll(dispatchFold, log);
    expect(state.subscribers.get('jobs/crashy')?.counts).toMatchObject({ failed: 2, dead: 1, done: 0 });
    // Each was recorded by another (live) worker for the worker whose process died, which the
    // supervisor announced with worker.left crashed.
    const left = log.filter((r): r is RecordOf<'worker.left'> => r.type === 'worker.left');
    for (const r of results) {
      expect(r.reportedBy).toBeDefined();
      expect(r.reportedBy).not.toBe(r.workerId);
      expect(r.error?.message).toMatch(/^the worker died \(exited with code 3\)/);
      expect(left.find((l) => l.workerId === r.workerId)).toMatchObject({
        reason: 'crashed',
        detail: 'exited with code 3',
      });
    }
    // Failover in seconds: from the attempt's claim (or the event, bound as published) to its
    // failed result, under 3 heartbeats — never the lease.
    const singles = log.flatMap(unbatched);
    const event = singles.find((r) => r.type === 'event.published')!;
    for (const r of results) {
      const claim = singles
        .filter((c): c is RecordOf<'claim.acquired'> => c.type === 'claim.acquired')
        .find((c) => c.eventId === eventId && c.attempt === r.attempt);
      const from = claim?.time ?? event.time;
      expect(r.time - from, `attempt ${r.attempt}`).toBeLessThan(3 * HEARTBEAT_MS);
    }

    // The handler ran exactly twice, and never again.
    await sleep(3000);
    const lines = () => (existsSync(runs) ? readFileSync(runs, 'utf8').trim().split('\n') : []);
    expect(lines().map((l) => l.split(' ')[1])).toEqual(['1', '2']);

    const inspect = await cli.run(['inspect', eventId, '--store', store.url], { env: { NO_COLOR: '1' } });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toMatch(/the worker died: attempt 1 failed, reported by worker/);
    expect(inspect.stdout).toMatch(/the worker died: attempt 2 failed, reported by worker/);
    expect(inspect.stdout).toMatch(/crashy: dead \(failed: the worker died \(exited with code 3\)/);

    run.proc.kill('SIGTERM');
    const end = await run.exited;
    expect(end.code, end.stderr).toBe(0);
  });
});
