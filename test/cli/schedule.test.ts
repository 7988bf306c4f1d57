import { describe, expect, it } from 'vitest';
import { createQueueManager, type ScheduleInfo } from '../../index.js';
import { cliTestbed } from '../support/cli.js';
import { until } from '../support/wait.js';

describe('eventy schedule add, ls, rm; tail and inspect of fired events', () => {
  const { cli, store } = cliTestbed();

  it('adds, lists, fires (in a worker), shows the fired event and its slot, removes', async () => {
    const add = await cli.run([
      'schedule',
      'add',
      'jobs',
      'tick',
      '--every',
      '100ms',
      '--payload',
      '{"n":1}',
      '--store',
      store.url,
    ]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^jobs\/tick: next \d{4}-\d\d-\d\dT/);
    const cron = await cli.run([
      'schedule',
      'add',
      'reports',
      'nightly',
      '--cron',
      '0 3 * * *',
      '--tz',
      'Europe/Paris',
      '--payload',
      'null',
      '--store',
      store.url,
    ]);
    expect(cron.code, cron.stderr).toBe(0);
    // A worker hosting a subscriber of the queue fires its schedules.
    const m = await createQueueManager({ store: store.url, handleSignals: false });
    try {
      await m.queue('jobs').subscribe(() => undefined, { name: 'w' });
      await until(async () => (await m.queue('jobs').getSchedule('tick')).fired >= 2, 'two fires');
    } finally {
      await m.close();
    }
    const ls = await cli.run(['schedule', 'ls', '--store', store.url]);
    expect(ls.code, ls.stderr).toBe(0);
    const lines = ls.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^QUEUE\s+ID\s+WHEN\s+NEXT\s+LAST\s+FIRED\s+PAYLOAD$/);
    expect(lines.find((l) => l.startsWith('jobs'))).toMatch(
      /tick\s+every 100ms\s+\S+\s+\S+\s+\d+\s+\{"n":1\}/,
    );
    expect(lines.find((l) => l.startsWith('reports'))).toMatch(
      /nightly\s+cron 0 3 \* \* \* Europe\/Paris\s+\S+T0[12]:00:00\.000Z\s+-\s+0/,
    );
    const json = await cli.run(['schedule', 'ls', 'jobs', '--json', '--store', store.url]);
    const info = JSON.parse(json.stdout.trim()) as ScheduleInfo;
    expect(info).toMatchObject({ id: 'tick', every: 100, ended: false });
    expect(info.fired).toBeGreaterThanOrEqual(2);

    const tail = await cli.run(['tail', '--type', 'event.published', '--json', '--store', store.url]);
    const fired = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { eventId: string; headers: Record<string, string> });
    expect(fired[0]?.headers).toMatchObject({ scheduleId: 'tick' });
    const human = await cli.run(['tail', '--type', 'schedule.registered', '--store', store.url]);
    expect(human.stdout).toMatch(/schedule=tick every=100ms .*catch-up=latest/);
    expect(human.stdout).toMatch(/schedule=nightly cron=0 3 \* \* \* tz=Europe\/Paris/);
    const inspect = await cli.run(['inspect', fired[0]?.eventId ?? '', '--store', store.url]);
    expect(inspect.stdout).toContain(`fired by schedule tick for the slot ${fired[0]?.headers.scheduledFor}`);

    const rm = await cli.run(['schedule', 'rm', 'jobs', 'tick', '--store', store.url]);
    expect(rm.code, rm.stderr).toBe(0);
    const again = await cli.run(['schedule', 'rm', 'jobs', 'tick', '--store', store.url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no schedule tick on queue jobs');
    expect((await cli.run(['schedule', 'ls', 'jobs', '--store', store.url])).stdout).toContain(
      'no schedules on queue jobs',
    );
  });

  it('refuses bad input with exit code 2 and says why', async () => {
    const both = await cli.run([
      'schedule',
      'add',
      'jobs',
      'x',
      '--every',
      '1s',
      '--cron',
      '* * * * *',
      '--payload',
      '1',
      '--store',
      store.url,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of --cron, --every or --at');
    const badCron = await cli.run([
      'schedule',
      'add',
      'jobs',
      'x',
      '--cron',
      '99 * * * *',
      '--payload',
      '1',
      '--store',
      store.url,
    ]);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toContain('cron "99 * * * *" is not valid');
    const badJson = await cli.run([
      'schedule',
      'add',
      'jobs',
      'x',
      '--every',
      '1s',
      '--payload',
      '{',
      '--store',
      store.url,
    ]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--payload must be JSON');
  });
});
