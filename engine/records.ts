import type { Position } from './position.js';

/** The record format version written by this release. Readers accept this and older versions. */
export const RECORD_VERSION = 1;

/** Fields the log assigns at append: never set by the caller. */
export interface Stamped {
  /** Format version of the record. */
  readonly v: number;
  /** Place in the log, assigned by the store. */
  readonly position: Position;
  /** Log time in ms since the epoch, assigned by the store, never decreasing within a log. */
  readonly time: number;
}

/** Standard headers of an event; user headers sit beside them. */
export interface EventHeaders {
  readonly correlationId?: string;
  readonly causationId?: string;
  /** Idempotency key: a second publish with the same key returns the first event. */
  readonly key?: string;
  readonly [name: string]: string | undefined;
}

/** Serialisable error carried by results. */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly limit: number;
  readonly minBackoff: number;
  readonly maxBackoff: number;
  /** Error names that may be retried; absent means every error. */
  readonly retryOn?: readonly string[];
}

/**
 * A subscriber's filter as registered: its JMESPath expressions, and for the predicate functions it
 * also has (applied in the worker's process only: a function cannot be stored) their names, so the log
 * says that part of the filter is code (`(anonymous)` for an unnamed one).
 */
export interface FilterSpec {
  readonly expressions: readonly string[];
  readonly operator: 'all' | 'any';
  readonly predicates?: readonly string[];
}

export type Delivery = 'competing' | 'broadcast';
export type ResultStatus = 'ok' | 'failed' | 'timeout' | 'skipped';

export interface EventPublished {
  readonly type: 'event.published';
  readonly queue: string;
  readonly eventId: string;
  readonly payload: unknown;
  readonly headers: EventHeaders;
  /** Absolute log time before which the event is held (schedule / `at`). */
  readonly availableAt?: number;
  /** Held for this many ms after the record's log time (`delay`). */
  readonly delay?: number;
  readonly priority?: number;
  /** With a `key`: how long (ms of log time) the key names this event; default {@link KEY_TTL_MS}. */
  readonly keyTtl?: number;
}

/** How long an idempotency key names its first event by default: 24 hours of log time. */
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;

export interface SubscriberRegistered {
  readonly type: 'subscriber.registered';
  readonly queue: string;
  readonly subscriberId: string;
  readonly name: string;
  readonly filter?: FilterSpec;
  readonly delivery: Delivery;
  readonly retry: RetryPolicy;
  readonly timeout: number;
  /** Events before this position are not delivered to the subscriber. */
  readonly startPosition: Position;
  /** At most `max` claims granted per `perMs` of log time, across all its workers (competing only). */
  readonly rateLimit?: RateLimit;
}

/** A subscriber's rate limit: the fold grants at most `max` claims within any `perMs` of log time. */
export interface RateLimit {
  readonly max: number;
  readonly perMs: number;
}

export interface SubscriberDeleted {
  readonly type: 'subscriber.deleted';
  readonly queue: string;
  readonly subscriberId: string;
}

/** One event's part of a claim or a result. */
export interface ClaimItem {
  readonly eventId: string;
  /** Position of the event's `event.published` record: claims and results key on it. */
  readonly eventPosition: Position;
  readonly attempt: number;
}

interface ClaimFields extends ClaimItem {
  readonly queue: string;
  readonly subscriberId: string;
  readonly workerId: string;
  /**
   * Set only on the single records {@link unbatched} makes of a batch record: the item's index in it.
   * Such a record shares its batch's position and time.
   */
  readonly item?: number;
}

export interface ClaimAcquired extends ClaimFields {
  readonly type: 'claim.acquired';
  /** The lease runs until the record's log time plus this many ms. */
  readonly leaseMs: number;
}

export interface ClaimExtended extends ClaimFields {
  readonly type: 'claim.extended';
  readonly leaseMs: number;
}

export interface ClaimReleased extends ClaimFields {
  readonly type: 'claim.released';
  readonly reason?: string;
}

/**
 * A worker's claim on events not yet published: its next `slots` free slots for a competing subscriber.
 * Each event of the queue folded while the reservation lives (log time before `time + ttlMs`),
 * dispatchable at once (no delay) and not a keyed twin, is bound to a reserving worker as its first
 * attempt — as if that worker's `claim.acquired` had been appended right before it, with the event's
 * position as the fencing token and a lease of `leaseMs` from the event's time. The worker runs it as
 * soon as its fold has the event: one trip through the log instead of two. `slots` add to those still
 * unbound; every reservation record renews the expiry (`slots: 0` only renews, `ttlMs: 0` cancels), as
 * does a `worker.heartbeat` of the worker naming the subscriber in its `renews`.
 * Several reserving workers: each event goes to the one with the most slots left, the earliest
 * reservation on a tie.
 */
