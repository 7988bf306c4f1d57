import fs from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../../engine/errors.js';
import { checkPosition, type Position } from '../../engine/position.js';
import {
  checkSnapshotData,
  checkSnapshotRef,
  snapshotRef,
  snapshotRefPosition,
} from '../../engine/snapshot-ref.js';
import type { SnapshotInfo } from '../../engine/storage.js';
import { openFile } from './segment-files.js';
import { staleTemp, syncDir, writeDurably } from './retained.js';

/** The folder beside the segments that holds a log's snapshots. */
export const SNAPSHOTS_DIR = 'snapshots';

/**
 * A filesystem log's snapshots: one file each in `snapshots/`, named by {@link snapshotRef}, written to
 * a temp name, fsynced and renamed, so a crash leaves a snapshot complete or absent. Temp files left by
 * a crashed writer are never listed, and are removed by the next put.
 */
export class FileSnapshots {
  constructor(
    private readonly dir: string,
    private readonly mode: { file: number | undefined; dir: number | undefined },
  ) {}

  get folder(): string {
    return path.join(this.dir, SNAPSHOTS_DIR);
  }

  put(position: Position, data: Uint8Array): SnapshotInfo {
    checkPosition('position', position);
    checkSnapshotData(data);
    if (!fs.existsSync(this.folder)) {
      fs.mkdirSync(this.folder, {
        recursive: true,
        ...(this.mode.dir !== undefined && { mode: this.mode.dir }),
      });
      syncDir(this.dir);
    }
    this.#cleanTemps();
    const ref = snapshotRef(position);
    writeDurably(path.join(this.folder, ref), data, this.mode.file);
    return { ref, position, bytes: data.length };
  }

  list(): SnapshotInfo[] {
    const out: SnapshotInfo[] = [];
    for (const name of this.#names()) {
      const position = snapshotRefPosition(name);
      if (position === undefined) continue;
      try {
        out.push({ ref: name, position, bytes: fs.statSync(path.join(this.folder, name)).size });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // deleted meanwhile
      }
    }
    return out.sort((a, b) => b.position - a.position);
  }

  get(ref: string): Uint8Array {
    checkSnapshotRef(ref);
    let fd: number;
    try {
      fd = openFile(path.join(this.folder, ref), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('snapshot', ref);
      throw e;
    }
    try {
      const buf = fs.readFileSync(fd);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    } finally {
      fs.closeSync(fd);
    }
  }

  delete(ref: string): boolean {
    checkSnapshotRef(ref);
    try {
      fs.unlinkSync(path.join(this.folder, ref));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    syncDir(this.folder);
    return true;
  }

  bytes(): number {
    return this.list().reduce((sum, s) => sum + s.bytes, 0);
  }

  #names(): string[] {
    try {
      return fs.readdirSync(this.folder);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  #cleanTemps(): void {
    for (const name of this.#names()) {
      const file = path.join(this.folder, name);
      if (staleTemp(file, name)) fs.rmSync(file, { force: true });
    }
  }
}
