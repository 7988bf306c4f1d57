import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import type { StoredRecord } from '../../engine/records.js';
import { tempDir } from '../support/temp.js';
import { Children, handles, leakedSince } from '../support/children.js';

const WRITERS = 4;
const PER_WRITER = 5_000;
const TOTAL = WRITERS * PER_WRITER;
const FOLLOWERS = 2;
const SEGMENT_BYTES = 256 * 1024;
/** Mixed policies: group commit, fsync per append and none share one log. */
const DURABILITY = ['batch', 'always', 'never', 'batch'] as const;

interface Entry {
  readonly position: number;
  readonly writer: number;
  readonly seq: number;
}

describe('filesystem store: several processes on one log', () => {
  const children = new Children();
  let dir = '';
  let before: Record<string, number> = {};

  beforeEach(async () => {
    before = handles();
    dir = await tempDir('eventy-mp-');
  });

  afterEach(async () => {
    await children.killAll();
    expect(leakedSince(before), 'no child, pipe, watcher or timer left behind').toEqual({});
  });

  it('4 writers and 2 followers: every record once, one order for all, dense positions', async () => {
    const url = `file:${join(dir, 'log')}`;
    // Create the log before the race so the children only ever open an existing one.
    const creator = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
    await creator.close();

    const followers = Array.from({ length: FOLLOWERS }, (_, i) => {
      const out = join(dir, `follower-${i}.txt`);
      return { out, child: children.spawn('fs-follower', [url, String(TOTAL), out]) };
    });
    await Promise.all(followers.map((f) => f.child.waitForLine((l) => l === 'ready')));

    const writers = Array.from({ length: WRITERS }, (_, w) =>
      children.spawn(
        'fs-writer',
        [url, String(w), String(PER_WRITER), String(SEGMENT_BYTES), DURABILITY[w]!],
        {
          stdin: true,
        },
      ),
    );
    // Start them together, so their appends interleave rather than run one after another.
    await Promise.all(writers.map((c) => c.waitForLine((l) => l === 'ready')));
    for (const c of writers) c.proc.stdin?.end('go\n');
    for (const child of [...writers, ...followers.map((f) => f.child)]) {
      const exit = await child.exited;
      expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
    }

    const store = await openFileStore(url, { segmentBytes: SEGMENT_BYTES });
    let final: StoredRecord[];
    let segmentCount: number;
    try {
      final = [];
      for await (const r of store.read()) final.push(r);
      segmentCount = (await store.segments()).length;
      expect(await store.head()).toBe(TOTAL);
    } finally {
      await store.close();
    }
    expect(segmentCount, 'the run should have rolled segments').toBeGreaterThan(2);

    const entries: Entry[] = final.map((r) => {
      const p = (r as unknown as { payload: { writer: number; seq: number } }).payload;
      return { position: r.position, writer: p.writer, seq: p.seq };
    });
    expect(entries.map((e) => e.position)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));

    // Exactly once, and each writer's records in its own order.
    const nextSeq = new Array<number>(WRITERS).fill(0);
    for (const e of entries) {
      expect(e.seq, `writer ${e.writer} at position ${e.position}`).toBe(nextSeq[e.writer]);
      nextSeq[e.writer] = e.seq + 1;
    }
    expect(nextSeq).toEqual(new Array<number>(WRITERS).fill(PER_WRITER));

    // A batch is atomic: its records are contiguous.
    const lastBatchAt = new Map<string, number>();
    for (const r of final) {
      const p = (r as unknown as { payload: { writer: number; batch: number } }).payload;
      const key = `${p.writer}/${p.batch}`;
      const prev = lastBatchAt.get(key);
      if (prev !== undefined) expect(r.position, `batch ${key}`).toBe(prev + 1);
      lastBatchAt.set(key, r.position);
    }

    // Shown, not asserted (timing decides): how often the log switched from one writer to another.
    const switches = entries.filter((e, i) => i > 0 && e.writer !== entries[i - 1]!.writer).length;
    console.info(`fs-multiprocess: ${segmentCount} segments, ${switches} writer switches in the log`);

    const expected = entries.map((e) => `${e.position} ${e.writer} ${e.seq}`);
    for (const f of followers) {
      const seen = (await readFile(f.out, 'utf8')).trimEnd().split('\n');
      expect(seen.length).toBe(TOTAL);
      // Compare as one string: a 20,000-element diff is unreadable, the first mismatch is what matters.
      const firstDiff = seen.findIndex((line, i) => line !== expected[i]);
      expect(
        firstDiff,
        `follower differs at ${firstDiff}: ${seen[firstDiff]} vs ${expected[firstDiff]}`,
      ).toBe(-1);
    }
  });
});
