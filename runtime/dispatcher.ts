import { lowerBound, type QueueState, type SubscriberState, type WorkItem } from '../projections/dispatch.js';
import { liveHosts } from '../projections/workers.js';
import { scanCompeting, type Pick } from './competing-scan.js';
import { InterruptedError, LeaseLostError, ShutdownError } from '../engine/errors.js';
import type { Position } from '../engine/position.js';
import {
  MAX_BATCH_ITEMS,
  type ClaimItem,
  type RecordDraft,
  type RecordOf,
  type ResultOutcome,
} from '../engine/records.js';
import { AttemptControl, type AttemptOutcome, errorInfo, plainDetails, runAttempt } from './attempt.js';
import type { Matcher } from './filter.js';
import type { LiveViews } from './live-views.js';
import { backoff, mayRetry, type ResolvedSubscribe } from './subscribe-options.js';
import type { HandlerContext, PublishOptions, QueueEvent } from './types.js';

type EventRecord = RecordOf<'event.published'>;

/**
 * How long a result waits for a claim append to carry it (as Kafka's `linger.ms`): under load the next
 * claims follow within the turn; at a trickle the result rides the next event's claim, or goes alone.
 */
const RESULT_LINGER_MS = 5;

/** What a dispatcher needs from its manager. */
export interface DispatchHost {
  readonly workerId: string;
  readonly runtime: LiveViews;
  readonly leaseMs: number;
  readonly spreadGraceMs: number;
  /** How long the worker counts as alive after a heartbeat; a reservation lives as long unless renewed. */
  readonly livenessMs: number;
  append(drafts: RecordDraft[], sync: boolean): Promise<{ positions: readonly Position[] }>;
  events(queue: string, positions: readonly Position[]): Promise<Map<Position, EventRecord>>;
  /** A hosted queue's event, if cached: no read. */
  cachedEvent(queue: string, position: Position): EventRecord | undefined;
  publish(queue: string, payload: unknown, options: PublishOptions): Promise<QueueEvent>;
  report(error: unknown): void;
}

interface Running {
  readonly attempt: number;
  readonly claimPosition: Position;
  readonly control: AttemptControl;
  readonly eventId: string;
}

/**
 * Runs one subscriber's handler in this process. Competing: picks claimable events (its share first, the
 * rest after a grace), appends claims in batches, and runs an event once the fold says its claim won.
 * Broadcast: runs every event from when it started hosting, without claims.
 */
export class Dispatcher {
  readonly running = new Map<Position, Running>();
  #claiming = new Map<Position, Position>(); // event → claim position (-1 while the append is in flight)
  #busy = false;
  #again = false;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #nextIndex = -1; // broadcast cursor
  #delayed = new Set<Position>(); // broadcast events not yet available
  #retrying = new Map<Position, { at: number; attempt: number }>(); // broadcast attempts due again
  #drained: (() => void) | undefined;

  constructor(
    private readonly host: DispatchHost,
    readonly subscriberId: string,
    readonly queue: string,
    readonly options: ResolvedSubscribe,
    private readonly matcher: Matcher,
    private readonly handler: (event: QueueEvent, ctx: HandlerContext) => unknown,
    /** Runtime position when hosting started: control orders after it apply to this dispatcher. */
    readonly hostedFrom: Position,
  ) {}

  get stopped(): boolean {
    return this.#stopping;
  }

  /** Re-evaluates after the views changed. Cheap when there is nothing to do. */
  tick(): void {
    const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
    const q = this.host.runtime.dispatch.queues.get(this.queue);
    if (!sub || !q) return;
    this.#confirm(sub);
    this.#adopt(sub, q);
    this.#watchLeases(sub);
    this.#obeyControl(sub, q);
    if (this.#stopping) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    if (this.#startedSinceStep) {
      // Attempts started in this turn: let them run first, so that the scan sees the slots that quick
      // handlers free within the turn and claims them in one batch, instead of settling into claiming
      // the half of its room that is not running (twice the appends and records per event).
      this.#startedSinceStep = false;
      this.#tickSoon();
      return;
    }
    this.#step = this.#claimStep(sub, q);
  }

