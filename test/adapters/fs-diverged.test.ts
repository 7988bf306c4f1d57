import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore, type FileStore } from '../../adapters/filesystem/index.js';
import { isEventyError } from '../../engine/errors.js';
import type { StoredRecord, RecordDraft } from '../../engine/records.js';
import { draft } from '../contract/log-store-contract.js';
import { until } from '../support/wait.js';

/** A follower that keeps what it delivered and how it ended. */
function follow(store: FileStore) {
  const state = { seen: [] as StoredRecord[], error: undefined as unknown, ended: false };
  const ac = new AbortController();
  const done = (async () => {
    try {
      for await (const r of store.follow({ signal: ac.signal })) state.seen.push(r);
    } catch (e) {
      state.error = e;
    } finally {
      state.ended = true;
    }
  })();
  return { state, done, stop: () => ac.abort() };
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

const batch = (from: number, n: number): RecordDraft[] =>
  Array.from({ length: n }, (_, i) => draft(from + i));

describe('filesystem store: a log directory removed, replaced or cut under its handles', () => {
  let root: string;
  let dir: string;
  const opened: FileStore[] = [];
  const open = async (at = dir): Promise<FileStore> => {
    const store = await openFileStore(`file:${at}`, { segmentBytes: 4096, pollMs: 20 });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'eventy-fs-diverged-'));
    dir = path.join(root, 'log');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await fs.rm(root, { recursive: true, force: true });
  });

  it('removed and created again: the running appender gets log-diverged, the running follower stops with it', async () => {
    const appender = await open();
    const follower = follow(await open());
    await appender.append(batch(0, 100));
    await until(() => follower.state.seen.length === 100);

    await fs.rm(dir, { recursive: true });
    const refusedGone = await refusal(appender.append(batch(100, 1)));
    expect(isEventyError(refusedGone, 'log-diverged'), String(refusedGone)).toBe(true);
    expect((refusedGone as Error).message).toMatch(/found no identity/);
    const newcomer = await open();
    expect((await newcomer.append(batch(200, 100))).positions[0]).toBe(0);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect(follower.state.seen.length).toBe(100);
    expect(isEventyError(await refusal(appender.append(batch(300, 1))), 'log-diverged')).toBe(true);
    expect(await newcomer.head()).toBe(100);
  });

  it('replaced by another log (a rename over it): appends and follows refuse the other log', async () => {
    const appender = await open();
    const follower = follow(await open());
    await appender.append(batch(0, 10));
    await until(() => follower.state.seen.length === 10);

    const elsewhere = path.join(root, 'other');
    const other = await open(elsewhere);
    await other.append(batch(500, 50));
    await fs.rm(dir, { recursive: true });
    await fs.rename(elsewhere, dir);

    const refused = await refusal(appender.append(batch(10, 1)));
    expect(isEventyError(refused, 'log-diverged'), String(refused)).toBe(true);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
    expect(follower.state.seen.map((r) => r.position)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('restored from a copy taken earlier: the head went back, appends refuse it and the follower stops', async () => {
    const appender = await open();
    const follower = follow(await open());
    await appender.append(batch(0, 10));
    const backup = path.join(root, 'backup');
    await fs.cp(dir, backup, { recursive: true });
    await appender.append(batch(10, 10));
    await until(() => follower.state.seen.length === 20);

    await fs.rm(dir, { recursive: true });
    await fs.rename(backup, dir);

    const refused = await refusal(appender.append(batch(20, 1)));
    expect(isEventyError(refused, 'log-diverged'), String(refused)).toBe(true);
    await until(() => follower.state.ended);
    expect(isEventyError(follower.state.error, 'log-diverged'), String(follower.state.error)).toBe(true);
  });

  it('a last segment deleted: appends refuse to reuse its positions, naming the missing file', async () => {
    const appender = await open();
    for (let i = 0; i < 40; i++) await appender.append(batch(i * 10, 10));
    const segments = await appender.segments();
    expect(segments.length).toBeGreaterThan(2);
    const last = segments.at(-1)!;
    await fs.rm(last.file);
    await fs.rm(last.file.replace(/\.seg$/, '.idx'), { force: true });

    for (const store of [appender, await open()]) {
      const refused = await refusal(store.append(batch(1000, 1)));
      expect(isEventyError(refused, 'corrupt-record'), String(refused)).toBe(true);
      expect((refused as Error).message).toContain(path.basename(last.file));
      expect((refused as Error).message).toMatch(/missing/);
    }
  });
});
