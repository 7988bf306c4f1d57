import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { Continuity, type LogIdentity } from '../../engine/continuity.js';
import { writeMeta } from './lock-meta.js';
import { createFile, LOCK_FILE, listSegments, openFile, segmentName } from './segment-files.js';

/** The file that holds a log's identity, written once at creation (and anew by a repair). */
export const IDENTITY_FILE = 'identity.json';

/** Modes for the files and directories a log creates; undefined: the process's umask decides. */
export interface CreateModes {
  readonly file: number | undefined;
  readonly dir: number | undefined;
}

/** The identity in the log's directory, and the inode it was read from; undefined when there is none. */
export function readIdentity(dir: string): { identity: LogIdentity; ino: number } | undefined {
  let fd: number;
  try {
    fd = openFile(path.join(dir, IDENTITY_FILE), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const parsed = JSON.parse(fs.readFileSync(fd, 'utf8')) as Partial<LogIdentity>;
    if (typeof parsed.id !== 'string' || typeof parsed.epoch !== 'number') return undefined;
    return { identity: { id: parsed.id, epoch: parsed.epoch }, ino: fs.fstatSync(fd).ino };
  } catch {
    return undefined; // unreadable: no identity, reported as such by the checks
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes an identity file in one rename, so readers see the old one or the new one, never half. */
export function writeIdentity(dir: string, identity: LogIdentity, mode: number | undefined): void {
  const tmp = path.join(dir, `${IDENTITY_FILE}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${JSON.stringify({ ...identity, created: new Date().toISOString() })}\n`, {
    mode: mode ?? 0o666,
    flag: 'w',
  });
  if (mode !== undefined) fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, path.join(dir, IDENTITY_FILE));
}

/**
 * Makes sure the directory holds a log: the first segment, the lock file and the identity, created
 * once even when several processes race to create the log. A complete log is not written to (readers
 * open logs in read-only directories).
 */
export async function ensureLog(dir: string, modes: CreateModes): Promise<void> {
  const complete = (): boolean => fs.existsSync(path.join(dir, LOCK_FILE)) && readIdentity(dir) !== undefined;
  if (fs.existsSync(dir) && complete()) return;
  fs.mkdirSync(dir, { recursive: true, ...(modes.dir === undefined ? {} : { mode: modes.dir }) });
  if (modes.dir !== undefined) fs.chmodSync(dir, modes.dir);
  const release = await lockfile.lock(dir, {
    realpath: false,
    lockfilePath: path.join(dir, 'create.lock'),
    retries: { retries: 50, minTimeout: 10, maxTimeout: 100 },
  });
  try {
    if (listSegments(dir).length === 0) fs.closeSync(createFile(path.join(dir, segmentName(0)), modes.file));
    const lockPath = path.join(dir, LOCK_FILE);
    if (!fs.existsSync(lockPath)) {
      const fd = createFile(lockPath, modes.file);
      // head unknown (-1): the first writer scans, which also covers a log whose lock file was lost
      writeMeta(fd, {
        base: listSegments(dir).at(-1) ?? 0,
        writeStart: 0,
        writeEnd: 0,
        head: -1,
        lastTime: 0,
        indexed: -1,
      });
      fs.closeSync(fd);
    }
    // A log made before identities existed gets one now; its handles opened from here on share it.
    if (readIdentity(dir) === undefined) writeIdentity(dir, { id: randomUUID(), epoch: 1 }, modes.file);
  } finally {
    await release();
  }
}

/**
 * The continuity checks of one filesystem store handle: the identity file is the one read at open (an
 * inode that changed is read again and compared), and the lock file the appender holds is still the
 * log's. A directory removed, or replaced by another log or by a copy, fails them.
 */
export class FileLogGuard {
  readonly continuity: Continuity;
  #ino: number;

  constructor(
    readonly dir: string,
    found: { identity: LogIdentity; ino: number },
  ) {
    this.continuity = new Continuity(dir, found.identity);
    this.#ino = found.ino;
  }

  /** @throws LogDivergedError when the identity file is gone or holds another identity. */
  check(): void {
    let ino: number;
    try {
      ino = fs.statSync(path.join(this.dir, IDENTITY_FILE)).ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.continuity.checkIdentity(undefined);
      return;
    }
    if (ino === this.#ino) return;
    const now = readIdentity(this.dir);
    this.continuity.checkIdentity(now?.identity);
    this.#ino = now?.ino ?? ino;
  }

  /** @throws LogDivergedError when `fd` (the appender's lock file) is no longer the log's lock file. */
  checkLockFile(fd: number): void {
    const held = fs.fstatSync(fd).ino;
    let current: number | undefined;
    try {
      current = fs.statSync(path.join(this.dir, LOCK_FILE)).ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (current !== held) {
      this.continuity.fail(
        `the lock file ${LOCK_FILE} opened with the log (inode ${held})`,
        current === undefined ? 'no lock file' : `another lock file (inode ${current})`,
      );
    }
  }
}
