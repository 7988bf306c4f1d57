import { describe, expect, it } from 'vitest';
import { openStore, type StoredRecord, type RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';

function event(queue: string, n: number, headers: Record<string, string> = {}): RecordDraft {
  return { type: 'event.published', queue, eventId: `e-${queue}-${n}`, payload: { n }, headers };
}

describe('eventy tail', () => {
  const { cli, store } = cliTestbed();

  async function append(drafts: RecordDraft[]): Promise<void> {
    const s = await openStore(store.url);
    try {
      await s.append(drafts);
    } finally {
      await s.close();
    }
  }

  it('says why it prints nothing: an unknown type is a usage error, a position past the head a note', async () => {
    await append([event('orders', 0), event('orders', 1)]);
    const typo = await cli.run(['tail', '--type', 'evnt', '--store', store.url]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /unknown record type "evnt": expected a type \(event\.published, .*\) or a family \(event, /,
    );
    const past = await cli.run(['tail', '--from', '999999', '--store', store.url]);
    expect(past.code).toBe(0);
    expect(past.stdout).toBe('');
    expect(past.stderr).toContain(
      'position 999999 is past the last record (the log holds positions below 2)',
    );
    const family = await cli.run(['tail', '--type', 'event', '--type', 'claim.*', '--store', store.url]);
    expect(family.code, family.stderr).toBe(0);
    expect(family.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('--exclude leaves out types (repeatable, comma-separated, by family too); an unknown one is an error', async () => {
    const beat = (workerId: string): RecordDraft => ({
      type: 'worker.heartbeat',
      workerId,
      host: 'h',
      pid: 1,
      queues: ['orders'],
      subscribers: [],
      ttlMs: 6000,
    });
    const claim: RecordDraft = {
      type: 'claims.acquired',
      queue: 'orders',
      subscriberId: 'orders/bill',
      workerId: 'w1',
      leaseMs: 1000,
      items: [{ eventId: 'e-orders-0', eventPosition: 0, attempt: 1 }],
    };
    await append([event('orders', 0), beat('w1'), claim, beat('w2'), event('orders', 1)]);
    const types = async (...args: string[]): Promise<string[]> => {
      const run = await cli.run(['tail', '--json', '--from', '0', ...args, '--store', store.url]);
      expect(run.code, run.stderr).toBe(0);
      return run.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as StoredRecord).type);
    };
    expect(await types('--exclude', 'worker.heartbeat')).toEqual([
      'event.published',
      'claims.acquired',
      'event.published',
    ]);
    // a batch counts as its items' type; a family leaves out all of it
    expect(await types('--exclude', 'worker.heartbeat,claim.acquired')).toEqual([
      'event.published',
      'event.published',
    ]);
    expect(await types('--exclude', 'worker', '--exclude', 'event')).toEqual(['claims.acquired']);
    const typo = await cli.run([
      'tail',
      '--exclude',
      'worker.heartbeat,worker.hartbeat',
      '--store',
      store.url,
    ]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /--exclude: unknown record type "worker\.hartbeat": expected a type \(event\.published, .*worker\.heartbeat.*\) or a family/,
    );
  });

  it('-f --json follows the records another process appends, in order, and stops on SIGTERM', async () => {
    await append([event('orders', 0)]);
    const tail = cli.spawn(['tail', '-f', '--json', '--from', '0', '--store', store.url]);
    const [first] = await tail.waitForLines(1);
    expect((JSON.parse(first!) as StoredRecord).position).toBe(0);

    // The test process is the other writer: its appends reach the follower as they land.
    await append([event('orders', 1), event('billing', 2)]);
    await append([event('orders', 3)]);
    const lines = await tail.waitForLines(4);
    const records = lines.map((l) => JSON.parse(l) as StoredRecord & { eventId: string });
    expect(records.map((r) => r.position)).toEqual([0, 1, 2, 3]);
    expect(records.map((r) => r.eventId)).toEqual(['e-orders-0', 'e-orders-1', 'e-billing-2', 'e-orders-3']);
    expect(records.every((r) => r.type === 'event.published' && typeof r.time === 'number')).toBe(true);

    tail.proc.kill('SIGTERM');
    const end = await tail.exited;
    expect(end.code).toBe(0);
    expect(end.stderr).toBe('');
  });

  it('-f -n 0 prints only what is appended after it started', async () => {
    await append([event('orders', 0), event('orders', 1)]);
    const tail = cli.spawn(['tail', '-f', '-n', '0', '--json', '--store', store.url]);
    // Nothing tells when the follower has read the head, so append until something is printed: it must
    // be one of the new records, never the two from before.
    for (let n = 2; tail.lines.length === 0; n++) {
      await append([event('orders', n)]);
      await Promise.race([tail.waitForLines(1), new Promise((r) => setTimeout(r, 100))]);
    }
    const [line] = await tail.waitForLines(1);
    expect((JSON.parse(line!) as StoredRecord).position).toBeGreaterThanOrEqual(2);
    tail.proc.kill('SIGINT');
    expect((await tail.exited).code).toBe(0);
  });

  it('prints the last n records, filtered by queue, type and correlation', async () => {
    await append([
      event('orders', 0, { correlationId: 'c1' }),
      event('billing', 1, { correlationId: 'c1' }),
      event('orders', 2),
      { type: 'control.interrupt', queue: 'orders' },
      event('orders', 4),
    ]);
    const last2 = await cli.run(['tail', '-n', '2', '--json', '--store', store.url]);
    expect(last2.code).toBe(0);
    expect(jsonRecords(last2.stdout).map((r) => r.position)).toEqual([3, 4]);

    const orders = await cli.run(['tail', 'orders', '--type', 'event', '--json', '--store', store.url]);
    expect(jsonRecords(orders.stdout).map((r) => r.position)).toEqual([0, 2, 4]);

    const correlated = await cli.run(['tail', '--correlation', 'c1', '--json', '--store', store.url]);
    expect(jsonRecords(correlated.stdout).map((r) => r.position)).toEqual([0, 1]);

    const fromTime = await cli.run([
      'tail',
      '--from',
      '2000-01-01T00:00:00Z',
      '--json',
      '--store',
      store.url,
    ]);
    expect(fromTime.stdout.trim().split('\n')).toHaveLength(5);
  });

  it('batch records: one line per item under the batch, kept by the item type and by --event', async () => {
    const shared = { queue: 'orders', subscriberId: 'orders/bill', workerId: 'w1' };
    await append([
      event('orders', 0),
      event('orders', 1),
      {
        type: 'claims.acquired',
        ...shared,
        leaseMs: 30_000,
        items: [0, 1].map((n) => ({ eventId: `e-orders-${n}`, eventPosition: n, attempt: 1 })),
      },
      {
        type: 'results.recorded',
        ...shared,
        items: [
          { eventId: 'e-orders-0', eventPosition: 0, attempt: 1, status: 'ok', durationMs: 2 },
          {
            eventId: 'e-orders-1',
            eventPosition: 1,
            attempt: 1,
            status: 'failed',
            durationMs: 3,
            error: { name: 'Error', message: 'card declined' },
          },
        ],
      },
    ]);
    const human = await cli.run(['tail', '--type', 'result', '--store', store.url]);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/\s3 results\.recorded\s+orders\s+sub=bill worker=w1 items=2$/);
    expect(lines[1]).toMatch(/^ {34}#0 ok event=e-orders-0 attempt=1 took=/);
    expect(lines[2]).toMatch(/^ {34}#1 failed event=e-orders-1 attempt=1 took=.* error=Error: card declined/);

    const claims = await cli.run(['tail', '--type', 'claim.acquired', '--json', '--store', store.url]);
    expect(jsonRecords(claims.stdout).map((r) => r.type)).toEqual(['claims.acquired']);
    const oneEvent = await cli.run(['tail', '--event', 'e-orders-1', '--json', '--store', store.url]);
    expect(jsonRecords(oneEvent.stdout).map((r) => r.position)).toEqual([1, 2, 3]);
  });

  it('human lines: time, position, type and key fields; colour only when asked for', async () => {
    await append([event('orders', 0, { correlationId: 'abc' })]);
    const plain = await cli.run(['tail', '--store', store.url]);
    expect(plain.code).toBe(0);
    const line = plain.stdout.trim();
    expect(line).toMatch(
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\s+0 event\.published\s+orders\s+id=e-orders-0/,
    );
    expect(line).toContain('correlationId=abc');
    expect(line).not.toContain('\u001b[');

    const coloured = await cli.run(['tail', '--store', store.url], { env: { FORCE_COLOR: '1' } });
    expect(coloured.stdout).toContain('\u001b[');
    const noColour = await cli.run(['tail', '--store', store.url], {
      env: { FORCE_COLOR: '1', NO_COLOR: '1' },
    });
    expect(noColour.stdout).not.toContain('\u001b[');
  });
});

/** The records `tail --json` printed, one per line. */
function jsonRecords(stdout: string): StoredRecord[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StoredRecord);
}
