import type { QueueState, SubscriberState, WorkItem } from '../../projections/dispatch/index.js';
import type { Position } from '../../engine/position.js';
import type { RecordDraft } from '../../engine/records.js';
import type { Attempts } from './attempts.js';
import type { DispatchScope, EventRecord } from './context.js';
import { reservedDraft, skippedItem } from './drafts.js';
import type { ResultBatch } from './result-batch.js';

/**
 * Reservations (`claim.reserved`): this worker's free slots, reserved for the events to come, so the
 * fold binds each new event to it as it is appended and it runs after one trip through the log.
 *
 * The worker's reservation: NONE → PENDING (a record on its way: {@link reserve}, a top-up riding the
 * next claim or result append, or {@link giveBack}) → LIVE (folded, before its expiry by log time) →
 * renewed by the heartbeat ({@link renews}) while the worker has room, or lapsing when it is busy;
 * given back under a backlog ({@link giveBack}); CANCELLED when stopping ({@link cancel}).
 * A bound event: BOUND (the fold gave it to this worker, the event is its own claim) → READING (not
 * cached: read first) → HELD (see attempts.ts), SKIPPED by the filter, or RELEASED (stopping, or an
 * end/interrupt order came before it). {@link takeBound} looks at each event of the queue once.
 */

/** A reservation on its way: appended at `position` (-1 while in flight); `cancel` gives it back. */
interface PendingReservation {
  position: Position;
  readonly slots: number;
  readonly cancel: boolean;
}

/** A `claim.reserved` draft and its entry among the reservations on their way. */
export interface ReservationDraft {
  readonly draft: RecordDraft;
  readonly pending: PendingReservation;
}

export class Reservations {
  /** Reservations appended and not yet folded. */
  #pending: PendingReservation[] = [];
  /** The position of the record cancelling the reservation when stopping (-1: none, or it failed). */
  #cancelled: Promise<Position> | undefined;
  /** BOUND events being read before they are taken. */
  readonly #reading = new Set<Position>();
  /** Absolute index into the queue's events of the first one {@link takeBound} has not looked at. */
  #boundFrom = 0;
  #shared = false;

  constructor(
    private readonly scope: DispatchScope,
    private readonly attempts: Attempts,
    private readonly results: ResultBatch,
  ) {}

  /**
   * Whether this dispatcher reserves: competing delivery, not turned off, and the only dispatcher of its
   * subscriber in this worker (events bound to the worker would otherwise be taken by both).
   */
  get enabled(): boolean {
    const options = this.scope.spec.options;
    return options.delivery === 'competing' && options.reserve && !this.#shared;
  }

  /** Another dispatcher of the same subscriber runs in this worker: this one only claims. */
  share(): void {
    this.#shared = true;
  }

  /** BOUND events being read. */
  get reading(): number {
    return this.#reading.size;
  }

  /** Resolves to the position of the cancelling record (-1: none); undefined before {@link cancel}. */
  get cancelled(): Promise<Position> | undefined {
    return this.#cancelled;
  }

  /**
   * Slots reserved for this worker: LIVE plus PENDING. Live by the fold's log time, never this machine's
   * clock: a clock ahead of the log would see every reservation expired and reserve again and again.
   */
  slots(sub: SubscriberState): number {
    const { views, workerId } = this.scope.ctx;
    const folded = views.position;
    let slots = 0;
    if (this.#pending.length > 0) {
      this.#pending = this.#pending.filter((r) => r.position < 0 || r.position > folded);
      for (const r of this.#pending) {
        if (r.cancel) return 0; // given back: none from now (a top-up after it starts over)
        slots += r.slots;
      }
    }
    const live = sub.reservations.get(workerId);
    return live !== undefined && live.expiresAt > views.dispatch.time ? slots + live.slots : slots;
  }

