import { beforeEach, describe, expect, it } from 'vitest';
import { createQueueManager, openStore, type QueueManager, type RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';
import { readAll } from '../support/log.js';

describe('eventy publish, inspect and stats', () => {
  const { cli, store } = cliTestbed();

  it('shows a keyed twin (two publishes racing with one key) as a duplicate of the first, in inspect and replay', async () => {
    const s = await openStore(store.url);
    const twin = (eventId: string): RecordDraft => ({
      type: 'event.published',
      queue: 'orders',
      eventId,
      payload: { eventId },
      headers: { key: 'order-7' },
    });
    await s.append([twin('first-1234567')]);
    await s.append([twin('second-1234567')]); // a second process that had not seen the first yet
    await s.close();
    const inspected = await cli.run(['inspect', 'second-1234567', '--store', store.url]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain('duplicate of first-1234567');
    expect(inspected.stdout).not.toContain('no result yet');
    const first = await cli.run(['inspect', 'first-1234567', '--store', store.url]);
    expect(first.stdout).toContain('no result yet');
    const json = await cli.json<{ records: { duplicateOf?: string }[] }>([
      'inspect',
      'second-1234567',
      '--json',
      '--store',
      store.url,
    ]);
    expect(json.records[0]?.duplicateOf).toBe('first-1234567');
    const replay = await cli.run(['replay', '--view', 'events', '--store', store.url]);
    expect(replay.code, replay.stderr).toBe(0);
    const line = replay.stdout.split('\n').find((l) => l.includes('second-1234567'));
    expect(line).toContain('duplicate of first-1234567');
  });

  it('publishes one event with headers, is idempotent with --key, and reads JSON lines from stdin', async () => {
    const one = await cli.run([
      'publish',
      'orders',
      '{"id":7}',
      '--correlation',
      'c-1',
      '--header',
      'tenant=acme',
      '--store',
      store.url,
    ]);
    expect(one.code, one.stderr).toBe(0);
    const id = one.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const keyed = await cli.json<{ id: string; position: number }>([
      'publish',
      'orders',
      '{"id":8}',
      '--key',
      'k8',
      '--json',
      '--store',
      store.url,
    ]);
    const twice = await cli.json<{ id: string; position: number }>([
      'publish',
      'orders',
      '{"id":8}',
      '--key',
      'k8',
      '--json',
      '--store',
      store.url,
    ]);
    expect(twice).toEqual(keyed);

    const many = await cli.run(['publish', 'orders', '-', '--json', '--store', store.url], {
      stdin: '{"id":9}\n\n{"id":10}\n',
    });
    expect(many.code, many.stderr).toBe(0);
    expect(
      many.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { position: number }).position),
    ).toEqual([2, 3]);

    const events = (await readAll(store.url)).filter((r) => r.type === 'event.published');
    expect(events.map((e) => (e as { payload?: unknown }).payload)).toEqual([
      { id: 7 },
      { id: 8 },
      { id: 9 },
      { id: 10 },
    ]);
    expect((events[0] as { headers?: unknown }).headers).toEqual({ correlationId: 'c-1', tenant: 'acme' });

    const bad = await cli.run(['publish', 'orders', '-', '--store', store.url], {
      stdin: '{"id":11}\nnot json\n',
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^eventy: stdin line 2 is not valid JSON/);
    expect((await readAll(store.url)).filter((r) => r.type === 'event.published')).toHaveLength(4);
  });

  describe('with a handled event that caused another', () => {
    let manager: QueueManager;
    let rootId: string;

    beforeEach(async () => {
      manager = await createQueueManager({ store: store.url, handleSignals: false, spreadGraceMs: 0 });
      const orders = manager.queue<{ id: number }>('orders');
      let failedOnce = false;
      await orders.subscribe(
        async (event, ctx) => {
          if (!failedOnce) {
            failedOnce = true;
            throw new Error('flaky');
          }
          await ctx.publish({ invoice: event.payload.id }, { queue: 'invoices' });
        },
        { name: 'bill', retry: { limit: 2, minBackoff: 1, maxBackoff: 1 } },
      );
      const e = await orders.publish({ id: 1 });
      rootId = e.id;
      await orders.waitForResult(e.id);
      await manager.close();
    });

    it('inspect shows the timeline: published, claims, the failure and retry, the result, and the caused event', async () => {
      const r = await cli.run(['inspect', rootId.slice(0, 8), '--store', store.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`event ${rootId} in queue orders`);
      // The first attempt ran on the worker's reservation: claimed as it was published, no claim record.
      expect(r.stdout).toMatch(
        /event\.published .*claimed as published, attempt 1, by a reservation \(bill: worker /,
      );
      expect(r.stdout).toMatch(/claim\.acquired .*attempt=2/);
      expect(r.stdout).toMatch(/result\.recorded .*failed .*error=Error: flaky retry=/);
      expect(r.stdout).toMatch(/result\.recorded .*ok .*attempt=2/);
      expect(r.stdout).toContain('bill: ok after 2 attempts');
      expect(r.stdout).toMatch(/caused events \(1\)\n\s+\d+ invoices /);

      const json = await cli.json<{
        event: { eventId: string };
        records: { type: string; reservedBy?: { subscriber: string }[] }[];
        children: { relation: string }[];
      }>(['inspect', rootId, '--json', '--store', store.url]);
      expect(json.event.eventId).toBe(rootId);
      expect(json.records[0]?.reservedBy?.map((b) => b.subscriber)).toEqual(['bill']);
      expect(json.records.map((x) => x.type)).toEqual([
        'event.published',
        'result.recorded',
        'claim.acquired',
        'result.recorded',
      ]);
      expect(json.children.map((c) => c.relation)).toEqual(['caused']);
    });

    it('stats prints depth, done and failed per queue and subscriber', async () => {
      const s = await cli.json<{
        queues: {
          queue: string;
          published: number;
          ok: number;
          failed: number;
          subscribers: { name: string; done: number; failed: number; depth: number }[];
        }[];
      }>(['stats', '--json', '--store', store.url]);
      expect(s.queues).toEqual([
        expect.objectContaining({ queue: 'invoices', published: 1, ok: 0 }),
        expect.objectContaining({
          queue: 'orders',
          published: 1,
          ok: 1,
          failed: 1,
          subscribers: [expect.objectContaining({ name: 'bill', done: 1, failed: 1, depth: 0 })],
        }),
      ]);
      const human = await cli.run(['stats', 'orders', '--store', store.url]);
      expect(human.stdout).toMatch(/QUEUE \/ SUBSCRIBER\s+PUBLISHED\s+DEPTH/);
      expect(human.stdout).toMatch(/\n\s+bill\s+0\s+0\s+1\s+1\s+0/);
    });

    it('stats --watch keeps printing until SIGINT', async () => {
      const w = cli.spawn(['stats', '--watch', '--interval', '100', '--json', '--store', store.url]);
      await w.waitForLines(2);
      w.proc.kill('SIGINT');
      const end = await w.exited;
      expect(end.code).toBe(0);
      for (const line of w.lines.filter((l) => l !== '')) expect(JSON.parse(line)).toHaveProperty('queues');
    });
  });
});
