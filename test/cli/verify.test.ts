import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatchFold, scanFrames, type StoredRecord, type RecordDraft } from '../../index.js';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { InvariantChecker } from '../../index.js';
import { cliTestbed } from '../support/cli.js';
import { foldWithInvariants } from '../support/log.js';

interface Report {
  ok: boolean;
  records: number;
  segments: number;
  corruptions: {
    segment: string;
    offset: number;
    after: number;
    unreadable: { from: number; to: number } | null;
    message: string;
  }[];
  violations: { kind: string; position: number }[];
}

describe('eventy verify', () => {
  const { cli, store } = cliTestbed();

  /** 300 events in batches of 10, in 4 KiB segments; returns the segment files. */
  async function fill(): Promise<{ base: number; file: string }[]> {
    const s = await openFileStore(store.url, { segmentBytes: 4096 });
    try {
      for (let n = 0; n < 300; n += 10) {
        await s.append(
          Array.from({ length: 10 }, (_, i): RecordDraft => ({
            type: 'event.published',
            queue: 'q',
            eventId: `e${n + i}`,
            payload: { n: n + i, pad: 'p'.repeat(80) },
            headers: {},
          })),
        );
      }
      return await s.segments();
    } finally {
      await s.close();
    }
  }

  it('passes on a clean log, with the records and segments it checked', async () => {
    const segments = await fill();
    const human = await cli.run(['verify', '--store', store.url]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('✓ the log is sound');
    const report = await cli.json<Report>(['verify', '--json', '--store', store.url]);
    expect(report).toMatchObject({
      ok: true,
      records: 300,
      segments: segments.length,
      corruptions: [],
      violations: [],
    });
  });

  it('passes on an empty log', async () => {
    await (await openFileStore(store.url)).close();
    const r = await cli.run(['verify', '--store', store.url]);
    expect(r.code).toBe(0);
  });

  it('finds a byte flipped in the middle of a segment: exit 1 naming the segment, offset and position', async () => {
    const segments = await fill();
    expect(segments.length).toBeGreaterThan(3);
    const damaged = segments[1]!;
    const buf = await readFile(damaged.file);
    const frames = [...scanFrames(buf, damaged.file)].flatMap((f) => (f.kind === 'record' ? [f] : []));
    const frame = frames[Math.floor(frames.length / 2)]!;
    buf[frame.offset + 8 + 20]! ^= 0xff; // inside the CBOR body: the CRC no longer matches
    await writeFile(damaged.file, buf);

    const human = await cli.run(['verify', '--store', store.url]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(basename(damaged.file));
    expect(human.stdout).toContain(`byte offset ${frame.offset}`);
    // Records are read by whole batches (of 10 here): the last good one ends the batch before.
    const lastGood = Math.floor(frame.record.position / 10) * 10 - 1;
    expect(human.stdout).toContain(`after position ${lastGood}`);

    const run = await cli.run(['verify', '--json', '--store', store.url]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.ok).toBe(false);
    expect(report.corruptions).toHaveLength(1);
    expect(report.corruptions[0]).toMatchObject({ offset: frame.offset, after: lastGood });
    const next = segments[2]!.base;
    expect(report.corruptions[0]!.unreadable).toEqual({ from: lastGood + 1, to: next - 1 });
    expect(basename(report.corruptions[0]!.segment)).toBe(basename(damaged.file));
    // It went on with the next segments: every record outside the damaged segment was read.
    const inDamaged = frames.length;
    expect(report.records).toBeGreaterThanOrEqual(300 - inDamaged);
  });

  it('reports every damaged segment, not only the first', async () => {
    const segments = await fill();
    for (const seg of [segments[0]!, segments[2]!]) {
      const buf = await readFile(seg.file);
      const frames = [...scanFrames(buf, seg.file)].flatMap((f) => (f.kind === 'record' ? [f] : []));
      buf[frames[1]!.offset + 8 + 20]! ^= 0x01;
      await writeFile(seg.file, buf);
    }
    const run = await cli.run(['verify', '--json', '--store', store.url]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.corruptions.map((c) => basename(c.segment))).toEqual([
      basename(segments[0]!.file),
      basename(segments[2]!.file),
    ]);
  });
});

describe('verify: the invariant checker', () => {
  const claim = (p: number, w: string, attempt = 1): RecordDraft => ({
    type: 'claim.acquired',
    queue: 'q',
    eventId: 'e',
    eventPosition: 1,
    subscriberId: 'q/s',
    workerId: w,
    attempt,
    leaseMs: 1000 + p,
  });
  const drafts: RecordDraft[] = [
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
    { type: 'event.published', queue: 'q', eventId: 'e', payload: 1, headers: {} },
    claim(2, 'a'),
    claim(3, 'b'), // loses: a holds the lease
    {
      type: 'result.recorded',
      queue: 'q',
      eventId: 'e',
      eventPosition: 1,
      subscriberId: 'q/s',
      workerId: 'b',
      attempt: 1,
      status: 'ok',
      durationMs: 1,
    }, // fenced
    {
      type: 'result.recorded',
      queue: 'q',
      eventId: 'e',
      eventPosition: 1,
      subscriberId: 'q/s',
      workerId: 'a',
      attempt: 1,
      status: 'ok',
      durationMs: 1,
    },
  ];
  const records: StoredRecord[] = drafts.map((d, position) => ({ ...d, v: 1, position, time: 1000 }));

  it('finds nothing wrong in a log the fold handles correctly', () => {
    const checker = foldWithInvariants(records);
    expect(checker.violations).toEqual([]);
    expect(checker.claims).toBe(2);
    expect(checker.results).toBe(2);
  });

  it('names the positions when a fold hands out a second live claim or counts a fenced result', () => {
    const state = dispatchFold.initial();
    const checker = new InvariantChecker();
    for (const r of records) {
      checker.before(r, state);
      dispatchFold.evolve(state, r);
      const item = state.subscribers.get('q/s')?.items.get(1);
      // A broken fold: the losing claim at 3 wins too, and the fenced result at 4 is counted.
      if (r.position === 3 && item) item.claimPosition = 3;
      if (r.position === 4) state.subscribers.get('q/s')!.counts.done++;
      checker.after(r, state);
    }
    // Once the fold went wrong, later results disagree with the model too; the first two name the bugs.
    expect(checker.violations.map((v) => [v.kind, v.position])).toContainEqual(['double-claim', 3]);
    expect(checker.violations.map((v) => [v.kind, v.position])).toContainEqual(['fenced-result-counted', 4]);
    expect(checker.violations[0]).toMatchObject({ kind: 'double-claim', position: 3, related: [2] });
  });
});
