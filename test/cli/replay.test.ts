import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  foldAll,
  isFinished,
  openStore,
  viewsFold,
  type StoredRecord,
  type LogViews,
  type RecordDraft,
} from '../../index.js';
import { Cli, ensureBuilt, tempStore } from '../support/cli.js';
import { readAll } from '../support/log.js';

const claim = (eventPosition: number, workerId: string, attempt: number): RecordDraft => ({
  type: 'claim.acquired',
  queue: 'q',
  eventId: `e${eventPosition}`,
  eventPosition,
  subscriberId: 'q/s',
  workerId,
  attempt,
  leaseMs: 600_000,
});

const result = (
  eventPosition: number,
  workerId: string,
  attempt: number,
  status: 'ok' | 'failed',
  retry = false,
): RecordDraft => ({
  type: 'result.recorded',
  queue: 'q',
  eventId: `e${eventPosition}`,
  eventPosition,
  subscriberId: 'q/s',
  workerId,
  attempt,
  status,
  durationMs: 1,
  ...(status === 'failed' ? { error: { name: 'Error', message: 'boom' } } : {}),
  ...(retry ? { retryAt: 0 } : {}),
});

const worker = (type: 'worker.joined' | 'worker.left', workerId: string): RecordDraft =>
  type === 'worker.joined'
    ? { type, workerId, host: 'h', pid: 1, queues: ['q'], subscribers: ['q/s'], ttlMs: 600_000 }
    : { type, workerId, host: 'h', pid: 1, queues: ['q'], subscribers: ['q/s'] };

/** A log whose claims, fencing, retries and workers change at known positions. */
const LOG: RecordDraft[][] = [
  [
    {
      type: 'subscriber.registered',
      queue: 'q',
      subscriberId: 'q/s',
      name: 's',
      delivery: 'competing',
      retry: { limit: 1, minBackoff: 0, maxBackoff: 0 },
      timeout: 0,
      startPosition: 0,
    },
  ],
  [1, 2, 3].map((p) => ({
    type: 'event.published',
    queue: 'q',
    eventId: `e${p}`,
    payload: { p },
    headers: {},
  })),
  [worker('worker.joined', 'wA')], // 4
  [claim(1, 'wA', 1)], // 5
  [claim(2, 'wA', 1)], // 6
  [result(1, 'wA', 1, 'ok')], // 7: e1 done
  [claim(2, 'wB', 1)], // 8: loses, wA holds the lease
  [result(2, 'wB', 1, 'ok')], // 9: fenced
  [result(2, 'wA', 1, 'failed', true)], // 10: retry
  [worker('worker.left', 'wA')], // 11
  [claim(2, 'wB', 2)], // 12: the retry
  [claim(3, 'wB', 1)], // 13
];

interface SubscriberJson {
  subscriberId: string;
  done: number;
  failed: number;
  dead: number;
  skipped: number;
  rejected: number;
}