export interface ClaimReserved {
  readonly type: 'claim.reserved';
  readonly queue: string;
  readonly subscriberId: string;
  readonly workerId: string;
  readonly slots: number;
  readonly leaseMs: number;
  readonly ttlMs: number;
}

/** Eventy's raw claim: an exclusive named token, true for the first creator ever. */
export interface TokenClaimed {
  readonly type: 'token.claimed';
  readonly queue: string;
  readonly claimId: string;
  readonly workerId: string;
  readonly data?: unknown;
}

/** What an attempt ended in. */
export interface ResultOutcome {
  readonly status: ResultStatus;
  readonly details?: unknown;
  readonly error?: ErrorInfo;
  /** Log time of the next attempt, when another one follows. */
  readonly retryAt?: number;
  readonly durationMs: number;
}

export interface ResultRecorded extends ClaimFields, ResultOutcome {
  readonly type: 'result.recorded';
  /**
   * Set when another worker recorded the result for `workerId`, whose process died holding the claim
   * (a `failed` result with a `WorkerCrashedError`): the id of the worker that recorded it. Such a
   * result counts when `workerId` held the attempt's claim and was dead by then (left, or no heartbeat
   * for its liveness TTL); the first in log order for an attempt wins. Absent in records before it.
   */
  readonly reportedBy?: string;
}

/**
 * The most items a batch record may carry: a result's reference ({@link resultRef}) packs the item
 * index below this.
 */
export const MAX_BATCH_ITEMS = 1024;

/**
 * Claims of one worker for one subscriber taken together: one record instead of one per event, which
 * every process folds at a fraction of the cost. Each item is folded exactly as a `claim.acquired` of
 * its own with the batch's position (the fencing token) and time, in item order.
 */
export interface ClaimsAcquired {
  readonly type: 'claims.acquired';
  readonly queue: string;
  readonly subscriberId: string;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly items: readonly ClaimItem[];
}

/** Results of one worker for one subscriber taken together; each item folds as a `result.recorded`. */
export interface ResultsRecorded {
  readonly type: 'results.recorded';
  readonly queue: string;
  readonly subscriberId: string;
  readonly workerId: string;
  /** As {@link ResultRecorded.reportedBy}, for every item. */
  readonly reportedBy?: string;
  readonly items: readonly (ClaimItem & ResultOutcome)[];
}

interface WorkerFields {
  readonly workerId: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: readonly string[];
  readonly subscribers: readonly string[];
}

export interface WorkerJoined extends WorkerFields {
  readonly type: 'worker.joined';
  /** A worker that sends no heartbeat for this long is taken as dead. */
  readonly ttlMs: number;
}

export interface WorkerHeartbeat extends WorkerFields {
  readonly type: 'worker.heartbeat';
  readonly ttlMs: number;
  /**
   * Competing subscribers whose live reservation (`claim.reserved`) of this worker the beat renews: each
   * lives `ttlMs` from this record's time, as a `claim.reserved` of 0 slots would make it (one record
   * per beat, however many subscribers the worker hosts). Absent in older records: none.
   */
  readonly renews?: readonly string[];
}

/**
 * Why a worker left: `shutdown` (it stopped and gave back its claims), `crashed` (its process died:
 * appended on its behalf by the process that saw it die, e.g. `eventy run`'s supervisor).
 */
export type WorkerLeftReason = 'shutdown' | 'crashed';

/**
 * A worker is gone: it counts as dead from this record on, and any claim it still holds ends at once
 * (another worker records a `failed` result with a `WorkerCrashedError` for it, see
 * {@link ResultRecorded.reportedBy}).
 */
export interface WorkerLeft extends WorkerFields {
  readonly type: 'worker.left';
  /** A {@link WorkerLeftReason}; other strings are kept as written. Absent in old records. */
  readonly reason?: WorkerLeftReason | (string & {});
  /** How the process ended, when another process appended this for it: `exited with code 3`. */
  readonly detail?: string;
}

/**
 * Dead events of a competing subscriber put back to pending (`queue.redrive`): each listed event that is
 * dead for the subscriber when this record is folded starts over with a fresh attempt budget (its next
 * attempt is 1, available at this record's log time); the others (not dead there, unknown) are left
 * alone, so every process decides the same.
 */
