import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createQueueManager, unbatched, type StoredRecord } from '../../index.js';
import { cliTestbed, ensureBuilt, root } from '../support/cli.js';
import { readAll } from '../support/log.js';
import { until } from '../support/wait.js';

const WORKER = join(root, 'test/fixtures/cli-worker.ts');
const TSX = ['--import', 'tsx'];

type Rec = StoredRecord & { eventId?: string; status?: string };

/** `eventy run` and an End: every process exits once the queue ended and drained (issue 14). */
describe('eventy run and an End', () => {
  const { cli, store } = cliTestbed();
  beforeAll(() => ensureBuilt());

  async function publish(lines: string[]): Promise<string[]> {
    const out = await cli.run(['publish', 'jobs', '-', '--json', '--store', store.url], {
      stdin: `${lines.join('\n')}\n`,
    });
    expect(out.code, out.stderr).toBe(0);
    return out.stdout.trim().split('\n');
  }

  async function end(): Promise<void> {
    const m = await createQueueManager({ store: store.url, handleSignals: false });
    try {
      expect(await m.queue('jobs').end({ wait: false })).toEqual({ drained: false });
    } finally {
      await m.close();
    }
  }

  async function okEvents(): Promise<Set<string>> {
    const records = (await readAll(store.url)).flatMap((r) => unbatched(r) as Rec[]);
    return new Set(
      records.filter((r) => r.type === 'result.recorded' && r.status === 'ok').map((r) => r.eventId!),
    );
  }

  it('exits 0 after draining, also when started after the End drained; a publish after it reopens the queue', async () => {
    await publish(Array.from({ length: 20 }, (_, n) => JSON.stringify({ n })));
    await end();
    const first = await cli.spawn(['run', WORKER, '-p', '2', '--store', store.url], { nodeArgs: TSX }).exited;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('every worker process finished');
    expect((await okEvents()).size).toBe(20);

    // Started after the End drained: nothing left before it, and nothing published since.
    const late = await cli.spawn(['run', WORKER, '-p', '2', '--store', store.url], { nodeArgs: TSX }).exited;
    expect(late.code, late.stderr).toBe(0);
    expect(late.stderr).toContain('every worker process finished');

    // A publish after the End reopens the queue: this one runs the new event and keeps running.
    const [line] = await publish([JSON.stringify({ n: 20 })]);
    const id = (JSON.parse(line!) as { id: string }).id;
    const reopened = cli.spawn(['run', WORKER, '--store', store.url], { nodeArgs: TSX });
    await until(async () => (await okEvents()).has(id) || undefined, 'the event after the End', 30_000, 50);
    await reopened.waitForStderr(/worker 1 ready/);
    expect(reopened.proc.exitCode).toBeNull();
    reopened.proc.kill('SIGTERM');
    const stopped = await reopened.exited;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('stopped');
  });
});
