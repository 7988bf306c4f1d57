import {
  batchItems,
  isKnownRecord,
  resultRef,
  type KnownRecord,
  type StoredRecord,
  type RecordOf,
  type ResultStatus,
} from '../engine/records.js';
import type { Position } from '../engine/position.js';
import type { Fold } from './fold.js';

/** Where one (event, competing subscriber) pair stands. */
export type ItemStatus = 'claimed' | 'retry' | 'released' | 'done' | 'dead' | 'skipped';

export interface WorkItem {
  readonly eventPosition: Position;
  status: ItemStatus;
  /** Attempt number of the last winning claim (0 before the first). */
  attempt: number;
  owner: string | undefined;
  /** Position of the winning claim record: the fencing token. */
  claimPosition: Position | undefined;
  leaseUntil: number;
  /** Log time before which the next attempt may not start (delay, retry backoff). */
  availableAt: number;
  failures: number;
}

export interface SubscriberCounts {
  done: number;
  failed: number;
  dead: number;
  skipped: number;
  rejected: number;
}

export interface SubscriberState {
  readonly id: string;
  reg: RecordOf<'subscriber.registered'>;
  readonly registeredAt: Position;
  deleted: boolean;
  /** Index into the queue's events: every event before it is finished for this subscriber. */
  finishedBelow: number;
  /** Items above the finishedBelow that were claimed or finished. */
  readonly items: Map<Position, WorkItem>;
  readonly counts: SubscriberCounts;
  /** Dead events, most recent last (bounded: the log keeps them all). */
  readonly dead: Position[];
  /** Live reservations (`claim.reserved`) by worker, in the order they were first made. */
  readonly reservations: Map<string, Reservation>;
}

/** A worker's claim on the next events of a subscriber (`claim.reserved`). */
export interface Reservation {
  /** Events still to bind. */
  slots: number;
  /** Log time from which no event binds to it. */
  expiresAt: number;
  leaseMs: number;
}

export interface QueueState {
  readonly name: string;
  /**
   * Positions of the queue's events, ascending, and (same index) their availability times: the part of
   * the view that grows with the log, kept in typed arrays outside the JS heap, 16 bytes an event. The
   * garbage collector neither scans them nor sizes the heap by them (as number arrays, a million events
   * were ~24 MB of old space, which V8 lets grow to about 4× the live size before collecting). Each is a
   * snapshot of the events folded so far: read it again after the fold moved on.
   */
  readonly positions: Float64Array;
  readonly availableAt: Float64Array;
  /** Position of the latest `control.end`: workers running then drain what came before it and stop. */
  endedAt: Position | undefined;
  /** Position of the latest `control.interrupt`: workers running then abort in-flight work and stop. */
  interruptedAt: Position | undefined;
  /** Idempotency keys → position of the first event published with the key. */
  readonly keys: Map<string, Position>;
  /** Competing subscribers of the queue holding reservations: new events bind to them. */
  readonly reserved: Set<SubscriberState>;
}

/** The dispatch view: every queue's events, every subscriber's progress, claims and leases. */
export interface DispatchState {
  readonly queues: Map<string, QueueState>;
  readonly subscribers: Map<string, SubscriberState>;
  /** Raw claims (`queue.createClaim`): the first `token.claimed` of a key wins, forever. */
  readonly tokens: Map<string, { position: Position; workerId: string; time: number }>;
  /** Results that were fenced (rejected), by {@link resultRef}: rare, so kept. */
  readonly rejected: Set<number>;
  /** Log time and position of the last record folded. */
  time: number;
  position: Position;
}

const DEAD_KEPT = 1000;

export const dispatchFold: Fold<DispatchState> = {
  initial: () => ({
    queues: new Map(),
    subscribers: new Map(),
    tokens: new Map(),
    rejected: new Set(),
    time: 0,
    position: -1,
  }),
  evolve(state, record) {
    state.time = Math.max(state.time, record.time);
    state.position = record.position;
    if (isKnownRecord(record)) apply(state, record);
    return state;
  },
};

