import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createQueueManager, openStore, type RecordDraft } from '../../index.js';
import { cliTestbed } from '../support/cli.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { tempDir } from '../support/temp.js';

function event(n: number): RecordDraft {
  return {
    type: 'event.published',
    queue: 'orders',
    eventId: `event-${String(n).padStart(4, '0')}`,
    payload: { n, pad: 'x'.repeat(40) },
    headers: {},
  };
}

/** `eventy stats --json` without what depends on when it ran or how the records are laid out in segments. */
function statsOf(stdout: string): unknown {
  const { time: _time, ...rest } = JSON.parse(stdout) as {
    time: number;
    history: { bytes?: number; segments?: number; newestSnapshot?: { ageMs?: number } };
  };
  delete rest.history.newestSnapshot?.ageMs;
  delete rest.history.bytes;
  delete rest.history.segments;
  return rest;
}

describe('eventy export and import of a log whose older records retention removed', () => {
  const { cli, store } = cliTestbed();
  // Small segments, so that a few records fill several.
  const url = (): string => `${store.url}?segmentBytes=1024`;

  async function append(from: number, n: number): Promise<void> {
    const s = await openStore(url());
    try {
      for (let i = from; i < from + n; i += 4) await s.append([0, 1, 2, 3].map((k) => event(i + k)));
    } finally {
      await s.close();
    }
  }

  async function truncated(): Promise<{ snapshot: number; first: number }> {
    await append(0, 60);
    const snap = await cli.run(['snapshot', '--json', '--store', url()]);
    expect(snap.code).toBe(0);
    const done = await cli.run(['compact', '--retention-bytes', '0B', '--json', '--store', url()]);
    expect(done.code).toBe(0);
    const { first } = JSON.parse(done.stdout) as { first: number };
    expect(first).toBeGreaterThan(0);
    return { snapshot: (JSON.parse(snap.stdout) as { position: number }).position, first };
  }

  async function stats(storeUrl: string): Promise<unknown> {
    const run = await cli.run(['stats', '--json', '--store', storeUrl]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return statsOf(run.stdout);
  }

  it('export copies the newest snapshot and the retained records; the copy starts where the source does', async () => {
    const { snapshot, first } = await truncated();
    const copy = `file:${path.join(await tempDir(), 'copy')}`;
    const out = await cli.run(['export', '--json', '--store', url(), '--to', copy]);
    expect(out.stderr).not.toMatch(/truncated/);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ from: first, to: 61, copied: 61 - first });
    expect(await stats(copy)).toEqual(await stats(url()));

    const m = await createQueueManager({ store: copy, fold: 'eager', snapshotEvery: 0 });
    try {
      expect(m.inspect().startedFrom).toBe(snapshot);
      expect(await m.store.first()).toBe(first);
    } finally {
      await m.close();
    }

    // A second run copies only what is new.
    await append(60, 8);
    const again = await cli.run(['export', '--json', '--store', url(), '--to', copy]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ from: 61, to: 69, copied: 8 });
    expect(await stats(copy)).toEqual(await stats(url()));
  });

  it('import does the same from the other side', async () => {
    const { first } = await truncated();
    const copy = `file:${path.join(await tempDir(), 'copy')}`;
    const out = await cli.run(['import', '--json', '--store', copy, '--from', url()]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ from: first, copied: 61 - first });
    expect(await stats(copy)).toEqual(await stats(url()));
    const verify = await cli.run(['verify', '--store', copy]);
    expect(verify.code).toBe(0);
  });

  it('export into Redis, whose logs start at 0 only, is refused with the reason and leaves no snapshot there', async () => {
    const { first } = await truncated();
    const prefix = uniquePrefix();
    const target = `${REDIS_URL}?prefix=${prefix}`;
    try {
      const out = await cli.run(['export', '--store', url(), '--to', target]);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toMatch(new RegExp(`cannot start a log at position ${first} .*retention removed`));
      const s = await openStore(target);
      try {
        expect(await s.listSnapshots()).toEqual([]);
        expect(await s.head()).toBe(0);
      } finally {
        await s.close();
      }
    } finally {
      await deletePrefix(prefix);
    }
  });

  it('inspect of an event whose records were removed says only that it is not found', async () => {
    await truncated();
    const gone = await cli.run(['inspect', 'event-0001', '--store', url()]);
    expect(gone.code).toBe(1);
    expect(gone.stderr.trim()).toBe('eventy: event not found: event-0001');
    const kept = await cli.run(['inspect', 'event-0059', '--store', url()]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/event event-0059 in queue orders, position 59/);
    expect(existsSync(store.dir)).toBe(true);
  });
});