describe('eventy replay', () => {
  const cli = new Cli();
  let store: Awaited<ReturnType<typeof tempStore>>;
  let records: StoredRecord[];

  beforeAll(async () => {
    ensureBuilt();
    store = await tempStore();
    const s = await openStore(store.url);
    try {
      for (const batch of LOG) await s.append(batch);
    } finally {
      await s.close();
    }
    records = await readAll(store.url);
  });
  afterAll(async () => {
    await cli.killAll();
    await store.cleanup();
  });

  const foldTo = (p: number): LogViews => foldAll(viewsFold, records.slice(0, p + 1));

  it.each([3, 6, 8, 9, 10, 12, 13])(
    '--to %i shows the subscribers, claims and workers of that moment',
    async (p) => {
      const expected = foldTo(p);

      const subs = await cli.json<{ position: number; rows: SubscriberJson[] }>([
        'replay',
        '--view',
        'subscribers',
        '--to',
        String(p),
        '--json',
        '--store',
        store.url,
      ]);
      expect(subs.position).toBe(p);
      expect(
        subs.rows.map(({ subscriberId, done, failed, dead, skipped, rejected }) => ({
          subscriberId,
          done,
          failed,
          dead,
          skipped,
          rejected,
        })),
      ).toEqual(
        [...expected.dispatch.subscribers.values()].map((s) => ({ subscriberId: s.id, ...s.counts })),
      );

      const claims = await cli.json<{
        rows: { eventPosition: number; attempt: number; owner: string | null }[];
      }>(['replay', '--view', 'claims', '--to', String(p), '--json', '--store', store.url]);
      const open = [...expected.dispatch.subscribers.values()].flatMap((s) =>
        [...s.items.values()]
          .filter((i) => !isFinished(i))
          .map((i) => ({ eventPosition: i.eventPosition, attempt: i.attempt, owner: i.owner ?? null })),
      );
      expect(
        claims.rows.map(({ eventPosition, attempt, owner }) => ({ eventPosition, attempt, owner })),
      ).toEqual(open.sort((a, b) => a.eventPosition - b.eventPosition));

      const workers = await cli.json<{ rows: { workerId: string; leftAt: number | null }[] }>([
        'replay',
        '--view',
        'workers',
        '--to',
        String(p),
        '--json',
        '--store',
        store.url,
      ]);
      expect(workers.rows.map((w) => [w.workerId, w.leftAt !== null])).toEqual(
        [...expected.workers.workers.values()].map((w) => [w.workerId, w.leftAt !== undefined]),
      );
    },
  );

  it('at 10, the fenced result is counted as rejected and the failed one waits for its retry', async () => {
    const claims = await cli.json<{ rows: { eventPosition: number; status: string; attempt: number }[] }>([
      'replay',
      '--view',
      'claims',
      '--to',
      '10',
      '--json',
      '--store',
      store.url,
    ]);
    expect(claims.rows).toEqual([expect.objectContaining({ eventPosition: 2, status: 'retry', attempt: 1 })]);
    const results = await cli.json<{ rows: { position: number; accepted: boolean; status: string }[] }>([
      'replay',
      '--view',
      'results',
      '--to',
      '10',
      '--json',
      '--store',
      store.url,
    ]);
    expect(results.rows.map((r) => [r.position, r.status, r.accepted])).toEqual([
      [7, 'ok', true],
      [9, 'ok', false],
      [10, 'failed', true],
    ]);
  });

  it('--to an ISO time folds the records appended up to that time', async () => {
    const t = records[6]!.time;
    const last = records.filter((r) => r.time <= t).at(-1)!.position;
    const out = await cli.json<{ position: number }>([
      'replay',
      '--view',
      'stats',
      '--to',
      new Date(t).toISOString(),
      '--json',
      '--store',
      store.url,
    ]);
    expect(out.position).toBe(last);
    const before = await cli.json<{ position: number; rows: unknown[] }>([
      'replay',
      '--to',
      '2000-01-01',
      '--json',
      '--store',
      store.url,
    ]);
    expect(before.position).toBe(-1);
    expect(before.rows).toEqual([]);
  });

  it('--diff shows the claims, results and workers that changed between two points', async () => {
    const d = await cli.json<{
      claims: {
        opened: { eventPosition: number }[];
        changed: { before: { owner: string }; after: { owner: string; attempt: number } }[];
        closed: { eventPosition: number }[];
      };
      workers: { left: { workerId: string }[] };
      results: { total: number; byStatus: Record<string, number>; fenced: number };
    }>(['replay', '--diff', '6', '--to', '13', '--json', '--store', store.url]);
    expect(d.claims.closed.map((c) => c.eventPosition)).toEqual([1]);
    expect(d.claims.changed.map((c) => [c.before.owner, c.after.owner, c.after.attempt])).toEqual([
      ['wA', 'wB', 2],
    ]);
    expect(d.claims.opened.map((c) => c.eventPosition)).toEqual([3]);
    expect(d.workers.left.map((w) => w.workerId)).toEqual(['wA']);
    expect(d.results).toMatchObject({ total: 3, byStatus: { ok: 1, failed: 1 }, fenced: 1 });

    const human = await cli.run(['replay', '--diff', '6', '--to', '13', '--store', store.url]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('changes from position 6');
    expect(human.stdout).toMatch(/left\s+wA/);
  });

  it('prints human tables by default, and the events view', async () => {
    const r = await cli.run(['replay', '--view', 'subscribers', '--store', store.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/subscribers at position 13/);
    expect(r.stdout).toMatch(/QUEUE\s+SUBSCRIBER\s+DELIVERY\s+DEPTH/);
    const events = await cli.json<{ rows: { eventId: string; outcome: Record<string, string> }[] }>([
      'replay',
      '--view',
      'events',
      '--json',
      '--store',
      store.url,
    ]);
    expect(events.rows.map((e) => [e.eventId, e.outcome])).toEqual([
      ['e1', { s: 'ok' }],
      ['e2', { s: 'retry' }],
      ['e3', {}],
    ]);
  });

  it('a position past the head is a usage error', async () => {
    const r = await cli.run(['replay', '--to', '14', '--store', store.url]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('eventy: --to 14 is past the end of the log (last position 13)');
  });
});
