import { WorkerCrashedError } from '../../engine/errors.js';
import type { RecordDraft } from '../../engine/records.js';
import { backoff, mayRetry, type ResolvedSubscribe } from '../subscribe-options.js';
import type { DeadClaim } from './competing-scan.js';
import type { EventRecord } from './context.js';
import { reportDrafts, resultItem, type DraftSource, type ResultItem } from './drafts.js';

/** A claim whose worker died, to report: the event and the dead claim. */
export interface DeathReport {
  readonly record: EventRecord;
  readonly attempt: number;
  readonly died: DeadClaim;
}

/**
 * Reports of workers' deaths as result records: for each claim a dead worker held, a `failed` result of
 * that worker's attempt with a {@link WorkerCrashedError}, recorded by this worker (`reportedBy`), retried
 * per the subscriber's policy like any failure (the crash counts as an attempt), dead past its limit.
 * One record per dead worker. The fold takes the first report of an attempt and rejects the others, so
 * live workers that notice the same death at once never count it twice.
 */
export function deathReportDrafts(
  source: DraftSource,
  options: ResolvedSubscribe,
  reports: readonly DeathReport[],
  drafts: RecordDraft[],
): void {
  const byWorker = new Map<string, ResultItem[]>();
  for (const { record, attempt, died } of reports) {
    const error = new WorkerCrashedError(died.workerId, died.death.how);
    const retryable = died.failures + 1 <= options.retry.limit && mayRetry(options.retryOn, error);
    const retryAt = retryable ? Date.now() + backoff(options.retry, died.failures + 1) : undefined;
    // No stack: it would be this process's, not the dead one's.
    const info = { name: error.name, message: error.message };
    const item = resultItem(record.eventId, record.position, attempt, 'failed', 0, undefined, info, retryAt);
    const items = byWorker.get(died.workerId);
    if (items) items.push(item);
    else byWorker.set(died.workerId, [item]);
  }
  for (const [workerId, items] of byWorker) reportDrafts(source, workerId, items, drafts);
}
