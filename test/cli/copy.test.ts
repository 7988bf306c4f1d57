import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { foldAll, openStore, viewsFold, type RecordDraft } from '../../index.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { Cli, ensureBuilt, tempStore } from '../support/cli.js';
import { readAll } from '../support/log.js';

/** A log with events, a subscriber, claims, results and a worker: `count` events, half of them done. */
function drafts(count: number, from = 0): RecordDraft[][] {
  const batches: RecordDraft[][] = [];
  if (from === 0) {
    batches.push([
      {
        type: 'subscriber.registered',
        queue: 'q',
        subscriberId: 'q/s',
        name: 's',
        delivery: 'competing',
        retry: { limit: 0, minBackoff: 0, maxBackoff: 0 },
        timeout: 0,
        startPosition: 0,
      },
      {
        type: 'worker.joined',
        workerId: 'w',
        host: 'h',
        pid: 1,
        queues: ['q'],
        subscribers: ['q/s'],
        ttlMs: 60_000,
      },
    ]);
  }
  for (let n = from; n < from + count; n++) {
    batches.push([
      {
        type: 'event.published',
        queue: 'q',
        eventId: `e${n}`,
        payload: { n, bytes: new Uint8Array([n % 256, 1]) },
        headers: {},
      },
    ]);
  }
  return batches;
}

interface Copied {
  from: number;
  to: number;
  copied: number;
}

describe('eventy export / import', () => {
  const cli = new Cli();
  let a: Awaited<ReturnType<typeof tempStore>>;
  let b: Awaited<ReturnType<typeof tempStore>>;

  beforeAll(() => ensureBuilt());
  beforeEach(async () => {
    [a, b] = await Promise.all([tempStore(), tempStore()]);
  });
  afterEach(async () => {
    await cli.killAll();
    await Promise.all([a.cleanup(), b.cleanup()]);
  });

  async function append(url: string, batches: RecordDraft[][]): Promise<void> {
    const s = await openStore(url);
    try {
      for (const batch of batches) {
        const { positions } = await s.append(batch);
        // Claim and finish every other event, so the claims view has open and finished work.
        const first = batch[0]!;
        if (first.type === 'event.published' && positions[0]! % 2 === 0) {
          const base = {
            queue: 'q',
            eventId: first.eventId as string,
            eventPosition: positions[0]!,
            subscriberId: 'q/s',
            workerId: 'w',
            attempt: 1,
          };
          await s.append([{ type: 'claim.acquired', ...base, leaseMs: 60_000 }]);
          if (positions[0]! % 4 === 0)
            await s.append([{ type: 'result.recorded', ...base, status: 'ok', durationMs: 1 }]);
        }
      }
    } finally {
      await s.close();
    }
  }

  async function expectSameLog(source: string, target: string): Promise<void> {
    const [x, y] = await Promise.all([readAll(source), readAll(target)]);
    expect(y).toEqual(x);
    expect(foldAll(viewsFold, y)).toEqual(foldAll(viewsFold, x));
  }

  it('file → file: the records and the folded views are identical, and a second run copies only what is new', async () => {
    await append(a.url, drafts(30));
    const first = await cli.json<Copied>(['export', '--to', b.url, '--json', '--store', a.url]);
    const head = (await readAll(a.url)).length;
    expect(first).toMatchObject({ from: 0, to: head, copied: head });
    await expectSameLog(a.url, b.url);

    const again = await cli.json<Copied>(['export', '--to', b.url, '--json', '--store', a.url]);
    expect(again).toMatchObject({ from: head, to: head, copied: 0 });

    await append(a.url, drafts(10, 30));
    const more = await cli.run(['export', '--to', b.url, '--store', a.url]);
    expect(more.code, more.stderr).toBe(0);
    const now = (await readAll(a.url)).length;
    expect(more.stdout.trim()).toBe(
      `copied ${now - head} records (positions ${head}–${now - 1}) from ${a.url} to ${b.url}`,
    );
    await expectSameLog(a.url, b.url);
  });

  it('import resumes from the target head: a copy cut short is completed', async () => {
    await append(a.url, drafts(20));
    const records = await readAll(a.url);
    const partial = await openStore(b.url);
    await partial.replicate(records.slice(0, 7)); // an earlier copy that stopped at position 7
    await partial.close();
    const out = await cli.json<Copied>(['import', '--from', a.url, '--json', '--store', b.url]);
    expect(out).toMatchObject({ from: 7, to: records.length, copied: records.length - 7 });
    await expectSameLog(a.url, b.url);
  });

  it('refuses a target that is not a copy of the source', async () => {
    await append(a.url, drafts(5));
    await append(b.url, drafts(3, 100));
    const r = await cli.run(['export', '--to', b.url, '--store', a.url]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^eventy: .* is not a copy of .*: their records at position \d+ differ$/);
  });

  it('file → redis → file round-trips', async () => {
    const prefix = uniquePrefix();
    const redis = `${REDIS_URL}/?prefix=${prefix}&segmentRecords=16`;
    try {
      await append(a.url, drafts(40));
      const out = await cli.json<Copied>(['export', '--to', redis, '--json', '--store', a.url]);
      expect(out.copied).toBe((await readAll(a.url)).length);
      await expectSameLog(a.url, redis);
      const back = await cli.json<Copied>(['import', '--from', redis, '--json', '--store', b.url]);
      expect(back.copied).toBe(out.copied);
      await expectSameLog(a.url, b.url);
      // And the CLI reads the Redis copy like any other log.
      const verify = await cli.run(['verify', '--store', redis]);
      expect(verify.code, verify.stdout).toBe(0);
    } finally {
      await deletePrefix(prefix);
    }
  });
});
