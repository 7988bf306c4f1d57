import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unbatched, type StoredRecord } from '../../index.js';
import { cliTestbed, root } from '../support/cli.js';
import { readAll } from '../support/log.js';
import { until } from '../support/wait.js';

const HANDLERS = join(root, 'test/fixtures/handlers');
const TSX = ['--import', 'tsx'];
const ORDERS = 20;
const MAIL = 6;

type Rec = StoredRecord & {
  subscriberId?: string;
  eventId?: string;
  status?: string;
  pid?: number;
  ttlMs?: number;
  leaseMs?: number;
};

/** The orders: even n new, odd n paid; total 10·n; every fifth bad (the fragile predicate throws). */
const order = (n: number) => ({ n, type: n % 2 === 0 ? 'new' : 'paid', total: n * 10, bad: n % 5 === 0 });

describe('eventy run DIR: Eventide-style handler modules', () => {
  const { cli, store } = cliTestbed();

  /** Final results by subscriber: event n → status, once every subscriber has one per event. */
  async function outcomes(eventN: Map<string, number>): Promise<Map<string, Map<number, string>>> {
    return until(
      async () => {
        const records = (await readAll(store.url)).flatMap((r) => unbatched(r) as Rec[]);
        const by = new Map<string, Map<number, string>>();
        for (const r of records) {
          if (r.type !== 'result.recorded' || r.subscriberId === undefined) continue;
          const n = eventN.get(r.eventId!)!;
          const row = by.get(r.subscriberId) ?? new Map<number, string>();
          // Handled once; a filtered event may be skipped by both workers (no claim is needed to skip:
          // the fold keeps the first skip and rejects the second).
          if (row.has(n))
            expect([row.get(n), r.status], `${r.subscriberId} event ${n}`).toEqual(['skipped', 'skipped']);
          row.set(n, r.status!);
          by.set(r.subscriberId, row);
        }
        const done = ['orders/bill', 'orders/review', 'orders/fragile'].every(
          (s) => by.get(s)?.size === ORDERS,
        );
        return done && by.get('mail/send')?.size === MAIL ? by : undefined;
      },
      'a result per event and subscriber',
      40_000,
      100,
    );
  }

  it('runs a directory of two modules (defineWorker and the function form) in 2 processes, with the flags passed on', async () => {
    const out = join(store.dir, 'out');
    mkdirSync(out);
    const eventN = new Map<string, number>();
    const publish = async (queue: string, payloads: object[]): Promise<void> => {
      const lines = payloads.map((p) => JSON.stringify(p)).join('\n');
      const r = await cli.run(['publish', queue, '-', '--store', store.url, '--json'], {
        stdin: `${lines}\n`,
      });
      expect(r.code, r.stderr).toBe(0);
      r.stdout
        .trim()
        .split('\n')
        .forEach((line, i) =>
          eventN.set((JSON.parse(line) as { id: string }).id, (payloads[i] as { n: number }).n),
        );
    };
    await publish(
      'orders',
      Array.from({ length: ORDERS }, (_, n) => order(n)),
    );
    await publish(
      'mail',
      Array.from({ length: MAIL }, (_, n) => ({ n })),
    );

    const args = [
      'run',
      HANDLERS,
      '-p',
      '2',
      '--concurrency',
      '3',
      '--lease-ms',
      '7000',
      '--heartbeat-ms',
      '700',
    ];
    const run = cli.spawn([...args, '--store', store.url], {
      nodeArgs: TSX,
      env: { HANDLERS_TEST_DIR: out },
    });
    await run.waitForStderr(/worker 1 ready/);
    await run.waitForStderr(/worker 2 ready/);
    const by = await outcomes(eventN);

    const expected = (take: (n: number) => boolean) =>
      new Map(Array.from({ length: ORDERS }, (_, n) => [n, take(n) ? 'ok' : 'skipped']));
    expect(by.get('orders/bill')).toEqual(expected((n) => n % 2 === 0)); // JMESPath
    expect(by.get('orders/review')).toEqual(expected((n) => n * 10 > 100)); // a predicate
    expect(by.get('orders/fragile')).toEqual(expected((n) => n % 5 !== 0)); // a predicate that throws: no match
    expect([...by.get('mail/send')!.values()]).toEqual(Array(MAIL).fill('ok'));

    // The flags reached each worker's manager: liveness 3 heartbeats, the lease on every claim, the
    // default concurrency (a handler's own wins).
    const records = (await readAll(store.url)).flatMap((r) => unbatched(r) as Rec[]);
    const joined = records.filter((r) => r.type === 'worker.joined');
    expect(new Set(joined.map((r) => r.pid)).size).toBe(2);
    expect(new Set(joined.map((r) => r.ttlMs))).toEqual(new Set([2100]));
    const leases = records.filter((r) => r.type.startsWith('claim') && r.leaseMs !== undefined);
    expect(leases.length).toBeGreaterThan(0);
    expect(new Set(leases.map((r) => r.leaseMs))).toEqual(new Set([7000]));
    for (const slot of [1, 2]) {
      const hosted = JSON.parse(readFileSync(join(out, `hosted.${slot}`), 'utf8')) as Record<string, number>;
      expect(hosted).toEqual({ bill: 3, review: 3, fragile: 1, send: 3 });
    }
    // The registration names the predicates (they stay in the process).
    const review = records.find(
      (r) => r.type === 'subscriber.registered' && r.subscriberId === 'orders/review',
    );
    expect(review).toMatchObject({ filter: { expressions: [], operator: 'all', predicates: ['filter'] } });

    run.proc.kill('SIGTERM');
    const end = await run.exited;
    expect(end.code, end.stderr).toBe(0);
    // Worker hooks: onStart first and onShutdown last in each process, onSuccess once per ok attempt.
    const files = readdirSync(out).filter((f) => f.startsWith('hooks.'));
    expect(files).toHaveLength(2);
    let successes = 0;
    for (const f of files) {
      const lines = readFileSync(join(out, f), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('start');
      expect(lines.at(-1)).toBe('shutdown');
      successes += lines.filter((l) => l.startsWith('success ')).length;
    }
    const oks = ['orders/bill', 'orders/review', 'orders/fragile'].flatMap((s) =>
      [...by.get(s)!.values()].filter((v) => v === 'ok'),
    );
    expect(successes).toBe(oks.length);
  });

  it('refuses an empty directory, and TypeScript in a directory without tsx', async () => {
    const empty = join(store.dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'types.d.ts'), 'export {};\n');
    const none = await cli.run(['run', empty, '--store', store.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no \.js\/\.mjs\/\.cjs \(or \.ts under tsx\) module in directory/);

    const ts = await cli.run(['run', HANDLERS, '--store', store.url]);
    expect(ts.code).toBe(2);
    expect(ts.stderr).toMatch(/mail\.ts is TypeScript/);
  });
});
