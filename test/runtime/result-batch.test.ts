import { describe, expect, it } from 'vitest';
import { ResultBatch } from '../../runtime/dispatch/result-batch.js';
import type { ResultItem } from '../../runtime/dispatch/drafts.js';

/** A batch that flushes every result at once (stopping), and what it flushed as "position:attempt". */
function batch(): { batch: ResultBatch; flushed: string[] } {
  const flushed: string[] = [];
  const b = new ResultBatch(
    () => true,
    (items) => flushed.push(...items.map((i) => `${i.eventPosition}:${i.attempt}`)),
  );
  return { batch: b, flushed };
}

const item = (eventPosition: number, attempt: number, status: ResultItem['status'] = 'ok'): ResultItem => ({
  eventId: `e${eventPosition}`,
  eventPosition,
  attempt,
  status,
  durationMs: 0,
});

describe('ResultBatch repeats', () => {
  it('a worker adds one result per event and attempt, whatever path reaches it twice', () => {
    const { batch: b, flushed } = batch();
    b.add(item(5, 0, 'skipped'));
    b.add(item(5, 0, 'skipped'));
    b.add(item(5, 1, 'skipped'));
    expect(flushed).toEqual(['5:0', '5:1']);
  });

  it('drops a repeat of an event and attempt for at least 4,096 results after it, none older', () => {
    const { batch: b, flushed } = batch();
    for (let p = 0; p < 10_000; p++) b.add(item(p, 1));
    expect(flushed).toHaveLength(10_000);
    // The last 4,096 are remembered whatever the generation they are in.
    for (let p = 10_000 - 4_096; p < 10_000; p++) b.add(item(p, 1));
    expect(flushed).toHaveLength(10_000);
    // Results long gone are not remembered for ever (memory stays bounded).
    b.add(item(0, 1));
    expect(flushed.at(-1)).toBe('0:1');
  });

  it('remembers the latest attempt of an event, and forgets it when that attempt runs again', () => {
    const { batch: b, flushed } = batch();
    b.add(item(7, 1));
    for (let p = 100; p < 100 + 4_096; p++) b.add(item(p, 1)); // 7:1 now in the older generation
    b.add(item(7, 2)); // a later attempt: a verdict of its own
    b.add(item(7, 2)); // its repeat
    b.forget(7, 2); // attempt 2 runs again (redriven): its next verdict is new
    b.add(item(7, 2));
    expect(flushed.filter((f) => f.startsWith('7:'))).toEqual(['7:1', '7:2', '7:2']);
  });
});
