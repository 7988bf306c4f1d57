import type pg from 'pg';
import { NotFoundError } from '../../engine/errors.js';
import { checkPosition, type Position } from '../../engine/position.js';
import { segmentsToRemove, type CompactPlan, type SegmentSpan } from '../../engine/retention.js';
import { checkSnapshotData, checkSnapshotRef, snapshotRef } from '../../engine/snapshot-ref.js';
import type { RetentionPolicy, SnapshotInfo } from '../../engine/storage.js';
import { partitionBases, type PgNames } from './pg-schema.js';

/** What the retention queries need from their store. */
export interface PgRetentionContext {
  readonly pool: pg.Pool;
  readonly names: PgNames;
  readonly segmentRecords: number;
}

/** A partition holding records, as retention sees it. */
interface Partition extends SegmentSpan {
  readonly base: Position;
}

/** The partitions holding positions `[first, head)`, oldest first, with their bytes (table and index). */
export async function partitions(
  ctx: PgRetentionContext,
  first: Position,
  head: Position,
): Promise<Partition[]> {
  const seg = ctx.segmentRecords;
  const bases = (await partitionBases(ctx.pool, ctx.names)).filter((b) => b < head && b + seg > first);
  if (bases.length === 0) return [];
  const { rows } = await ctx.pool.query<{ bytes: string }>(
    `SELECT pg_total_relation_size(to_regclass(t)) AS bytes FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i`,
    [bases.map((b) => ctx.names.partition(b))],
  );
  return bases.map((base, i) => ({
    base,
    from: Math.max(base, first),
    to: Math.min(base + seg, head),
    bytes: Number(rows[i]?.bytes ?? 0),
  }));
}

/** Log time of the record at `position`. */
async function timeAt(ctx: PgRetentionContext, position: Position): Promise<number> {
  const { rows } = await ctx.pool.query<{ time: string }>(
    `SELECT time FROM ${ctx.names.table} WHERE position = $1`,
    [position],
  );
  return Number(rows[0]?.time ?? 0);
}

/** What a compaction removes (see `segmentsToRemove`); the store drops it with `dropSegmentsBefore`. */
export async function planPgCompaction(
  ctx: PgRetentionContext,
  log: { first: Position; head: Position },
  keepFrom: Position,
  policy: RetentionPolicy | undefined,
): Promise<CompactPlan> {
  const parts = await partitions(ctx, log.first, log.head);
  const headTime = log.head > log.first ? await timeAt(ctx, log.head - 1) : 0;
  const n = await segmentsToRemove(parts, keepFrom, policy, headTime, (i) =>
    timeAt(ctx, (parts[i] as Partition).to - 1),
  );
  const removed = parts.slice(0, n);
  return {
    segments: n,
    bytes: removed.reduce((sum, s) => sum + s.bytes, 0),
    first: removed.at(-1)?.to ?? log.first,
  };
}

export async function putPgSnapshot(
  ctx: PgRetentionContext,
  position: Position,
  data: Uint8Array,
): Promise<SnapshotInfo> {
  checkPosition('position', position);
  checkSnapshotData(data);
  await ctx.pool.query(
    `INSERT INTO ${ctx.names.snapshots} (log, position, data) VALUES ($1, $2, $3)
     ON CONFLICT (log, position) DO UPDATE SET data = EXCLUDED.data, created_at = now()`,
    [ctx.names.log, position, Buffer.from(data.buffer, data.byteOffset, data.length)],
  );
  return { ref: snapshotRef(position), position, bytes: data.length };
}

export async function listPgSnapshots(ctx: PgRetentionContext): Promise<SnapshotInfo[]> {
  const { rows } = await ctx.pool.query<{ position: string; bytes: number }>(
    `SELECT position, octet_length(data) AS bytes FROM ${ctx.names.snapshots} WHERE log = $1 ORDER BY position DESC`,
    [ctx.names.log],
  );
  return rows.map((r) => ({
    ref: snapshotRef(Number(r.position)),
    position: Number(r.position),
    bytes: r.bytes,
  }));
}

export async function getPgSnapshot(ctx: PgRetentionContext, ref: string): Promise<Uint8Array> {
  const position = checkSnapshotRef(ref);
  const { rows } = await ctx.pool.query<{ data: Buffer }>(
    `SELECT data FROM ${ctx.names.snapshots} WHERE log = $1 AND position = $2`,
    [ctx.names.log, position],
  );
  const data = rows[0]?.data;
  if (data === undefined) throw new NotFoundError('snapshot', ref);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export async function deletePgSnapshot(ctx: PgRetentionContext, ref: string): Promise<boolean> {
  const position = checkSnapshotRef(ref);
  const { rowCount } = await ctx.pool.query(
    `DELETE FROM ${ctx.names.snapshots} WHERE log = $1 AND position = $2`,
    [ctx.names.log, position],
  );
  return rowCount === 1;
}