export interface EventsRedriven {
  readonly type: 'events.redriven';
  readonly queue: string;
  readonly subscriberId: string;
  /** Positions of the events' `event.published` records. */
  readonly eventPositions: readonly Position[];
}

export interface ControlEnd {
  readonly type: 'control.end';
  readonly queue: string;
  readonly timeout: number;
}

export interface ControlInterrupt {
  readonly type: 'control.interrupt';
  readonly queue: string;
}

/** What happens to slots missed while no process ran the scheduler. */
export type CatchUp = 'none' | 'latest' | 'all';

/**
 * When a schedule fires: exactly one of `cron`, `every` or `at`, bounded by `startAt` / `endAt` (log
 * times, inclusive) and `limit` (fires in all).
 */
export interface ScheduleTiming {
  /** Cron expression: 5 fields, or 6 with seconds first. */
  readonly cron?: string;
  /** IANA time zone the cron expression is read in; default UTC. */
  readonly tz?: string;
  /** Interval in ms: slots at `startAt + k·every` (or at multiples of `every` since the epoch). */
  readonly every?: number;
  /** One-off: the single slot, ms since the epoch. */
  readonly at?: number;
  readonly startAt?: number;
  readonly endAt?: number;
  readonly limit?: number;
}

/**
 * A schedule registered or replaced (upsert): the new definition takes effect for slots after this
 * record's log time; slots up to it keep the definition they had.
 */
export interface ScheduleRegistered extends ScheduleTiming {
  readonly type: 'schedule.registered';
  readonly queue: string;
  readonly scheduleId: string;
  readonly payload: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly catchUp: CatchUp;
  readonly maxCatchUp: number;
}

export interface ScheduleDeleted {
  readonly type: 'schedule.deleted';
  readonly queue: string;
  readonly scheduleId: string;
}

/** What a caller appends: a record without the log-assigned fields. */
/**
 * A snapshot of the folds was stored (see `projections/snapshot.ts`): the states after the record at
 * `position`, kept by the store under `ref`. Processes start from the newest valid one; the record
 * counts the records since the last snapshot for whoever writes the next.
 */
export interface SnapshotTaken {
  readonly type: 'snapshot.taken';
  /**
   * Position of the last record folded into it (`position` is the record's own, as on every record:
   * the snapshot.taken comes after the snapshot's position).
   */
  readonly snapshotPosition: Position;
  /** The store's name for it (`getSnapshot(ref)`). */
  readonly ref: string;
  /** crc32c of its body. */
  readonly checksum: number;
  readonly formatVersion: number;
  /** Its size in bytes. */
  readonly bytes?: number;
}

export type KnownRecordBody =
  | EventPublished
  | SubscriberRegistered
  | SubscriberDeleted
  | ClaimAcquired
  | ClaimExtended
  | ClaimReleased
  | ClaimsAcquired
  | ClaimReserved
  | TokenClaimed
  | ResultRecorded
  | ResultsRecorded
  | WorkerJoined
  | WorkerHeartbeat
  | WorkerLeft
  | ControlEnd
  | ControlInterrupt
  | EventsRedriven
  | ScheduleRegistered
  | ScheduleDeleted
  | SnapshotTaken;

export type RecordType = KnownRecordBody['type'];

