import { formatIdentity, type Continuity, type LogIdentity } from '../../engine/continuity.js';
import { ConflictError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { MetaRow } from './pg-statements.js';

/** SQLSTATE of a statement on a table that does not exist: the log's tables were dropped. */
export function isMissingTable(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === '42P01';
}

/** The identity in the log's row; undefined when the row is gone. */
export function identityOf(meta: MetaRow | undefined): LogIdentity | undefined {
  return meta === undefined ? undefined : { id: meta.id, epoch: meta.epoch };
}

/**
 * Checks that the log's row is still the log this handle knows: the same id and epoch, a head not below
 * `seen` (what the handle had seen when the row was read).
 * @throws LogDivergedError otherwise.
 */
export function checkMeta(
  continuity: Continuity,
  meta: MetaRow | undefined,
  seen: Position,
): asserts meta is MetaRow {
  continuity.checkIdentity(identityOf(meta));
  continuity.checkHead((meta as MetaRow).head, seen);
}

/**
 * Why an append statement returned no row, from the log's row read after it: the log is not the one
 * the handle knows (thrown: `log-diverged`), or the expected head differed (returned: a conflict).
 * @param least the least head the statement accepted (what the handle had seen when it was sent).
 */
export function refusedAppend(
  continuity: Continuity,
  meta: MetaRow | undefined,
  least: Position,
  expected: Position | undefined,
): ConflictError {
  checkMeta(continuity, meta, least);
  if (expected !== undefined) return new ConflictError(expected, meta.head);
  // The row refused the append and then looked right again: the log went back and forth meanwhile.
  return continuity.fail(
    `a head of at least ${least} (${formatIdentity(continuity.identity)})`,
    `an append refused by the log's row (now at head ${meta.head})`,
  );
}
