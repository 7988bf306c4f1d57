import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileStore } from '../../adapters/filesystem/index.js';
import { isEventyError } from '../../engine/errors.js';
import { draft } from '../contract/log-store-contract.js';
import { collect } from '../support/log.js';
import { tempDir } from '../support/temp.js';

/** How this process has `file` open right now: the access mode of each descriptor on it. */
function openModes(file: string): ('read' | 'write' | 'read-write')[] {
  const modes: ('read' | 'write' | 'read-write')[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== file) continue;
    const flags = /flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    const access = parseInt(flags ?? '0', 8) & 3;
    modes.push(access === 0 ? 'read' : access === 1 ? 'write' : 'read-write');
  }
  return modes;
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('filesystem store: files of the log', () => {
  it('a handle that only reads opens nothing for writing (a read-only log directory is enough)', async () => {
    const dir = path.join(await tempDir(), 'log');
    {
      await using writer = await openFileStore(`file:${dir}`);
      await writer.append([draft(0), draft(1)]);
    }
    const lock = path.join(dir, 'append.lock');
    await using reader = await openFileStore(`file:${dir}`);
    expect((await collect(reader.read())).length).toBe(2);
    expect(await reader.head()).toBe(2);
    const follow = reader.follow()[Symbol.asyncIterator]();
    await follow.next();
    expect(openModes(lock).every((m) => m === 'read')).toBe(true);
    await follow.return?.();
    // Where the process may not write (not as root, which may write anyway), reading still works.
    if (process.getuid?.() !== 0) {
      for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o444);
      fs.chmodSync(dir, 0o555);
      try {
        await using again = await openFileStore(`file:${dir}`);
        expect((await collect(again.read())).length).toBe(2);
      } finally {
        fs.chmodSync(dir, 0o755);
      }
    }
    // The first append opens the lock file for writing.
    await reader.append([draft(2)]);
    expect(openModes(lock)).toContain('read-write');
  });

  it('refuses a segment or lock file that is a symbolic link, naming it', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'log');
    {
      await using writer = await openFileStore(`file:${dir}`);
      await writer.append([draft(0)]);
    }
    const segment = path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.seg'))!,
    );
    const elsewhere = path.join(root, 'elsewhere.seg');
    fs.renameSync(segment, elsewhere);
    fs.symlinkSync(elsewhere, segment);
    await using store = await openFileStore(`file:${dir}`);
    const refused = await failure(collect(store.read()));
    expect(isEventyError(refused, 'corrupt-record'), refused.message).toBe(true);
    expect(refused.message).toContain(segment);
    expect(refused.message).toMatch(/symbolic link/);

    const lock = path.join(dir, 'append.lock');
    fs.renameSync(lock, path.join(root, 'elsewhere.lock'));
    fs.symlinkSync(path.join(root, 'elsewhere.lock'), lock);
    const appendRefused = await failure(store.append([draft(1)]));
    expect(appendRefused.message).toMatch(/symbolic link/);
    expect(appendRefused.message).toContain(lock);
  });

  it('creates files and directories with the mode asked for (?mode=0600: files 0600, directory 0700)', async () => {
    const dir = path.join(await tempDir(), 'secret', 'log');
    {
      await using store = await openFileStore(`file:${dir}?mode=0600`, { segmentBytes: 256 });
      for (let i = 0; i < 10; i++) await store.append([draft(i)]);
    }
    const files = fs.readdirSync(dir).filter((f) => !f.endsWith('.lock') || f === 'append.lock');
    expect(files.some((f) => f.endsWith('.seg'))).toBe(true);
    for (const f of files) {
      const st = fs.statSync(path.join(dir, f));
      if (st.isFile()) expect([f, (st.mode & 0o777).toString(8)]).toEqual([f, '600']);
    }
    expect((fs.statSync(dir).mode & 0o777).toString(8)).toBe('700');
    await expect(openFileStore(`file:${dir}?mode=0044`)).rejects.toThrow(/mode must be permission bits/);
    await expect(openFileStore(`file:${dir}`, { mode: 0o1777 })).rejects.toThrow(/got: 0o1777/);
  });

  it('appends overlapping across many segment rolls: no append fails on a file closed before its sync', async () => {
    // A segment written and rolled past while a group fsync is in flight is synced by the next one: its
    // descriptor must still be open then (it was closed, and those appends failed with EBADF).
    const dir = path.join(await tempDir(), 'log');
    const store = await openFileStore(`file:${dir}`, { segmentBytes: 512, durability: 'batch' });
    try {
      // Unsynced appends are written in turns of their own while the group fsync of earlier ones is in
      // flight, so a segment rolled away from is written again to the next ones' files meanwhile.
      const appends: Promise<unknown>[] = [];
      for (let n = 0; n < 300; n++) {
        const synced = store.append([draft(n)], { sync: n % 3 === 0 });
        appends.push(synced);
        if (n % 3 !== 0) await synced;
      }
      const settled = await Promise.allSettled(appends);
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      const records = await collect(store.read());
      expect(records.map((r) => r.position)).toEqual(Array.from({ length: 300 }, (_, n) => n));
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(20);
    } finally {
      await store.close();
    }
  });
});