  #startedSinceStep = false;

  /** Stops taking work; resolves once in-flight work finished or was released after `drainMs`. */
  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#cancelReservation();
    await this.#settleClaims();
    for (const [p, w] of this.won) this.#release(p, w.attempt);
    this.won.clear();
    const all = this.#whenIdle();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
    await Promise.race([all, late]);
    clearTimeout(timer);
    for (const r of this.running.values()) r.control.abort(new ShutdownError());
    await all;
    this.#flushResults();
    await Promise.all(this.#writing);
  }

  /** Resolves once the dispatcher stopped on an end order and drained. */
  whenDrained(): Promise<void> {
    return new Promise((resolve) => (this.#drained = resolve));
  }

  /** Waits for the claims under way to be folded: those this worker won are released, not run. */
  async #settleClaims(): Promise<void> {
    try {
      await this.#step;
      const cancelledAt = (await this.#cancelled) ?? -1;
      const appended = [...this.#claiming.values(), cancelledAt].filter((cp) => cp >= 0);
      if (appended.length > 0) await this.host.runtime.waitFor(Math.max(...appended));
      const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
      const q = this.host.runtime.dispatch.queues.get(this.queue);
      if (sub) this.#confirm(sub);
      if (sub && q) this.#adopt(sub, q);
    } catch (e) {
      this.host.report(e); // unreleased claims run out with their lease
    }
  }

  #confirm(sub: SubscriberState): void {
    const folded = this.host.runtime.position;
    for (const [p, cp] of this.#claiming) {
      if (cp < 0 || cp > folded) continue;
      this.#claiming.delete(p);
      const item = sub.items.get(p);
      if (item?.claimPosition === cp && item.owner === this.host.workerId) {
        if (this.#stopping) this.#release(p, item.attempt);
        else {
          const eventId = this.#cache.get(p)?.eventId ?? '';
          this.won.set(p, { attempt: item.attempt, claimPosition: cp, failures: item.failures, eventId });
        }
      } else this.#cache.delete(p); // lost the race
    }
    this.#startWon();
  }

  /**
   * Claims won and waiting for a free slot (up to `prefetch` of them): claiming ahead keeps the next
   * events ready while the current ones run. Their leases are extended like those of running events.
   */
  readonly won = new Map<
    Position,
    { attempt: number; claimPosition: Position; failures: number; eventId: string }
  >();

  #startWon(): void {
    if (this.#stopping) return; // interrupted or shutting down: nothing new starts
    for (const [p, w] of this.won) {
      if (this.running.size >= this.options.concurrency) return;
      this.won.delete(p);
      this.#start(p, w.attempt, w.claimPosition, w.failures);
    }
  }

  /** Aborts attempts whose lease the fold gave to someone else. */
  #watchLeases(sub: SubscriberState): void {
    if (this.options.delivery !== 'competing') return;
    for (const [p, w] of this.won) {
      if (sub.items.get(p)?.claimPosition !== w.claimPosition) {
        this.won.delete(p);
        this.#cache.delete(p);
      }
    }
    for (const [p, r] of this.running) {
      if (sub.items.get(p)?.claimPosition !== r.claimPosition && !r.control.aborted) {
        r.control.abort(new LeaseLostError());
      }
    }
  }

  #obeyControl(sub: SubscriberState, q: QueueState): void {
    if (this.#interrupted(q) && !this.#stopping) {
      this.#stopping = true;
      for (const r of this.running.values())
        r.control.abort(new InterruptedError('the queue was interrupted'));
    }
    const ending = this.#endsAt(q);
    if (
      ending !== Infinity &&
      this.running.size === 0 &&
      this.#claiming.size === 0 &&
      this.#retrying.size === 0
    ) {
      const before = this.options.delivery === 'competing' ? sub.finishedBelow : this.#nextIndex;
      const next = q.positions[before];
      if (next === undefined || next > ending) this.#stopping = true;
    }
    if (this.#stopping && this.running.size === 0 && this.#drained) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  async #claimStep(sub: SubscriberState, q: QueueState): Promise<void> {
    this.#busy = true;
    try {
      const free =
        Math.min(MAX_BATCH_ITEMS, this.options.concurrency + this.options.prefetch) - this.#taken();
      if (free <= 0) return;
      const now = Date.now();
      const picks =
        this.options.delivery === 'competing'
          ? this.#scanCompeting(sub, q, free, now)
          : this.#scanBroadcast(q, free, now);
      for (const p of picks) this.#claiming.set(p.position, -1);
      const held = this.#reservedSlots(sub);
      let reservation: ReservationDraft | undefined;
      if (picks.length >= free && held > 0) {
        // A backlog (the scan filled every slot): the reservation gives back its slots. They are better
        // used on the events that wait, new events would overtake those, and a worker that had
        // reserved, then also claimed (retries come due, held events come free), would be committed
        // beyond concurrency + prefetch.
        reservation = this.#reservationDraft(0, 0, true);
      } else {
        // A top-up while slots are still reserved waits for the lingering results' append (see
        // #flushResults): at a trickle, one append, and one record for every process to wake up for,
        // per few events instead of per event.
        if (picks.length === 0 && this.#resultTimer !== undefined && held > 0) return;
        reservation = this.#reserve(sub, q);
      }
      if (picks.length === 0 && reservation === undefined) return;
      await this.#claimAll(picks, reservation);
    } catch (e) {
      for (const [p, cp] of this.#claiming) if (cp < 0) this.#claiming.delete(p);
      this.host.report(e);
    } finally {
      this.#busy = false;
      if (this.#again) {
        this.#again = false;
        setImmediate(() => this.tick());
      }
    }
  }

  /** Events this worker holds or is getting: running, won and waiting, being claimed or adopted. */
  #taken(): number {
    return this.running.size + this.won.size + this.#claiming.size + this.#adopting.size;
  }

  /**
   * Whether this dispatcher reserves its free slots for the events to come (`claim.reserved`): competing
   * delivery, not turned off, and the only dispatcher of its subscriber in this manager (events bound to
   * the worker would otherwise be taken by both).
   */
  get #reserves(): boolean {
    return this.options.delivery === 'competing' && this.options.reserve && !this.#sharesHosting;
  }

  #sharesHosting = false;

  /** Another dispatcher of the same subscriber is hosted in this manager: this one only claims. */
  shareHosting(): void {
    this.#sharesHosting = true;
  }

  /** Reservations appended and not yet folded (position -1 while the append is in flight). */
  #reserving: PendingReservation[] = [];
  /** The position of the record cancelling the reservation when stopping (-1: none, or it failed). */
  #cancelled: Promise<Position> | undefined;
  /** Bound events being read before they are taken ({@link #adoptLater}). */
  #adopting = new Set<Position>();

  /**
   * Slots reserved for this worker: folded and still live, plus those whose record is on its way. Live
   * by the fold's log time, never this machine's clock: a clock ahead of the log would see every
   * reservation expired and reserve again and again.
   */
  #reservedSlots(sub: SubscriberState): number {
    const folded = this.host.runtime.position;
    let slots = 0;
    if (this.#reserving.length > 0) {
      this.#reserving = this.#reserving.filter((r) => r.position < 0 || r.position > folded);
      for (const r of this.#reserving) {
        if (r.cancel) return 0; // given back: none from now (a top-up after it starts over)
        slots += r.slots;
      }
    }
    const res = sub.reservations.get(this.host.workerId);
    return res !== undefined && res.expiresAt > this.host.runtime.dispatch.time ? slots + res.slots : slots;
  }

  /** True while the subscriber takes reservations: registered, competing, not deleted. */
  #reservable(sub: SubscriberState): boolean {
    return this.#reserves && !this.#stopping && !sub.deleted && sub.reg.delivery === 'competing';
  }