/** A record of a type this release does not know (written by a newer one): carried through untouched. */
export interface ForeignRecordBody {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** The input of an append. */
export type RecordDraft = KnownRecordBody | ForeignRecordBody;

/** A known record as stored in the log. */
export type KnownRecord = KnownRecordBody & Stamped;

/** A record of a type this release does not know, as stored (written by a newer release). */
export type ForeignRecord = ForeignRecordBody & Stamped;

/**
 * Any record a store holds: known, or foreign and carried through untouched. What `LogStore.read` and
 * `follow` yield; narrow it with {@link isKnownRecord} or {@link isRecord}.
 */
export type StoredRecord = KnownRecord | ForeignRecord;

/**
 * A record of the log, discriminated on `type`: `if (r.type === 'result.recorded') r.status` is typed.
 * What `manager.records$()` emits (records of types this release does not know are left out there).
 */
export type LogRecord = KnownRecord;

/** A record of one known type, as stored. */
export type RecordOf<T extends RecordType> = Extract<KnownRecordBody, { type: T }> & Stamped;

export const RECORD_TYPES: readonly RecordType[] = [
  'event.published',
  'subscriber.registered',
  'subscriber.deleted',
  'claim.acquired',
  'claim.extended',
  'claim.released',
  'claims.acquired',
  'claim.reserved',
  'token.claimed',
  'result.recorded',
  'results.recorded',
  'worker.joined',
  'worker.heartbeat',
  'worker.left',
  'control.end',
  'control.interrupt',
  'events.redriven',
  'schedule.registered',
  'schedule.deleted',
  'snapshot.taken',
];
const known = new Set<string>(RECORD_TYPES);

/** True when the record is of a type this release knows; folds skip the others. */
export function isKnownRecord(record: StoredRecord): record is KnownRecord {
  return known.has(record.type);
}

/**
 * True when `record` is of type `type`, narrowed to it.
 * @example if (isRecord(r, 'result.recorded')) console.log(r.status);
 */
export function isRecord<T extends RecordType>(record: StoredRecord, type: T): record is RecordOf<T> {
  return record.type === type;
}

/** Stamps a draft with its log-assigned fields. */
export function stamp(draft: RecordDraft, position: Position, time: number): StoredRecord {
  // Object.assign, not a spread: on Node 20 a spread of a draft is a slow generic copy, and every
  // appended and read record passes here (bench:log's codec case). But assigning an own "__proto__" key
  // would set the prototype instead of copying the key: spread then.
  if (Object.hasOwn(draft, '__proto__')) return { ...draft, v: RECORD_VERSION, position, time };
  return Object.assign({}, draft, { v: RECORD_VERSION, position, time });
}

/** The type each item of a batch record is folded as. */
export const ITEM_TYPE: Readonly<Record<string, RecordType>> = {
  'claims.acquired': 'claim.acquired',
  'results.recorded': 'result.recorded',
};

/**
 * The records a record stands for: each item of a batch record (`claims.acquired`, `results.recorded`)
 * as the single record it is folded as (`claim.acquired`, `result.recorded`) with the batch's position
 * and time and its `item` index; any other record, itself. Items beyond {@link MAX_BATCH_ITEMS} are
 * ignored, as every fold ignores them.
 */
export function unbatched(r: StoredRecord): readonly StoredRecord[] {
  if (r.type !== 'claims.acquired' && r.type !== 'results.recorded') return [r];
  const b = r as RecordOf<'claims.acquired'> | RecordOf<'results.recorded'>;
  const { queue, subscriberId, workerId, v, position, time } = b;
  const base: {
    queue: string;
    subscriberId: string;
    workerId: string;
    v: number;
    position: Position;
    time: number;
    reportedBy?: string;
  } = { queue, subscriberId, workerId, v, position, time };
  if (b.type === 'results.recorded' && b.reportedBy !== undefined) base.reportedBy = b.reportedBy;
  if (b.type === 'claims.acquired') {
    const leaseMs = b.leaseMs;
    return batchItems(b).map((it, item): RecordOf<'claim.acquired'> =>
      Object.assign({ type: 'claim.acquired' as const }, base, it, { leaseMs, item }),
    );
  }
  return batchItems(b).map((it, item): RecordOf<'result.recorded'> =>
    Object.assign({ type: 'result.recorded' as const }, base, it, { item }),
  );
}

/**
 * A batch record's items as every fold takes them: at most {@link MAX_BATCH_ITEMS}, and only up to the
 * first that is not an object (a malformed item ends the batch); none when `items` is not an array.
 */
export function batchItems<I>(r: { readonly items: readonly I[] }): readonly I[] {
  const items: unknown = r.items;
  if (!Array.isArray(items)) return [];
  let n = Math.min(items.length, MAX_BATCH_ITEMS);
  for (let i = 0; i < n; i++) {
    const it: unknown = items[i];
    if (typeof it !== 'object' || it === null) n = i;
  }
  return n === items.length ? (items as I[]) : (items.slice(0, n) as I[]);
}

/**
 * A number naming one result: the record's position, and for an item of a `results.recorded` its
 * index too. Ordered like the log. Result pages and the fold's set of fenced results use it.
 */
export function resultRef(r: { readonly position: Position; readonly item?: number | undefined }): number {
  return r.position * MAX_BATCH_ITEMS + (r.item ?? 0);
}

/** The position of the record holding the result `ref` names, and the item index in it. */
export function resultAt(ref: number): { position: Position; item: number } {
  const item = ref % MAX_BATCH_ITEMS;
  return { position: (ref - item) / MAX_BATCH_ITEMS, item };
}