function apply(state: DispatchState, r: KnownRecord): void {
  switch (r.type) {
    case 'event.published':
      return published(state, r);
    case 'subscriber.registered':
      return registered(state, r);
    case 'subscriber.deleted': {
      const sub = state.subscribers.get(r.subscriberId);
      if (sub) {
        sub.deleted = true;
        unreserve(state, sub);
      }
      return;
    }
    case 'claim.acquired':
      acquired(state, r);
      return;
    case 'claims.acquired': {
      const { subscriberId, workerId, leaseMs, position, time } = r;
      for (const { eventPosition, attempt } of batchItems(r)) {
        acquired(state, { subscriberId, workerId, leaseMs, position, time, eventPosition, attempt });
      }
      return;
    }
    case 'claim.reserved':
      return reserved(state, r);
    case 'claim.extended':
      return extended(state, r);
    case 'claim.released':
      return released(state, r);
    case 'result.recorded':
      return recorded(state, r);
    case 'results.recorded': {
      const { subscriberId, workerId, position, time } = r;
      const items = batchItems(r);
      for (let item = 0; item < items.length; item++) {
        const { eventPosition, attempt, status, retryAt } = items[item] as (typeof items)[number];
        // A literal, no conditional spread: this runs for every result in every process.
        const view = {
          subscriberId,
          workerId,
          position,
          time,
          item,
          eventPosition,
          attempt,
          status,
          retryAt,
        };
        recorded(state, view);
      }
      return;
    }
    case 'control.end':
    case 'control.interrupt': {
      // Events after an order are for the workers that come later: no running worker's reservation
      // takes them.
      const q = queueOf(state, r.queue);
      if (r.type === 'control.end') q.endedAt = r.position;
      else q.interruptedAt = r.position;
      for (const sub of [...q.reserved]) unreserve(state, sub);
      return;
    }
    case 'worker.left':
      for (const q of state.queues.values())
        for (const sub of [...q.reserved]) unreserve(state, sub, r.workerId);
      return;
    case 'token.claimed': {
      const key = tokenKey(r.queue, r.claimId);
      if (!state.tokens.has(key))
        state.tokens.set(key, { position: r.position, workerId: r.workerId, time: r.time });
      return;
    }
    default:
      return;
  }
}

export function queueOf(state: DispatchState, name: string): QueueState {
  return eventsOf(state, name);
}

function eventsOf(state: DispatchState, name: string): QueueEvents {
  let q = state.queues.get(name) as QueueEvents | undefined;
  if (!q) {
    q = new QueueEvents(name);
    state.queues.set(name, q);
  }
  return q;
}

/** A queue's events in typed arrays grown by doubling; `positions` and `availableAt` view the used part. */
class QueueEvents implements QueueState {
  endedAt: Position | undefined = undefined;
  interruptedAt: Position | undefined = undefined;
  readonly keys = new Map<string, Position>();
  readonly reserved = new Set<SubscriberState>();
  #positions: Float64Array = new Float64Array(64);
  #availableAt: Float64Array = new Float64Array(64);
  #length = 0;
  #positionsView: Float64Array | undefined;
  #availableAtView: Float64Array | undefined;

  constructor(readonly name: string) {}

