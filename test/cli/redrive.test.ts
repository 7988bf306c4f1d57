import { describe, expect, it } from 'vitest';
import { createQueueManager, openStore } from '../../index.js';
import { cliTestbed } from '../support/cli.js';
import { until } from '../support/wait.js';

describe('eventy redrive', () => {
  const { cli, store } = cliTestbed();

  it('shows the matching dead events, appends nothing without --yes, redrives them with it', async () => {
    const m = await createQueueManager({ store: store.url, handleSignals: false });
    const q = m.queue<{ error: string }>('jobs');
    await q.subscribe(
      (e) => {
        throw new Error(e.payload.error);
      },
      { name: 'w' },
    );
    const events = await q.publishMany([{ error: 'boom 1' }, { error: 'boom 2' }, { error: 'other' }]);
    await until(() => m.inspect().subscribers[0]?.dead === 3, 'three dead');
    await m.close();
    const log = await openStore(store.url);
    const head = async () => log.head();
    const redrive = (subscriber: string, ...more: string[]) =>
      cli.run(['redrive', 'jobs', '--subscriber', subscriber, ...more, '--store', store.url]);
    try {
      const before = await head();
      const dry = await redrive('w', '--error-match', 'boom');
      expect(dry.code, dry.stderr).toBe(0);
      const lines = dry.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^EVENT\s+POSITION\s+ATTEMPT\s+DEAD AT\s+ERROR$/);
      expect(lines.slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual([events[0]!.id, events[1]!.id]);
      expect(lines[1]).toMatch(/Error: boom 1$/);
      expect(lines[3]).toBe('2 dead events of jobs/w match (nothing redriven: add --yes to redrive them)');
      expect(await head()).toBe(before);

      const yes = await redrive('w', '--error-match', 'boom', '--yes', '--json');
      expect(yes.code, yes.stderr).toBe(0);
      const out = JSON.parse(yes.stdout) as { dead: { eventId: string }[]; redriven: number };
      expect(out.redriven).toBe(2);
      expect(out.dead.map((d) => d.eventId)).toEqual([events[0]!.id, events[1]!.id]);
      const tail = await cli.run(['tail', '--store', store.url, '--type', 'events.redriven']);
      expect(tail.stdout).toMatch(/events\.redriven\s+jobs\s+sub=w events=2/);

      // a worker runs them again
      const w = await createQueueManager({ store: store.url, handleSignals: false });
      try {
        const ran: string[] = [];
        await w
          .queue<{ error: string }>('jobs')
          .subscribe((e) => void ran.push(e.payload.error), { name: 'w' });
        await until(() => ran.length === 2, 'redriven events ran');
        expect(ran.sort()).toEqual(['boom 1', 'boom 2']);
      } finally {
        await w.close();
      }
      const none = await redrive('w', '--ids', events[0]!.id);
      expect(none.stdout.trim()).toBe('0 dead events of jobs/w match');
      const bad = await redrive('nobody');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/subscription not found: jobs\/nobody/);
    } finally {
      await log.close();
    }
  });
});
