import type { StoredRecord } from './records.js';

/**
 * The records of chunks one by one: every store's `read()` and `follow()` are their chunked forms seen
 * through this. Breaking out of the loop closes the chunked iterator (and its file or connection).
 */
export async function* eachRecord(
  chunks: AsyncIterable<readonly StoredRecord[]>,
): AsyncGenerator<StoredRecord> {
  for await (const chunk of chunks) for (const r of chunk) yield r;
}