  get positions(): Float64Array {
    return (this.#positionsView ??= this.#positions.subarray(0, this.#length));
  }

  get availableAt(): Float64Array {
    return (this.#availableAtView ??= this.#availableAt.subarray(0, this.#length));
  }

  push(position: Position, availableAt: number): void {
    if (this.#length === this.#positions.length) {
      this.#positions = doubled(this.#positions);
      this.#availableAt = doubled(this.#availableAt);
    }
    this.#positions[this.#length] = position;
    this.#availableAt[this.#length] = availableAt;
    this.#length++;
    this.#positionsView = this.#availableAtView = undefined;
  }
}

function doubled(array: Float64Array): Float64Array {
  const bigger = new Float64Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

function published(state: DispatchState, r: RecordOf<'event.published'>): void {
  const q = eventsOf(state, r.queue);
  const key = r.headers.key;
  if (key !== undefined) {
    if (q.keys.has(key)) return; // a twin of an earlier publish: never dispatched
    q.keys.set(key, r.position);
  }
  const availableAt = r.availableAt ?? r.time + (r.delay ?? 0);
  q.push(r.position, availableAt);
  if (q.reserved.size > 0 && availableAt <= r.time) bind(state, q, r.position, r.time);
}

/**
 * A new event, dispatchable now: to a reserving worker of each subscriber that has one, folded as that
 * worker's `claim.acquired` of attempt 1 at the event's own position.
 */
function bind(state: DispatchState, q: QueueEvents, position: Position, time: number): void {
  for (const sub of q.reserved) {
    let best: [string, Reservation] | undefined;
    for (const entry of sub.reservations) {
      const res = entry[1];
      if (res.expiresAt <= time) sub.reservations.delete(entry[0]);
      else if (best === undefined || res.slots > best[1].slots) best = entry;
    }
    if (best === undefined) {
      unreserve(state, sub);
      continue;
    }
    const [workerId, res] = best;
    const claim = {
      subscriberId: sub.id,
      workerId,
      eventPosition: position,
      attempt: 1,
      leaseMs: res.leaseMs,
      position,
      time,
    };
    if (!acquired(state, claim)) {
      if (sub.deleted || sub.reg.delivery !== 'competing') unreserve(state, sub);
      continue;
    }
    if (--res.slots <= 0) unreserve(state, sub, workerId);
  }
}

/**
 * The claims a reservation made of the event `r` as it was folded (call right after folding it): the
 * subscribers whose item's claim is the event's own position, and the worker holding each.
 */
export function boundAt(state: DispatchState, r: { queue: string; position: Position }): BoundClaim[] {
  const out: BoundClaim[] = [];
  for (const sub of state.subscribers.values()) {
    const item = sub.reg.queue === r.queue ? sub.items.get(r.position) : undefined;
    if (item?.claimPosition === r.position && item.owner !== undefined)
      out.push({ sub, item, workerId: item.owner });
  }
  return out;
}

export interface BoundClaim {
  readonly sub: SubscriberState;
  readonly item: WorkItem;
  readonly workerId: string;
}

/** `claim.reserved`: adds slots to the worker's live reservation (or starts one) and renews it. */
function reserved(state: DispatchState, r: RecordOf<'claim.reserved'>): void {
  const sub = competing(state, r.subscriberId);
  if (!sub || sub.reg.queue !== r.queue) return;
  const q = eventsOf(state, r.queue);
  const slots = Number.isSafeInteger(r.slots) && r.slots > 0 ? r.slots : 0;
  const ttlMs = Number.isFinite(r.ttlMs) && r.ttlMs > 0 ? r.ttlMs : 0;
  const live = sub.reservations.get(r.workerId);
  const left = live !== undefined && live.expiresAt > r.time ? live.slots : 0;
  if (left + slots === 0 || ttlMs === 0) {
    unreserve(state, sub, r.workerId);
    return;
  }
  const res = { slots: left + slots, expiresAt: r.time + ttlMs, leaseMs: r.leaseMs };
  if (live) Object.assign(live, res);
  else sub.reservations.set(r.workerId, res);
  q.reserved.add(sub);
}

/** Drops a subscriber's reservations: one worker's, or all. */
function unreserve(state: DispatchState, sub: SubscriberState, workerId?: string): void {
  if (workerId === undefined) sub.reservations.clear();
  else sub.reservations.delete(workerId);
  if (sub.reservations.size === 0) state.queues.get(sub.reg.queue)?.reserved.delete(sub);
}

function registered(state: DispatchState, r: RecordOf<'subscriber.registered'>): void {
  const existing = state.subscribers.get(r.subscriberId);
  if (existing && !existing.deleted) {
    existing.reg = { ...r, startPosition: existing.reg.startPosition }; // options change, progress stays
    return;
  }
  const q = queueOf(state, r.queue);
  state.subscribers.set(r.subscriberId, {
    id: r.subscriberId,
    reg: r,
    registeredAt: r.position,
    deleted: false,
    finishedBelow: lowerBound(q.positions, r.startPosition),
    items: new Map(),
    counts: { done: 0, failed: 0, dead: 0, skipped: 0, rejected: 0 },
    dead: [],
    reservations: new Map(),
  });
}

/** The item of a competing subscriber's event, created on first touch; undefined when not dispatchable. */
export function itemOf(
  state: DispatchState,
  sub: SubscriberState,
  eventPosition: Position,
): WorkItem | undefined {
  const found = sub.items.get(eventPosition);
  if (found) return found;
  const q = state.queues.get(sub.reg.queue);
  if (!q || eventPosition < sub.reg.startPosition) return undefined;
  const index = lowerBound(q.positions, eventPosition);
  if (index < sub.finishedBelow || q.positions[index] !== eventPosition) return undefined;
  const item: WorkItem = {
    eventPosition,
    status: 'released',
    attempt: 0,
    owner: undefined,
    claimPosition: undefined,
    leaseUntil: 0,
    availableAt: q.availableAt[index] ?? 0,
    failures: 0,
  };
  sub.items.set(eventPosition, item);
  return item;
}

export function isFinished(item: WorkItem): boolean {
  return item.status === 'done' || item.status === 'dead' || item.status === 'skipped';
}

/** True while a claim holds the item's lease at log time `time`. */
export function isLeased(item: WorkItem, time: number): boolean {
  return item.status === 'claimed' && item.leaseUntil > time;
}

function competing(state: DispatchState, subscriberId: string): SubscriberState | undefined {
  const sub = state.subscribers.get(subscriberId);
  return sub && !sub.deleted && sub.reg.delivery === 'competing' ? sub : undefined;
}

/** What the fold reads of a claim: a `claim.acquired`, or one item of a `claims.acquired`. */
interface ClaimView {
  readonly subscriberId: string;
  readonly workerId: string;
  readonly eventPosition: Position;
  readonly attempt: number;
  readonly leaseMs: number;
  readonly position: Position;
  readonly time: number;
}

/** What the fold reads of a result: a `result.recorded`, or one item of a `results.recorded`. */
interface ResultView {
  readonly subscriberId: string;
  readonly workerId: string;
  readonly eventPosition: Position;
  readonly attempt: number;
  readonly status: ResultStatus;
  readonly retryAt?: number | undefined;
  readonly position: Position;
  readonly time: number;
  readonly item?: number;
}

/** First valid claim in log order wins: not finished, no live lease, available, the next attempt. */
function acquired(state: DispatchState, r: ClaimView): boolean {
  const sub = competing(state, r.subscriberId);
  const q = sub && state.queues.get(sub.reg.queue);
  if (!sub || !q) return false;
  const item = itemOf(state, sub, r.eventPosition);
  if (!item || isFinished(item) || isLeased(item, r.time)) return false;
  if (r.time < item.availableAt || r.attempt !== item.attempt + 1) return false;
  item.status = 'claimed';
  item.attempt = r.attempt;
  item.owner = r.workerId;
  item.claimPosition = r.position;
  item.leaseUntil = r.time + r.leaseMs;
  return true;
}

function holds(item: WorkItem | undefined, r: { workerId: string; attempt: number; time: number }): boolean {
  return (
    item !== undefined && item.owner === r.workerId && item.attempt === r.attempt && isLeased(item, r.time)
  );
}

function extended(state: DispatchState, r: RecordOf<'claim.extended'>): void {
  const sub = competing(state, r.subscriberId);
  const item = sub?.items.get(r.eventPosition);
  if (item && holds(item, r)) item.leaseUntil = Math.max(item.leaseUntil, r.time + r.leaseMs);
}

function released(state: DispatchState, r: RecordOf<'claim.released'>): void {
  const sub = competing(state, r.subscriberId);
  const item = sub?.items.get(r.eventPosition);
  if (!item || !holds(item, r)) return;
  item.status = 'released';
  item.owner = undefined;
  item.leaseUntil = 0;
}

/** A result counts only from the claim holding the lease (fencing); `skipped` needs no claim. */
function recorded(state: DispatchState, r: ResultView): void {
  const sub = state.subscribers.get(r.subscriberId);
  if (!sub) return;
  if (sub.reg.delivery === 'broadcast') {
    countResult(sub, r.status);
    return;
  }
  const item = itemOf(state, sub, r.eventPosition);
  // A skip needs no claim, but may not race one; the holder of a claim may skip too (an event bound to a
  // worker by its reservation that the subscriber's filter turns down).
  if (r.status === 'skipped' && !holds(item, r)) {
    if (!skippable(item, r.time)) {
      state.rejected.add(resultRef(r)); // a second skip, or one racing a claim: not the outcome
      return;
    }
    item.status = 'skipped';
    sub.counts.skipped++;
    return advance(state, sub);
  }
  if (!item || !holds(item, r)) {
    sub.counts.rejected++;
    state.rejected.add(resultRef(r));
    return;
  }
  item.owner = undefined;
  item.leaseUntil = 0;
  if (r.status === 'skipped') {
    item.status = 'skipped';
    sub.counts.skipped++;
  } else if (r.status === 'ok') {
    item.status = 'done';
    sub.counts.done++;
  } else {
    item.failures++;
    sub.counts.failed++;
    if (r.retryAt !== undefined) {
      item.status = 'retry';
      item.availableAt = r.retryAt;
      return;
    }
    item.status = 'dead';
    sub.counts.dead++;
    sub.dead.push(item.eventPosition);
    if (sub.dead.length > DEAD_KEPT) sub.dead.shift();
  }
  advance(state, sub);
}

function skippable(item: WorkItem | undefined, time: number): item is WorkItem {
  return item !== undefined && !isFinished(item) && !isLeased(item, time);
}

function countResult(sub: SubscriberState, status: string): void {
  if (status === 'ok') sub.counts.done++;
  else if (status === 'skipped') sub.counts.skipped++;
  else sub.counts.failed++;
}

/** Moves the finishedBelow over finished items, dropping them from the hot view. */
function advance(state: DispatchState, sub: SubscriberState): void {
  const q = state.queues.get(sub.reg.queue);
  if (!q) return;
  for (;;) {
    const position = q.positions[sub.finishedBelow];
    if (position === undefined) return;
    const item = sub.items.get(position);
    if (!item || !isFinished(item)) return;
    sub.items.delete(position);
    sub.finishedBelow++;
  }
}

export function tokenKey(queue: string, claimId: string): string {
  return `${queue}\u0000${claimId}`;
}

/** Index of the first element ≥ value in an ascending array (or typed array). */
export function lowerBound(sorted: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Where a subscriber stands at log time `time`: `depth` events waiting (not handled, not under a live
 * lease), `inFlight` under a live lease, and `lag`, the records between the oldest unhandled event and
 * the last record folded. Broadcast subscribers have no shared progress: zeros.
 */
export function subscriberProgress(
  state: DispatchState,
  sub: SubscriberState,
  time: number,
): { depth: number; inFlight: number; lag: number } {
  if (sub.reg.delivery !== 'competing') return { depth: 0, inFlight: 0, lag: 0 };
  const q = state.queues.get(sub.reg.queue);
  let finishedAbove = 0;
  let inFlight = 0;
  for (const item of sub.items.values()) {
    if (isFinished(item)) finishedAbove++;
    else if (isLeased(item, time)) inFlight++;
  }
  const pending = Math.max(0, (q?.positions.length ?? 0) - sub.finishedBelow - finishedAbove);
  const oldest = q?.positions[sub.finishedBelow];
  return {
    depth: pending - inFlight,
    inFlight,
    lag: oldest === undefined ? 0 : Math.max(0, state.position - oldest),
  };
}

/** The claims view as the CLI and `views.dispatch$` show it: one row per open item. */
export function openItems(state: DispatchState): { subscriber: string; item: WorkItem }[] {
  const rows: { subscriber: string; item: WorkItem }[] = [];
  for (const sub of state.subscribers.values())
    for (const item of sub.items.values()) rows.push({ subscriber: sub.id, item });
  return rows;
}

export type { StoredRecord };
