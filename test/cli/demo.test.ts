import { describe, expect, it } from 'vitest';
import { cliTestbed, isRunning } from '../support/cli.js';
import { readAll } from '../support/log.js';

interface Summary {
  tasks: number;
  done: number;
  processes: number;
  tasksPerSecond: number;
  retried: number;
  workers: { workerId: string; slot: number | null; pid: number | null; tasks: number }[];
  exampleEventId: string | null;
}

describe('eventy demo', () => {
  const { cli, store } = cliTestbed();

  it('publishes tasks, runs 2 worker processes to completion, summarises, and leaves the log', async () => {
    const s = await cli.json<Summary>(['demo', '--count', '150', '--json', '--store', store.url]);
    expect(s).toMatchObject({ tasks: 150, done: 150, processes: 2 });
    expect(s.tasksPerSecond).toBeGreaterThan(0);
    expect(s.retried).toBeGreaterThan(0); // tasks 42 and 142 fail once on purpose
    expect(s.workers.reduce((n, w) => n + w.tasks, 0)).toBe(150);
    for (const w of s.workers) {
      expect(w.pid).not.toBeNull();
      expect(isRunning(w.pid!)).toBe(false);
    }

    // The log stays, and the other commands read it.
    const records = await readAll(store.url);
    expect(records.filter((r) => r.type === 'event.published')).toHaveLength(150);
    // Every worker that joined left cleanly (one may never have joined if the other did all the work).
    const joined = records.filter((r) => r.type === 'worker.joined').length;
    expect(joined).toBeGreaterThanOrEqual(1);
    expect(records.filter((r) => r.type === 'worker.left')).toHaveLength(joined);
    const subs = await cli.json<{ rows: { name: string; done: number; depth: number; dead: number }[] }>([
      'replay',
      '--view',
      'subscribers',
      '--json',
      '--store',
      store.url,
    ]);
    expect(subs.rows).toEqual([expect.objectContaining({ name: 'compute', done: 150, depth: 0, dead: 0 })]);
    const verify = await cli.run(['verify', '--store', store.url]);
    expect(verify.code, verify.stdout).toBe(0);
    const inspect = await cli.json<{ records: { type: string; status?: string }[] }>([
      'inspect',
      s.exampleEventId!,
      '--json',
      '--store',
      store.url,
    ]);
    expect(inspect.records.filter((r) => r.type === 'result.recorded').map((r) => r.status)).toEqual([
      'failed',
      'ok',
    ]);
  });

  it('prints a human summary with events/s and per-worker counts', async () => {
    const r = await cli.run(['demo', '--count', '40', '--processes', '1', '--store', store.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/published 40 tasks to queue demo/);
    expect(r.stdout).toMatch(/40 of 40 tasks done by 1 worker processes in .*: [\d,]+ events\/s/);
    expect(r.stdout).toMatch(/worker 1 \(pid \d+\)\s+40 tasks\s+100\.0%/);
    expect(r.stdout).toContain(`eventy tail -n 20 --store ${store.url}`);
  });
});
