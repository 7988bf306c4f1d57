import { tokenKey } from '../projections/dispatch/index.js';
import { InvalidArgumentError, NotFoundError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import type { RecordOf } from '../engine/records.js';
import { pageStart } from './paging.js';
import { readPositions } from './query-index.js';
import { caughtUp, collectPage, logReader, timeRange, walk, type QueryContext } from './queue-queries.js';
import type { ClaimFilters, Page, PageOptions, QueueClaim } from './types.js';

export async function getClaim(m: QueryContext, queue: string, claimId: string): Promise<QueueClaim> {
  const [claim] = await batchGetClaims(m, queue, [claimId]);
  if (!claim) throw new NotFoundError('claim', claimId);
  return claim;
}

export async function searchClaims(
  m: QueryContext,
  queue: string,
  o: PageOptions & ClaimFilters,
): Promise<Page<QueueClaim>> {
  pageStart(o);
  await caughtUp(m);
  const inRange = timeRange({ after: o.createdAfter, before: o.createdBefore });
  return collectPage(claimPositions(m, queue, o), o, logReader(m), (r) =>
    inRange(r.time) ? toClaim(r as RecordOf<'token.claimed'>) : undefined,
  );
}

/** Positions of the queue's raw claims made by `workerId` (all workers without it), ascending. */
function claimPositions(m: QueryContext, queue: string, f: ClaimFilters): Position[] {
  const positions: Position[] = [];
  for (const [key, t] of m.views.dispatch.tokens) {
    if (key.startsWith(`${queue}\u0000`) && (f.workerId === undefined || t.workerId === f.workerId))
      positions.push(t.position);
  }
  return positions.sort((a, b) => a - b);
}

/** Raw claims by id, null where this queue has none. */
export async function batchGetClaims(
  m: QueryContext,
  queue: string,
  ids: readonly string[],
): Promise<(QueueClaim | null)[]> {
  const list: unknown = ids;
  if (!Array.isArray(list) || !ids.every((id) => typeof id === 'string')) {
    throw new InvalidArgumentError(`ids must be an array of claim ids, got: ${JSON.stringify(ids)}`);
  }
  await caughtUp(m);
  const positions = ids.map((id) => m.views.dispatch.tokens.get(tokenKey(queue, id))?.position);
  const records = await readPositions(
    m.store,
    m.views.held,
    positions.filter((p) => p !== undefined),
  );
  return positions.map((p) => {
    const r = p === undefined ? undefined : records.get(p);
    return r ? toClaim(r as RecordOf<'token.claimed'>) : null;
  });
}

/** How many raw claims of the queue match `f`. */
export async function countClaims(m: QueryContext, queue: string, f: ClaimFilters): Promise<number> {
  await caughtUp(m);
  const positions = claimPositions(m, queue, f);
  if (f.createdAfter === undefined && f.createdBefore === undefined) return positions.length;
  const inRange = timeRange({ after: f.createdAfter, before: f.createdBefore });
  let n = 0;
  for await (const [, r] of walk(positions, 0, logReader(m))) if (inRange(r.time)) n++;
  return n;
}

function toClaim(r: RecordOf<'token.claimed'>): QueueClaim {
  return {
    claimId: r.claimId,
    queue: r.queue,
    workerId: r.workerId,
    ...(r.data === undefined ? {} : { data: r.data }),
    createdAt: r.time,
    position: r.position,
  };
}