  /** True while the subscriber takes reservations: registered, competing, not deleted. */
  #open(sub: SubscriberState): boolean {
    return this.enabled && !this.scope.stopping && !sub.deleted && sub.reg.delivery === 'competing';
  }

  /**
   * → PENDING: the reservation to append with the next claims or results — the slots nothing fills (no
   * backlog), so the next events are bound to this worker as they are appended.
   */
  reserve(sub: SubscriberState, q: QueueState): ReservationDraft | undefined {
    if (!this.#open(sub) || this.scope.endsAt(q) !== Infinity || this.scope.interrupted(q)) return undefined;
    const slots = this.scope.spec.options.concurrency - this.scope.taken() - this.slots(sub);
    if (slots <= 0) return undefined;
    return this.#draft(slots, this.scope.ctx.livenessMs, true);
  }

  /**
   * → PENDING (cancel): a backlog (the scan filled every slot) — the slots are better used on the
   * events that wait, new events would overtake those, and a worker that had reserved, then also
   * claimed, would be committed beyond concurrency + prefetch.
   */
  giveBack(): ReservationDraft {
    return this.#draft(0, 0, true);
  }

  /**
   * Whether the heartbeat renews the reservation (`worker.heartbeat`'s `renews`): while the worker holds
   * one it has room for (a worker that got busy lets it lapse rather than keep events waiting for it).
   * The heartbeat's `ttlMs` is the worker's liveness, which reservations live as long as.
   */
  renews(sub: SubscriberState): boolean {
    if (!this.#open(sub)) return false;
    const reserved = this.slots(sub);
    return reserved > 0 && this.scope.taken() + reserved <= this.scope.spec.options.concurrency;
  }

  /** → CANCELLED (stopping): no event binds to this worker any more (those bound already are released). */
  cancel(sub: SubscriberState | undefined): void {
    if (!this.enabled || !sub) return;
    const live = sub.reservations.get(this.scope.ctx.workerId);
    if (live === undefined && this.#pending.length === 0) return;
    const write = this.scope.ctx.append([this.#draft(0, 0).draft], false);
    this.#cancelled = write.then(
      ({ positions }) => positions[0] as Position,
      () => -1,
    );
    this.scope.track(write);
  }

  /**
   * Appends `drafts` with the reservation (if any) last: its PENDING entry gets its position, or is taken
   * back when the append fails.
   */
  async append(
    drafts: RecordDraft[],
    reservation: ReservationDraft | undefined,
  ): Promise<readonly Position[]> {
    if (reservation) drafts.push(reservation.draft);
    try {
      const { positions } = await this.scope.ctx.append(drafts, false);
      if (reservation) reservation.pending.position = positions[drafts.length - 1] as Position;
      return positions;
    } catch (e) {
      if (reservation) this.drop(reservation);
      throw e;
    }
  }

  /** A reservation that will not be appended after all (stopping, or its append failed). */
  drop(reservation: ReservationDraft): void {
    this.#pending = this.#pending.filter((r) => r !== reservation.pending);
  }

  /**
   * A `claim.reserved` draft; `pending`: counted among the reservations on their way from now (a second
   * {@link reserve} before it is appended counts it; {@link drop} takes it back).
   */
  #draft(slots: number, ttlMs: number, pending = false): ReservationDraft {
    const draft = reservedDraft(this.scope.source, slots, this.scope.ctx.leaseMs, ttlMs);
    const entry = { position: -1, slots, cancel: ttlMs === 0 };
    if (pending) this.#pending.push(entry);
    return { draft, pending: entry };
  }

  /** BOUND → HELD / SKIPPED / RELEASED, or → READING when not cached; each event of the queue once. */
  takeBound(sub: SubscriberState, q: QueueState): void {
    if (!this.enabled) return;
    const { positions, base } = q;
    const count = base + positions.length;
    if (this.#boundFrom >= count) return;
    const { ctx, spec } = this.scope;
    let missing: Position[] | undefined;
    // From the finishedBelow, never below the base (event-index.ts's floor).
    for (let i = Math.max(this.#boundFrom, sub.finishedBelow) - base; i < positions.length; i++) {
      const p = positions[i] as Position;
      const item = sub.items.get(p);
      if (!this.#boundHere(item, p)) continue;
      const e = ctx.cachedEvent(spec.queue, p);
      if (e === undefined) {
        (missing ??= []).push(p);
        this.#reading.add(p);
        continue;
      }
      this.#take(e, item.attempt, q);
    }
    this.#boundFrom = count;
    if (missing) this.#read(missing);
    this.attempts.startHeld();
  }

  /** An item the fold bound to this worker's reservation, not yet taken. */
  #boundHere(item: WorkItem | undefined, p: Position): item is WorkItem {
    return (
      item !== undefined &&
      item.claimPosition === p &&
      item.owner === this.scope.ctx.workerId &&
      item.status === 'claimed' &&
      !this.scope.owns(p)
    );
  }

  /**
   * BOUND → HELD, SKIPPED by the filter, or RELEASED — when stopping, or when an end or interrupt order
   * came before it (a reservation appended while the order was on its way may bind events that are for
   * the workers that come later).
   */
  #take(e: EventRecord, attempt: number, q: QueueState): void {
    const p = e.position;
    if (this.scope.stopping || p > this.scope.endsAt(q) || this.scope.interrupted(q)) {
      this.attempts.release(e, attempt);
    } else if (!this.scope.spec.matcher(e)) {
      this.results.add(skippedItem(e.eventId, p, attempt)); // as the holder of the claim: the fold accepts it
    } else this.attempts.hold(p, { record: e, attempt, claimPosition: p, failures: 0 });
  }

  /** READING → taken as above (after a failed read the leases run out). */
  #read(positions: Position[]): void {
    const { ctx, spec } = this.scope;
    const read = ctx
      .events(spec.queue, positions)
      .then((records) => {
        const sub = ctx.views.dispatch.subscribers.get(spec.subscriberId);
        const q = ctx.views.dispatch.queues.get(spec.queue);
        for (const [p, e] of records) {
          const item = sub?.items.get(p);
          if (q && this.#boundHere(item, p)) this.#take(e, item.attempt, q);
        }
        this.attempts.startHeld();
      })
      .finally(() => {
        for (const p of positions) this.#reading.delete(p);
      });
    this.scope.track(read);
  }
}
