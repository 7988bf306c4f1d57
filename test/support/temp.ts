import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temporary directory and its removal, for directories that outlive one test. */
export async function makeTempDir(
  prefix = 'eventy-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const dirs: (() => Promise<void>)[] = [];

/** A fresh temporary directory, removed after the test (even a failing one). */
export async function tempDir(prefix = 'eventy-'): Promise<string> {
  const { dir, cleanup } = await makeTempDir(prefix);
  dirs.push(cleanup);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((cleanup) => cleanup()));
});
