import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { createQueueManager, isEventyError, unbatched, type StoredRecord } from '../../index.js';
import { Cli, ensureBuilt, root, tempStore, type TempStore } from '../support/cli.js';
import { readAll } from '../support/log.js';
import { until } from '../support/wait.js';

const WORKER = join(root, 'test/fixtures/cli-worker.ts');
const TSX = ['--import', 'tsx'];

type Rec = StoredRecord & { status?: string; eventId?: string };

/** A new log at the same path: the old directory removed, another log created there with events. */
async function replaceLog(dir: string, events: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const other = await openFileStore(`file:${dir}`);
  try {
    for (let n = 0; n < events; n++) {
      await other.append([
        {
          type: 'event.published',
          queue: 'jobs',
          eventId: `new-${n}`,
          payload: { n: 1000 + n },
          headers: {},
        },
      ]);
    }
  } finally {
    await other.close();
  }
}

describe('a worker whose log diverged', () => {
  const cli = new Cli();
  let store: TempStore;

  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    store = await tempStore();
  });
  afterEach(async () => {
    await cli.killAll();
    await store.cleanup();
  });

  it('in code: the manager stops claiming, reports log-diverged, and nothing reaches the other log', async () => {
    const manager = await createQueueManager({ store: store.url, handleSignals: false });
    const handled: number[] = [];
    try {
      const q = manager.queue<{ n: number }>('jobs');
      await q.subscribe((e) => void handled.push(e.payload.n), { name: 'drain' });
      await q.publish({ n: 1 });
      await until(() => handled.length === 1 || undefined, 'the first event handled', 10_000);

      await replaceLog(join(store.dir, 'log'), 5);
      const failure = await until(() => manager.failure, 'the manager noticed', 15_000);
      expect(isEventyError(failure, 'log-diverged')).toBe(true);
      await until(
        () => manager.inspect().hosted.every((h) => h.stopped) || undefined,
        'subscribers stopped',
        15_000,
      );
      await expect(q.publish({ n: 2 })).rejects.toMatchObject({ code: 'log-diverged' });
      expect(handled).toEqual([1]);
    } finally {
      await manager.close();
    }
    // The other log holds its own 5 events and nothing from the old worker.
    const records = await readAll(store.url);
    expect(records.map((r) => r.type)).toEqual(Array(5).fill('event.published'));
  });

  it('eventy worker exits non-zero; under eventy run it is restarted on the log as it now is', async () => {
    const run = cli.spawn(['run', WORKER, '--processes', '1', '--store', store.url], { nodeArgs: TSX });
    await run.waitForStderr(/worker 1 ready/);
    const log = join(store.dir, 'log');
    const moved = `${log}.old`;
    await rename(log, moved); // the old log goes away under the running worker
    await replaceLog(log, 3);
    await run.waitForStderr(/worker 1 exited with code 1; restarting/);
    expect(run.stderr()).toMatch(/diverged/);
    // The restarted worker drains the new log's events.
    await until(
      async () => {
        const ok = (await readAll(store.url))
          .flatMap((r) => unbatched(r) as Rec[])
          .filter((r) => r.type === 'result.recorded' && r.status === 'ok');
        return ok.length === 3 || undefined;
      },
      'the new log drained',
      30_000,
    );
    run.proc.kill('SIGTERM');
    const end = await run.exited;
    expect(end.code, end.stderr).toBe(0);
  });
});
