import fs from 'node:fs';
import path from 'node:path';
import fsExt from 'fs-ext';
import { scanBatches } from '../../engine/codec.js';
import { isEventyError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { StorageFinding } from '../../engine/storage.js';
import {
  readDurable,
  readMeta,
  settledBytes,
  writeDurable,
  writeMeta,
  type DurableMark,
  type LockMeta,
} from './lock-meta.js';
import { readIdentity, writeIdentity } from './log-identity.js';
import { readRetained } from './retained.js';
import { listSegments, LOCK_FILE, openFile, readAt, segmentName } from './segment-files.js';
import { buildIndex, checkEntry, indexName, loadIndex, trimIndex, writeIndex } from './segment-index.js';

/** What one segment holds, as found by reading it. */
interface SegmentScan {
  readonly base: Position;
  readonly file: string;
  readonly size: number;
  /** The next position after its last complete batch; undefined when a corrupt record stopped the scan. */
  readonly end: Position | undefined;
  /** Byte offset after its last complete batch. */
  readonly complete: number;
}

/**
 * Checks a filesystem log's files (read-only): the first segment starts at the first retained position,
 * each segment starts where the one before ends, the segment of the last write is there and holds what
 * `append.lock` says was written, every index entry points at its record. Damaged records are not
 * reported here: reading the log reports them (`eventy verify` does both).
 */
export function checkSegments(dir: string): StorageFinding[] {
  const findings: StorageFinding[] = [];
  const bases = listSegments(dir);
  const { meta, durable } = lockMeta(dir);
  // Retention records the first position it keeps before deleting anything: segments before it that a
  // crashed compaction left are not part of the log (the next compaction removes them).
  const retained = readRetained(dir);
  const chain = bases.filter((_, i) => i === bases.length - 1 || (bases[i + 1] as number) > retained);
  const first = chain[0];
  if (first !== undefined && first > retained) {
    findings.push({
      kind: 'start',
      file: path.join(dir, segmentName(first)),
      message:
        `the first segment starts at position ${first}, but the log's positions start at ${retained}: ` +
        `the segment(s) holding positions ${retained}–${first - 1} are missing`,
      repairable: false,
    });
  }
  const scans = chain.map((base) => scanSegment(dir, base, findings));
  scans.forEach((s, i) => {
    const next = scans[i + 1];
    if (next === undefined || s.end === undefined || s.end === next.base) return;
    findings.push({
      kind: 'gap',
      file: next.file,
      message:
        s.end < next.base
          ? `positions ${s.end}–${next.base - 1} are missing: ${path.basename(s.file)} ends before ` +
            `position ${s.end} and ${path.basename(next.file)} starts at ${next.base}`
          : `${path.basename(next.file)} starts at position ${next.base}, inside ${path.basename(s.file)} ` +
            `(which ends before position ${s.end})`,
      repairable: false,
    });
  });
  if (meta !== undefined) findings.push(...checkTail(dir, meta, durable, scans.at(-1)));
  return findings;
}

/** The last segment against `append.lock`'s record of the last write. */
function checkTail(
  dir: string,
  meta: LockMeta,
  durable: DurableMark | undefined,
  last: SegmentScan | undefined,
): StorageFinding[] {
  if (meta.head < 0) return []; // no write recorded (a new log, or one whose lock file was lost)
  if (last === undefined || meta.base > last.base) {
    return [
      {
        kind: 'missing-segment',
        file: path.join(dir, segmentName(meta.base)),
        message:
          `the segment is missing: ${LOCK_FILE} records a write there, the log's head at ${meta.head}` +
          (last?.end === undefined ? '' : `; the log now ends before position ${last.end}`),
        repairable: false,
      },
    ];
  }
  if (meta.base !== last.base || last.end === undefined) return [];
  const settled = settledBytes(meta, durable, last.base);
  if (last.complete === last.size && last.size >= settled) return [];
  if (last.complete < settled) {
    const lost = last.end < meta.head ? `; positions ${last.end}–${meta.head - 1} are lost` : '';
    return [
      {
        kind: 'cut-tail',
        file: last.file,
        message:
          `bytes were removed from the end: the segment holds complete batches up to byte ${last.complete} ` +
          `(of ${last.size}), but writes up to at least byte ${settled} had completed${lost}`,
        repairable: true,
      },
    ];
  }
  return [
    {
      kind: 'torn-tail',
      file: last.file,
      message:
        `an incomplete batch at byte ${last.complete} (${last.size - last.complete} bytes): ` +
        'a write cut short by a crash; the next append cuts it',
      repairable: true,
    },
  ];
}

/** Reads one segment's batches (noting a bad index) to find where it ends. */
function scanSegment(dir: string, base: Position, findings: StorageFinding[]): SegmentScan {
  const file = path.join(dir, segmentName(base));
  const fd = openFile(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const bad = indexProblem(dir, base, fd, size);
    if (bad !== undefined) {
      findings.push({
        kind: 'bad-index',
        file: path.join(dir, indexName(base)),
        message: bad,
        repairable: true,
      });
    }
    let end: Position | undefined = base;
    let complete = 0;
    try {
      for (let chunk = 8 * 1024 * 1024; complete < size;) {
        const buf = readAt(fd, complete, Math.min(chunk, size - complete));
        let progressed = false;
        for (const item of scanBatches(buf, file, complete)) {
          if (item.kind === 'torn') break;
          end = (item.records.at(-1) as { position: Position }).position + 1;
          complete = item.end;
          progressed = true;
        }
        if (!progressed && buf.length < chunk) break;
        if (!progressed) chunk *= 2;
      }
    } catch (e) {
      if (!isEventyError(e, 'corrupt-record')) throw e;
      end = undefined; // reading the log reports it
    }
    return { base, file, size, end, complete };
  } finally {
    fs.closeSync(fd);
  }
}

/** What is wrong with a segment's index, if anything: its shape, then every entry against its record. */
function indexProblem(dir: string, base: Position, fd: number, size: number): string | undefined {
  const state = loadIndex(dir, base, size);
  if (!state.ok) return `bad index: ${state.problem}`;
  const file = path.join(dir, segmentName(base));
  const wrong = state.entries.find((e) => e.offset > 0 && !checkEntry(fd, file, e));
  return wrong === undefined
    ? undefined
    : `bad index: entry (position ${wrong.position}, offset ${wrong.offset}) does not point at that record`;
}

function lockMeta(dir: string): { meta?: LockMeta; durable?: DurableMark } {
  let fd: number;
  try {
    fd = openFile(path.join(dir, LOCK_FILE), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const meta = readMeta(fd);
    const durable = readDurable(fd);
    return { ...(meta && { meta }), ...(durable && { durable }) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Mends what {@link checkSegments} finds repairable, holding the append lock: rebuilds bad indexes, cuts
 * an incomplete tail at the last complete batch and makes the next writer scan for the head. Cutting
 * bytes of a completed write loses records: the log's epoch is raised then, so running handles that saw
 * them stop with `log-diverged` instead of taking the shorter log for the one they knew.
 */
export function repairSegments(dir: string, fileMode: number | undefined): StorageFinding[] {
  const lockFd = openFile(path.join(dir, LOCK_FILE), 'r+');
  try {
    fsExt.flockSync(lockFd, 'ex');
    const found = checkSegments(dir).filter((f) => f.repairable);
    for (const f of found) {
      if (f.kind === 'bad-index') rebuildIndex(dir, f.file);
      else cutTail(dir, lockFd, f.file);
    }
    if (found.some((f) => f.kind === 'cut-tail')) {
      const now = readIdentity(dir);
      if (now !== undefined)
        writeIdentity(dir, { id: now.identity.id, epoch: now.identity.epoch + 1 }, fileMode);
    }
    return found;
  } finally {
    fs.closeSync(lockFd); // releases the lock
  }
}

function rebuildIndex(dir: string, indexFile: string): void {
  const base = Number(path.basename(indexFile, '.idx'));
  const segment = path.join(dir, segmentName(base));
  const segFd = openFile(segment, 'r');
  const idxFd = openFile(indexFile, 'create');
  try {
    writeIndex(idxFd, buildIndex(segFd, segment, fs.fstatSync(segFd).size));
  } finally {
    fs.closeSync(segFd);
    fs.closeSync(idxFd);
  }
}

function cutTail(dir: string, lockFd: number, segment: string): void {
  const base = Number(path.basename(segment, '.seg'));
  const fd = openFile(segment, 'r+');
  try {
    const { complete } = scanSegment(dir, base, []);
    fs.ftruncateSync(fd, complete);
    fs.fdatasyncSync(fd);
    trimIndex(dir, base, complete);
    // Head unknown: the next writer scans the tail for it.
    writeMeta(lockFd, { base, writeStart: complete, writeEnd: complete, head: -1, lastTime: 0, indexed: -1 });
    writeDurable(lockFd, { base, end: complete }, true);
  } finally {
    fs.closeSync(fd);
  }
}
