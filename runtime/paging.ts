import { InvalidArgumentError } from '../engine/errors.js';
import { parsePosition, type Position } from '../engine/position.js';
import type { Page, PageOptions } from './types.js';

const MAX_LIMIT = 100;

/** Checks page options: `limit` 1–100 (default 100), `pageId` a position printed by a previous page. */
export function pageStart(options: PageOptions): { start: Position; limit: number } {
  const limit = options.limit ?? MAX_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidArgumentError(
      `limit must be an integer from 1 to ${MAX_LIMIT}, got: ${JSON.stringify(limit)}`,
    );
  }
  const pageId = options.pageId ?? null;
  if (pageId !== null && typeof pageId !== 'string')
    throw new InvalidArgumentError(`pageId must be a string, got: ${JSON.stringify(pageId)}`);
  return { start: pageId === null ? 0 : parsePosition(pageId), limit };
}

/** Pages over items ordered by position: stable and disjoint, `nextPageId` null on the last page. */
export function paginate<I>(
  items: readonly I[],
  options: PageOptions,
  positionOf: (item: I) => Position,
): Page<I> {
  const { start, limit } = pageStart(options);
  const from = items.findIndex((i) => positionOf(i) >= start);
  const slice = from < 0 ? [] : items.slice(from, from + limit + 1);
  const next = slice.length > limit ? slice.pop() : undefined;
  return { items: slice, nextPageId: next === undefined ? null : String(positionOf(next)) };
}