  /**
   * The reservation to append with the next claims: the slots that nothing fills (no backlog), so the
   * next events are bound to this worker as they are appended. Under a backlog the scan fills every slot
   * and nothing is reserved.
   */
  #reserve(sub: SubscriberState, q: QueueState): ReservationDraft | undefined {
    if (!this.#reservable(sub) || this.#endsAt(q) !== Infinity || this.#interrupted(q)) return undefined;
    const slots = this.options.concurrency - this.#taken() - this.#reservedSlots(sub);
    if (slots <= 0) return undefined;
    return this.#reservationDraft(slots, this.host.livenessMs, true);
  }

  /**
   * Appends `drafts` with the reservation (if any) last: its entry among the reservations on their way
   * gets its position, or is taken back when the append fails.
   */
  async #append(
    drafts: RecordDraft[],
    reservation: ReservationDraft | undefined,
  ): Promise<readonly Position[]> {
    if (reservation) drafts.push(reservation.draft);
    try {
      const { positions } = await this.host.append(drafts, false);
      if (reservation) reservation.pending.position = positions[drafts.length - 1] as Position;
      return positions;
    } catch (e) {
      if (reservation) this.#unreserve(reservation);
      throw e;
    }
  }

  /** A reservation that will not be appended after all (stopping, or its append failed). */
  #unreserve(reservation: ReservationDraft): void {
    this.#reserving = this.#reserving.filter((r) => r !== reservation.pending);
  }

  /** Position of an end order that came after hosting started (events after it are not taken), or Infinity. */
  #endsAt(q: QueueState): Position {
    return q.endedAt !== undefined && q.endedAt > this.hostedFrom ? q.endedAt : Infinity;
  }

  /** True once an interrupt order came after hosting started. */
  #interrupted(q: QueueState): boolean {
    return q.interruptedAt !== undefined && q.interruptedAt > this.hostedFrom;
  }

  /**
   * A `claim.reserved` draft; `pending`: counted among the reservations on their way from now (a second
   * #reserve before it is appended counts it; #unreserve takes it back if it is not appended after all).
   */
  #reservationDraft(slots: number, ttlMs: number, pending = false): ReservationDraft {
    const draft = Object.assign({ type: 'claim.reserved' as const }, this.#source(), {
      slots,
      leaseMs: this.host.leaseMs,
      ttlMs,
    });
    const entry = { position: -1, slots, cancel: ttlMs === 0 };
    if (pending) this.#reserving.push(entry);
    return { draft, pending: entry };
  }

  /**
   * The heartbeat's renewal of this worker's reservation, while it holds one that it has room for (a
   * worker that got busy lets it lapse rather than keep events waiting for it).
   */
  renewal(): RecordDraft | undefined {
    const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
    if (!sub || !this.#reservable(sub)) return undefined;
    const reserved = this.#reservedSlots(sub);
    if (reserved === 0 || this.#taken() + reserved > this.options.concurrency) return undefined;
    return this.#reservationDraft(0, this.host.livenessMs).draft;
  }

  /** Stopping: no event binds to this worker any more (those bound already are released). */
  #cancelReservation(): void {
    const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
    if (!this.#reserves || !sub) return;
    const held = sub.reservations.get(this.host.workerId);
    if (held === undefined && this.#reserving.length === 0) return;
    const write = this.host.append([this.#reservationDraft(0, 0).draft], false);
    this.#cancelled = write.then(
      ({ positions }) => positions[0] as Position,
      () => -1,
    );
    this.#track(write);
  }

  /**
   * Takes the events the fold bound to this worker's reservation: their claim is the event itself
   * (`claimPosition` is the event's position). Looks at each event of the queue once.
   */
  #adopt(sub: SubscriberState, q: QueueState): void {
    if (!this.#reserves) return;
    const positions = q.positions;
    if (this.#adoptFrom >= positions.length) return;
    let missing: Position[] | undefined;
    for (let i = Math.max(this.#adoptFrom, sub.finishedBelow); i < positions.length; i++) {
      const p = positions[i] as Position;
      const item = sub.items.get(p);
      if (!this.#boundToMe(item, p)) continue;
      const e = this.#cache.get(p) ?? this.host.cachedEvent(this.queue, p);
      if (e === undefined) {
        (missing ??= []).push(p);
        this.#adopting.add(p);
        continue;
      }
      this.#adopted(e, item.attempt, q);
    }
    this.#adoptFrom = positions.length;
    if (missing) this.#adoptLater(missing);
    this.#startWon();
  }

  /** Index into the queue's events of the first one {@link #adopt} has not looked at. */
  #adoptFrom = 0;

  /** An item the fold bound to this worker's reservation, not yet taken. */
  #boundToMe(item: WorkItem | undefined, p: Position): item is WorkItem {
    return (
      item !== undefined &&
      item.claimPosition === p &&
      item.owner === this.host.workerId &&
      item.status === 'claimed' &&
      !this.running.has(p) &&
      !this.won.has(p) &&
      !this.#claiming.has(p)
    );
  }

  /**
   * A bound event: run (once a slot is free), skipped by the filter, or given back — when stopping, or
   * when an end or interrupt order came before it (a reservation appended while the order was on its way
   * may bind events that are for the workers that come later).
   */
  #adopted(e: EventRecord, attempt: number, q: QueueState): void {
    const p = e.position;
    this.#cache.set(p, e);
    if (this.#stopping || p > this.#endsAt(q) || this.#interrupted(q)) this.#release(p, attempt);
    else if (!this.matcher(filterView(e))) {
      this.#cache.delete(p);
      const skip = {
        eventId: e.eventId,
        eventPosition: p,
        attempt,
        status: 'skipped' as const,
        durationMs: 0,
      };
      this.#recordResult(skip); // as the holder of the claim: the fold accepts it
    } else this.won.set(p, { attempt, claimPosition: p, failures: 0, eventId: e.eventId });
  }

  /** Bound events that are not cached (a deep backlog): read, then taken as above. */
  #adoptLater(positions: Position[]): void {
    const read = this.host
      .events(this.queue, positions)
      .then((records) => {
        const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
        const q = this.host.runtime.dispatch.queues.get(this.queue);
        for (const [p, e] of records) {
          const item = sub?.items.get(p);
          if (q && this.#boundToMe(item, p)) this.#adopted(e, item.attempt, q);
        }
        this.#startWon();
      })
      .finally(() => {
        for (const p of positions) this.#adopting.delete(p); // (after a failed read the leases run out)
      });
    this.#track(read);
  }

  async #claimAll(picks: Pick[], reservation: ReservationDraft | undefined): Promise<void> {
    const records =
      picks.length === 0
        ? new Map<Position, EventRecord>()
        : await this.host.events(
            this.queue,
            picks.map((p) => p.position),
          );
    const claimed: EventRecord[] = [];
    const items: ClaimItem[] = [];
    const skips: (ClaimItem & ResultOutcome)[] = [];
    for (const { position, attempt } of picks) {
      const e = records.get(position);
      if (!e) continue;
      if (!this.matcher(filterView(e))) {
        skips.push({
          eventId: e.eventId,
          eventPosition: position,
          attempt: 0,
          status: 'skipped',
          durationMs: 0,
        });
        this.#claiming.delete(position);
      } else if (this.options.delivery === 'broadcast') {
        this.#claiming.delete(position);
        this.#start(position, attempt, -1, attempt - 1, e); // broadcast attempts end only in results
      } else {
        items.push({ eventId: e.eventId, eventPosition: position, attempt });
        claimed.push(e);
      }
    }
    // One record for all the claims (each process folds it once), a plain one for a single claim; the
    // filter's skips after it.
    const [one] = items;
    const leaseMs = this.host.leaseMs;
    const source = this.#source();
    const drafts: RecordDraft[] = [];
    // Object.assign, not spreads (several times cheaper on Node 20): a single claim per event is the
    // common case at a trickle. Same key order as `{ type, ...source, ...one, leaseMs }`.
    if (items.length === 1 && one) {
      drafts.push(Object.assign({ type: 'claim.acquired' as const }, source, one, { leaseMs }));
    } else if (items.length > 1) {
      drafts.push(Object.assign({ type: 'claims.acquired' as const }, source, { leaseMs, items }));
    }
    const riding = this.#takeResults();
    drafts.push(...this.#resultDrafts(skips), ...this.#resultDrafts(riding));
    // (Stopping began while the events were read: no reservation may go out after its cancel.)
    if (reservation && this.#stopping) this.#unreserve(reservation);
    const reserving = this.#stopping ? undefined : reservation;
    if (drafts.length === 0 && !reserving) return;
    let positions: readonly Position[];
    try {
      positions = await this.#append(drafts, reserving);
    } catch (e) {
      // The results that rode along linger again for the next append; the claims are given up.
      for (const r of riding) this.#recordResult(r);
      throw e;
    }
    const claimPosition = positions[0] as Position;
    for (const e of claimed) {
      this.#claiming.set(e.position, claimPosition);
      this.#cache.set(e.position, e);
    }
    const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
    if (sub) this.#confirm(sub);
  }

  #cache = new Map<Position, EventRecord>();
  #step: Promise<void> | undefined; // the claim step under way

  /** Gives back a claim won after stopping began, so another worker need not wait for the lease. */
  #release(p: Position, attempt: number): void {
    const e = this.#cache.get(p);
    this.#cache.delete(p);
    if (!e) return;
    const draft: RecordDraft = {
      type: 'claim.released',
      queue: this.queue,
      eventId: e.eventId,
      eventPosition: p,
      subscriberId: this.subscriberId,
      workerId: this.host.workerId,
      attempt,
      reason: 'shutdown',
    };
    this.#track(this.host.append([draft], false));
  }

  #scanCompeting(sub: SubscriberState, q: QueueState, free: number, now: number): Pick[] {
    const hosts = liveHosts(this.host.runtime.workers, this.subscriberId, now);
    if (!hosts.includes(this.host.workerId)) hosts.push(this.host.workerId);
    hosts.sort();
    const { picks, wake } = scanCompeting({
      sub,
      q,
      free,
      now,
      hosts,
      me: this.host.workerId,
      graceMs: this.host.spreadGraceMs,
      ending: this.#endsAt(q),
      busy: (p) => this.#claiming.has(p) || this.running.has(p),
    });
    this.#wakeAt(wake, now);
    return picks;
  }

  /** Broadcast: every event from when hosting started (or the subscriber's start), in order. */
  #scanBroadcast(q: QueueState, free: number, now: number): { position: Position; attempt: number }[] {
    const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
    if (this.#nextIndex < 0)
      this.#nextIndex = lowerBound(q.positions, Math.max(this.hostedFrom + 1, sub?.reg.startPosition ?? 0));
    const picks: { position: Position; attempt: number }[] = [];
    let wake = Infinity;
    for (const [p, retry] of this.#retrying) {
      if (picks.length >= free) break;
      if (retry.at <= now) {
        this.#retrying.delete(p);
        picks.push({ position: p, attempt: retry.attempt });
      } else wake = Math.min(wake, retry.at);
    }
    for (const p of this.#delayed) {
      if (picks.length >= free) break;
      const at = q.availableAt[lowerBound(q.positions, p)] as number;
      if (at <= now) {
        this.#delayed.delete(p);
        picks.push({ position: p, attempt: 1 });
      } else wake = Math.min(wake, at);
    }
    const ending = this.#endsAt(q);
    while (picks.length < free && this.#nextIndex < q.positions.length) {
      const p = q.positions[this.#nextIndex] as Position;
      if (p > ending) break;
      const at = q.availableAt[this.#nextIndex] as number;
      this.#nextIndex++;
      if (at > now) {
        this.#delayed.add(p);
        wake = Math.min(wake, at);
      } else picks.push({ position: p, attempt: 1 });
    }
    this.#wakeAt(wake, now);
    return picks;
  }

  #wakeAt(at: number, now: number): void {
    if (at === Infinity || this.#stopping) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.tick(), Math.max(1, at - now + 1));
  }

  #start(
    p: Position,
    attempt: number,
    claimPosition: Position,
    failures: number,
    record?: EventRecord,
  ): void {
    const e = record ?? this.#cache.get(p);
    if (!e) return;
    this.#cache.delete(p);
    this.#startedSinceStep = true;
    const control = new AttemptControl();
    this.running.set(p, { attempt, claimPosition, control, eventId: e.eventId });
    const ctx: HandlerContext = {
      get signal() {
        return control.signal;
      },
      attempt,
      workerId: this.host.workerId,
      subscriber: this.options.name,
      publish: (payload, options = {}) => {
        const { queue = this.queue, ...rest } = options;
        const correlationId = e.headers.correlationId ?? e.eventId;
        return this.host.publish(queue, payload, { correlationId, ...rest, causationId: e.eventId }) as never;
      },
    };
    const started = performance.now();
    const event = toQueueEvent(e);
    runAttempt(
      () => this.handler(event, ctx),
      control,
      this.options.timeout,
      (outcome) => this.#finish(e, attempt, failures, outcome, started),
    );
  }

  /** An attempt ended: record its result (or give its claim back), free its slot, start the next. */
  #finish(e: EventRecord, attempt: number, failures: number, outcome: AttemptOutcome, started: number): void {
    if (outcome.status === 'released') {
      // Broadcast has no claim to give back.
      if (this.options.delivery !== 'broadcast') {
        const claim: ClaimItem = { eventId: e.eventId, eventPosition: e.position, attempt };
        const draft: RecordDraft = {
          type: 'claim.released',
          ...this.#source(),
          ...claim,
          reason: 'shutdown',
        };
        this.#track(this.host.append([draft], false));
      }
    } else {
      const retryable =
        outcome.status !== 'ok' &&
        failures + 1 <= this.options.retry.limit &&
        !(outcome.error instanceof InterruptedError) &&
        mayRetry(this.options.retryOn, outcome.error);
      const details = outcome.status === 'ok' ? plainDetails(outcome.details) : undefined;
      const retryAt = retryable ? Date.now() + backoff(this.options.retry, failures + 1) : undefined;
      // Built field by field, no conditional spreads: this runs for every event.
      const result: Writable<ClaimItem & ResultOutcome> = {
        eventId: e.eventId,
        eventPosition: e.position,
        attempt,
        status: outcome.status,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      };
      if (details !== undefined) result.details = details;
      if (outcome.status !== 'ok') result.error = errorInfo(outcome.error);
      if (retryAt !== undefined) result.retryAt = retryAt;
      this.#recordResult(result);
      // Broadcast has no claims to carry a retry to another worker: this worker runs the next attempt.
      if (this.options.delivery === 'broadcast' && retryAt !== undefined)
        this.#retrying.set(e.position, { at: retryAt, attempt: attempt + 1 });
    }
    // The slot frees now: the result's append and the next claims share one group commit. Not waiting
    // for the fsync: losing a result in a machine crash only re-runs the event (at-least-once).
    this.running.delete(e.position);
    if (this.running.size === 0 && this.#idle) {
      this.#idle();
      this.#idle = undefined;
    }
    this.#startWon();
    this.#tickSoon();
  }

  #idle: (() => void) | undefined;

  /** Resolves once no attempt is running. */
  #whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#idle;
      this.#idle = () => {
        before?.();
        resolve();
      };
    });
  }

  /** Keeps a write for shutdown to wait for; a failed one is reported (its lease runs out, another worker takes the event). */
  #track(write: Promise<unknown>): void {
    const tracked = write.then(
      () => undefined,
      (err: unknown) => this.host.report(err),
    );
    this.#writing.add(tracked);
    void tracked.then(() => this.#writing.delete(tracked));
  }

  #tickScheduled = false;

  /**
   * One tick at the end of the turn for all the attempts that finished in it: a scan per finished
   * attempt would walk the busy window again and again. (A won event waiting for a slot starts at once.)
   */
  #tickSoon(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    setImmediate(() => {
      this.#tickScheduled = false;
      this.tick();
    });
  }

  /** Result appends in flight (shutdown waits for them). */
  #writing = new Set<Promise<void>>();

  /** The fields every claim and result of this dispatcher shares. */
  #source(): { queue: string; subscriberId: string; workerId: string } {
    return { queue: this.queue, subscriberId: this.subscriberId, workerId: this.host.workerId };
  }

  /**
   * Results linger (up to {@link RESULT_LINGER_MS}) for the next claim append to carry them: at a low
   * rate each result would otherwise be a record of its own, that every process following the log wakes
   * up for — one more socket write and read per process and event. Those that finish together go as one
   * record: one `results.recorded` for many, a plain `result.recorded` for one. The first result starts
   * the clock; {@link MAX_BATCH_ITEMS} of them, or stopping, send them at once.
   */
  #recordResult(result: ClaimItem & ResultOutcome): void {
    this.#results.push(result);
    if (this.#results.length >= MAX_BATCH_ITEMS || this.#stopping) this.#flushResults();
    else this.#resultTimer ??= setTimeout(() => this.#flushResults(), RESULT_LINGER_MS);
  }

  #results: (ClaimItem & ResultOutcome)[] = [];
  #resultTimer: NodeJS.Timeout | undefined;

  /** The lingering results, for an append about to go (they are no longer lingering). */
  #takeResults(): (ClaimItem & ResultOutcome)[] {
    if (this.#resultTimer) clearTimeout(this.#resultTimer);
    this.#resultTimer = undefined;
    const taken = this.#results;
    this.#results = [];
    return taken;
  }

  /** Appends the lingering results now, with the reservation's top-up when one is due. */
  #flushResults(): void {
    const taken = this.#takeResults();
    if (taken.length === 0) return;
    const drafts = this.#resultDrafts(taken);
    const sub = this.host.runtime.dispatch.subscribers.get(this.subscriberId);
    const q = this.host.runtime.dispatch.queues.get(this.queue);
    this.#track(this.#append(drafts, sub && q ? this.#reserve(sub, q) : undefined));
  }

  /** Results as records: one `results.recorded` per {@link MAX_BATCH_ITEMS}, a `result.recorded` for one. */
  #resultDrafts(items: readonly (ClaimItem & ResultOutcome)[]): RecordDraft[] {
    const [one] = items;
    const source = this.#source();
    if (items.length === 1 && one) return [Object.assign({ type: 'result.recorded' as const }, source, one)];
    const drafts: RecordDraft[] = [];
    for (let i = 0; items.length > 1 && i < items.length; i += MAX_BATCH_ITEMS) {
      const batch = items.slice(i, i + MAX_BATCH_ITEMS);
      drafts.push(Object.assign({ type: 'results.recorded' as const }, source, { items: batch }));
    }
    return drafts;
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** A reservation on its way: appended at `position` (-1 while in flight); `cancel` gives it back. */
interface PendingReservation {
  position: Position;
  readonly slots: number;
  readonly cancel: boolean;
}

/** A `claim.reserved` draft and its entry among the reservations on their way. */
interface ReservationDraft {
  readonly draft: RecordDraft;
  readonly pending: PendingReservation;
}

export function toQueueEvent<T>(e: EventRecord): QueueEvent<T> {
  return queueEvent<T>(e, e.position, e.time);
}

/** The event of an `event.published` record or draft, appended at `position` and log time `time`. */
export function queueEvent<T>(
  e: Omit<EventRecord, 'v' | 'position' | 'time'>,
  position: Position,
  time: number,
): QueueEvent<T> {
  return {
    id: e.eventId,
    position,
    queue: e.queue,
    payload: e.payload as T,
    publishedAt: time,
    headers: e.headers,
    availableAt: e.availableAt ?? time + (e.delay ?? 0),
  };
}

function filterView(e: EventRecord): unknown {
  return { id: e.eventId, queue: e.queue, payload: e.payload, headers: e.headers, publishedAt: e.time };
}
