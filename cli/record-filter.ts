import { ITEM_TYPE, unbatched, type StoredRecord } from '../index.js';

/** What `eventy tail` keeps. Every given criterion must hold. */
export interface RecordFilterOptions {
  /** Queues: records of other queues (and records of no queue) are dropped. Empty: every queue. */
  readonly queues?: readonly string[];
  /**
   * Types, exact (`claim.acquired`) or by family (`claim`, `claim.*`). A batch record counts as the type
   * of its items too: `claim.acquired` and `claim` keep `claims.acquired`, `result…` `results.recorded`.
   */
  readonly types?: readonly string[];
  /** Types left out, as `types` names them (`worker.heartbeat`, `worker`): a record of one is dropped. */
  readonly exclude?: readonly string[];
  /** Subscriber name or id (`bill` or `orders/bill`). */
  readonly subscriber?: string;
  /** An event id: the event, its claims and results, and the events it caused. */
  readonly event?: string;
  /** A correlation id: its events, and their claims and results. */
  readonly correlation?: string;
}

/**
 * Whether a record is of one of `types`: exact (`claim.acquired`) or a family (`claim`, `claim.*`); a
 * batch record is of its items' type too.
 */
function ofTypes(types: readonly string[]): (r: StoredRecord) => boolean {
  const exact = new Set<string>();
  const families: string[] = [];
  for (const t of types) {
    if (t.includes('.') && !t.endsWith('.*')) exact.add(t);
    else families.push(`${t.replace(/\.\*$/, '')}.`);
  }
  const matches = (t: string): boolean => exact.has(t) || families.some((f) => t.startsWith(f));
  return (r) => {
    const item = ITEM_TYPE[r.type];
    return matches(r.type) || (item !== undefined && matches(item));
  };
}

function field(r: StoredRecord, name: string): unknown {
  return (r as Record<string, unknown>)[name];
}

function headersOf(r: StoredRecord): Record<string, unknown> {
  const h = field(r, 'headers');
  return typeof h === 'object' && h !== null ? (h as Record<string, unknown>) : {};
}

/**
 * A stateful predicate over records read in log order: `--event` and `--correlation` follow the events
 * they select to their claims and results, so records must be passed in order and none skipped.
 */
export function recordFilter(o: RecordFilterOptions): (r: StoredRecord) => boolean {
  const queues = o.queues && o.queues.length > 0 ? new Set(o.queues) : undefined;
  const typed = o.types && o.types.length > 0 ? ofTypes(o.types) : undefined;
  const excluded = o.exclude && o.exclude.length > 0 ? ofTypes(o.exclude) : undefined;
  // Event ids selected by --event / --correlation, grown as matching events are published.
  const followed = new Set<string>(o.event === undefined ? [] : [o.event]);
  const tracking = o.event !== undefined || o.correlation !== undefined;
  return (r) => {
    if (tracking) track(r);
    if (queues) {
      const q = field(r, 'queue');
      const qs = field(r, 'queues');
      const inQueue =
        typeof q === 'string' ? queues.has(q) : Array.isArray(qs) && qs.some((x) => queues.has(String(x)));
      if (!inQueue) return false;
    }
    if (typed && !typed(r)) return false;
    if (excluded?.(r)) return false;
    if (o.subscriber !== undefined) {
      const id = field(r, 'subscriberId');
      const subs = field(r, 'subscribers');
      const q = String(field(r, 'queue'));
      const matches = (s: unknown): boolean => s === o.subscriber || s === `${q}/${o.subscriber}`;
      if (!(
        matches(id) ||
        field(r, 'name') === o.subscriber ||
        (Array.isArray(subs) &&
          subs.some((s) => s === o.subscriber || String(s).endsWith(`/${o.subscriber}`)))
      ))
        return false;
    }
    if (tracking) {
      // A batch record concerns every event of its items.
      const ids = unbatched(r).map((x) => field(x, 'eventId'));
      if (!ids.some((id) => typeof id === 'string' && followed.has(id))) return false;
    }
    return true;
  };

  function track(r: StoredRecord): void {
    if (r.type !== 'event.published') return;
    const id = field(r, 'eventId');
    if (typeof id !== 'string') return;
    const h = headersOf(r);
    const byCorrelation = o.correlation !== undefined && h.correlationId === o.correlation;
    const caused = typeof h.causationId === 'string' && followed.has(h.causationId) && o.event !== undefined;
    if (byCorrelation || caused) followed.add(id);
  }
}
