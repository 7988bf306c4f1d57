import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Position } from '../../engine/position.js';

/**
 * The file that records the log's first retained position once retention removed segments. It is
 * written (durably) before any segment is deleted, so a log whose first segment starts at it lost
 * nothing, and one whose first segment starts later did (`eventy verify` tells the two apart); after a
 * crash mid-compaction, segments before it may remain: they are no longer part of the log, and the next
 * compaction removes them.
 */
export const RETAINED_FILE = 'retained.json';

/** The first retained position: 0 when retention never removed anything. */
export function readRetained(dir: string): Position {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, RETAINED_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  const first = (JSON.parse(text) as { first?: unknown }).first;
  return typeof first === 'number' && Number.isSafeInteger(first) && first >= 0 ? first : 0;
}

/** Records the first retained position durably (see {@link writeDurably}). */
export function writeRetained(dir: string, first: Position, mode: number | undefined): void {
  writeDurably(path.join(dir, RETAINED_FILE), Buffer.from(`${JSON.stringify({ first })}\n`), mode);
}

/**
 * Writes a file so that after a crash it is complete or absent (the old one stays): a temp name, the
 * bytes, fsync, rename, fsync of the directory. The temp name ends in `.<pid>.<random>.tmp`.
 */
export function writeDurably(file: string, data: Uint8Array, mode: number | undefined): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(
    tmp,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
    mode ?? 0o666,
  );
  try {
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    for (let at = 0; at < data.length;) at += fs.writeSync(fd, data, at, data.length - at);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  syncDir(path.dirname(file));
}

/** fsyncs a directory, so that the names created, renamed or removed in it survive a power cut. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A temp file of {@link writeDurably} whose writer is gone (no such process) or that is over an hour old. */
export function staleTemp(file: string, name: string): boolean {
  const m = /\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name);
  if (m?.[1] === undefined) return false;
  try {
    if (Date.now() - fs.statSync(file).mtimeMs > 3_600_000) return true;
    process.kill(Number(m[1]), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
