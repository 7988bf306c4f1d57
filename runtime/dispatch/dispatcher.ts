import { oldestOpen, type QueueState, type SubscriberState } from '../../projections/dispatch/index.js';
import { HookSet } from '../hooks.js';
import { InterruptedError, ShutdownError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import { MAX_BATCH_ITEMS, type RecordDraft } from '../../engine/records.js';
import { Attempts } from './attempts.js';
import { BroadcastCursor } from './broadcast.js';
import { ClaimAhead } from './claim-ahead.js';
import { ClaimLoop } from './claim-loop.js';
import type { DispatchContext, DispatchScope, SubscriptionSpec } from './context.js';
import { earlyEnd } from './early-end.js';
import { draftSource, resultDrafts, type DraftSource, type ResultItem } from './drafts.js';
import { Reservations, type ReservationDraft } from './reservations.js';
import { ResultBatch } from './result-batch.js';

/**
 * Runs one subscriber's handler in this process. Competing: claims its share of the claimable events
 * (the rest after a grace), in batches, and runs those the fold says it won or bound to its reservation.
 * Broadcast: runs every event from when it was attached, without claims. The concerns live in their
 * own modules (claim-loop, broadcast, reservations, attempts, result-batch, drafts); this one schedules
 * the scans:
 *
 *   IDLE      nothing under way; a tick starts a scan                      → SCANNING
 *   SETTLING  attempts started since the last scan: a tick lets one turn
 *             pass first, so that quick handlers free their slots and the
 *             next scan claims them in one batch                            → IDLE (+ a tick next turn)
 *   SCANNING  a claim step (scan, read, append) under way                  → RESCAN, IDLE, SETTLING
 *   RESCAN    the views changed during the scan: tick again after it       → IDLE, SETTLING
 *   STOPPING  stop(), an end order drained, or an interrupt: no new work   → STOPPED
 *   STOPPED   stop() finished: in-flight work finished or was released
 *
 * Every transition goes through {@link #setMode}, which asserts it is one of these.
 */
type Mode = 'IDLE' | 'SETTLING' | 'SCANNING' | 'RESCAN' | 'STOPPING' | 'STOPPED';

const NEXT: Readonly<Record<Mode, readonly Mode[]>> = {
  IDLE: ['SCANNING', 'SETTLING', 'STOPPING'],
  SETTLING: ['IDLE', 'STOPPING'],
  SCANNING: ['RESCAN', 'IDLE', 'SETTLING', 'STOPPING'],
  RESCAN: ['IDLE', 'SETTLING', 'STOPPING'],
  STOPPING: ['STOPPED'],
  STOPPED: [],
};

export class Dispatcher implements DispatchScope {
  readonly source: DraftSource;
  #mode: Mode = 'IDLE';
  /** The claim step under way (stop() waits for it), and the attempts started before it began. */
  #scan: Promise<void> | undefined;
  #startsBeforeScan = 0;
  #starts = 0;
  /** How far to claim ahead when `prefetch` was not given (competing only). */
  readonly #ahead: ClaimAhead | undefined;
  #wakeTimer: NodeJS.Timeout | undefined;
  /** The tick at the end of this turn, once one is asked for. */
  #turnTick: NodeJS.Immediate | undefined;
  /** Why it stopped taking work, once it did: an end order drained, an interrupt, or stop(). */
  #why: 'end' | 'interrupt' | 'stop' | undefined;
  /** How it ended here, once it did (see {@link done}). */
  #ended: { readonly error?: Error } | undefined;
  #endWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** An end order from before attaching that still applies to it (see early-end.ts). */
  #earlyEnd: Position | null | undefined;
  /** Writes in flight (stop() waits for them). */
  readonly #writing = new Set<Promise<void>>();
  readonly #parts: {
    readonly attempts: Attempts;
    readonly claims: ClaimLoop;
    readonly reservations: Reservations;
    readonly results: ResultBatch;
    readonly broadcast: BroadcastCursor | undefined;
  };

  constructor(
    readonly ctx: DispatchContext,
    readonly spec: SubscriptionSpec,
  ) {
    this.source = draftSource(spec.queue, spec.subscriberId, ctx.workerId);
    const results = new ResultBatch(
      () => this.stopping,
      (items) => this.#flushResults(items),
    );
    const broadcast = spec.options.delivery === 'broadcast' ? new BroadcastCursor(ctx.workerId) : undefined;
    const attempts = new Attempts(this, results, broadcast);
    const reservations = new Reservations(this, attempts, results);
    const claims = new ClaimLoop(this, attempts, reservations, results);
    this.#parts = { attempts, claims, reservations, results, broadcast };
    const { options } = spec;
    if (options.prefetchAuto && options.delivery === 'competing')
      this.#ahead = new ClaimAhead(options.prefetch);
  }

  get queue(): string {
    return this.spec.queue;
  }
  get subscriberId(): string {
    return this.spec.subscriberId;
  }
  get options(): SubscriptionSpec['options'] {
    return this.spec.options;
  }

  get stopping(): boolean {
    return this.#mode === 'STOPPING' || this.#mode === 'STOPPED';
  }

  /** True once it stopped taking work (stopped, ended, interrupted). */
  get stopped(): boolean {
    return this.stopping;
  }

  #setMode(to: Mode): void {
    if (!NEXT[this.#mode].includes(to)) throw new Error(`dispatcher: no transition ${this.#mode} → ${to}`);
    this.#mode = to;
  }

  /** Re-evaluates after the views changed. Cheap when there is nothing to do. */
  tick(): void {
    const { dispatch } = this.ctx.views;
    const sub = dispatch.subscribers.get(this.spec.subscriberId);
    const q = dispatch.queues.get(this.spec.queue);
    if (!sub || !q) return;
    const { attempts, claims, reservations } = this.#parts;
    claims.confirm(sub);
    reservations.takeBound(sub, q);
    if (this.spec.options.delivery === 'competing') attempts.watchLeases(sub);
    this.#obeyControl(sub, q);
    switch (this.#mode) {
      case 'SCANNING':
        this.#setMode('RESCAN');
        return;
      case 'SETTLING':
        this.#setMode('IDLE');
        this.#tickSoon();
        return;
      case 'IDLE':
        this.#setMode('SCANNING');
        this.#startsBeforeScan = this.#starts;
        this.#scan = this.#claimStep(sub, q);
        return;
      default: // RESCAN, STOPPING, STOPPED
        return;
    }
  }

  /** SCANNING / RESCAN → IDLE or SETTLING (attempts started during the scan); RESCAN ticks again. */
  #scanEnded(): void {
    if (this.stopping) return;
    const rescan = this.#mode === 'RESCAN';
    this.#setMode(this.#starts !== this.#startsBeforeScan ? 'SETTLING' : 'IDLE');
    if (rescan) setImmediate(() => this.tick());
  }

  attemptStarted(): void {
    this.#starts++;
    if (this.#mode === 'IDLE') this.#setMode('SETTLING');
  }

  slotFreed(): void {
    this.#tickSoon();
  }

  /**
   * One tick at the end of the turn for all the attempts that finished in it: a scan per finished
   * attempt would walk the busy window again and again. (A held event waiting for a slot starts at once.)
   */
  #tickSoon(): void {
    if (this.#turnTick !== undefined) return;
    this.#turnTick = setImmediate(() => {
      this.#turnTick = undefined;
      this.tick();
    });
  }

  /** → STOPPING, and the waits for it: released held claims, drained attempts, flushed results. */
  async stop(drainMs: number): Promise<void> {
    this.#applyInterrupt();
    if (!this.stopping) {
      this.#why ??= 'stop';
      this.#setMode('STOPPING');
    }
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    const { attempts, reservations, results } = this.#parts;
    reservations.cancel(this.ctx.views.dispatch.subscribers.get(this.spec.subscriberId));
    await this.#settleClaims();
    attempts.releaseHeld();
    const all = attempts.whenIdle();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
    await Promise.race([all, late]);
    clearTimeout(timer);
    attempts.abortAll(() => new ShutdownError());
    await all;
    results.flushNow();
    await Promise.all(this.#writing);
    this.#settleEnd();
    if (this.#mode !== 'STOPPING') return;
    this.#setMode('STOPPED');
    const { workerId } = this.ctx;
    const info = { workerId, queue: this.spec.queue, subscriber: this.spec.options.name };
    await HookSet.of(...this.spec.options.hooks)?.run('onShutdown', info);
  }

  /**
   * Settles once the subscription ended in this process: resolves when an end order drained (or on
   * stop()), rejects with an InterruptedError on an interrupt. A new promise per call, so an
   * interrupt rejects only promises someone holds.
   */
  done(): Promise<void> {
    const ended = this.#ended;
    const done = ended
      ? ended.error
        ? Promise.reject(ended.error)
        : Promise.resolve()
      : new Promise<void>((resolve, reject) => this.#endWaiters.push({ resolve, reject }));
    // Handled here too: an interrupt may reject it before its holder awaits it (the holder still sees
    // the rejection), which must not end the process as an unhandled rejection.
    done.catch(() => undefined);
    return done;
  }

  #settleEnd(): void {
    if (this.#ended || this.#parts.attempts.running > 0) return;
    this.#ended =
      this.#why === 'interrupt' ? { error: new InterruptedError('the queue was interrupted') } : {};
    for (const w of this.#endWaiters.splice(0)) {
      if (this.#ended.error) w.reject(this.#ended.error);
      else w.resolve();
    }
  }

  /** Another dispatcher of the same subscriber runs in this worker: this one only claims. */
  shareSubscriber(): void {
    this.#parts.reservations.share();
  }

  /**
   * The heartbeat's part: lease extensions of held and running claims into `drafts`; the subscriber into
   * `renews` when the heartbeat is to renew its reservation.
   */
  keepAlive(drafts: RecordDraft[], renews: string[]): void {
    if (this.spec.options.delivery !== 'competing') return;
    const sub = this.ctx.views.dispatch.subscribers.get(this.spec.subscriberId);
    if (sub && this.#parts.reservations.renews(sub)) renews.push(this.spec.subscriberId);
    this.#parts.attempts.extensions(drafts, this.ctx.leaseMs);
  }

  /** Waits for the claims under way to be folded: those this worker won are released, not run. */
  async #settleClaims(): Promise<void> {
    const { claims, reservations } = this.#parts;
    try {
      await this.#scan;
      const cancelledAt = (await reservations.cancelled) ?? -1;
      const appended = [...claims.appended(), cancelledAt].filter((cp) => cp >= 0);
      if (appended.length > 0) await this.ctx.views.waitFor(Math.max(...appended));
      const sub = this.ctx.views.dispatch.subscribers.get(this.spec.subscriberId);
      const q = this.ctx.views.dispatch.queues.get(this.spec.queue);
      if (sub) claims.confirm(sub);
      if (sub && q) reservations.takeBound(sub, q);
    } catch (e) {
      this.ctx.report(e); // unreleased claims run out with their lease
    }
  }

  /** An interrupt → STOPPING (running attempts aborted); an end order once everything before it is done. */
  #obeyControl(sub: SubscriberState, q: QueueState): void {
    const { attempts, claims, broadcast } = this.#parts;
    this.#applyInterrupt(q);
    if (this.#earlyEnd === undefined) this.#earlyEnd = earlyEnd(this.spec, sub, q);
    const ending = this.endsAt(q);
    if (
      ending !== Infinity &&
      attempts.running === 0 &&
      claims.size === 0 &&
      (broadcast?.retrying ?? 0) === 0
    ) {
      const next = broadcast ? q.positions[broadcast.next - q.base] : oldestOpen(sub, q);
      if ((next === undefined || next > ending) && !this.stopping) {
        this.#why = 'end';
        this.#setMode('STOPPING');
      }
    }
    if (this.stopping && this.#why !== 'stop') this.#settleEnd();
  }

  /** One claim step: scan, then claim (with the reservation's top-up or give-back) in one append. */
  async #claimStep(sub: SubscriberState, q: QueueState): Promise<void> {
    const { claims, reservations, results, broadcast } = this.#parts;
    const options = this.spec.options;
    try {
      const now = Date.now();
      const ahead = this.#ahead;
      ahead?.started(this.#starts, performance.now());
      const prefetch = ahead?.prefetch ?? options.prefetch;
      const free = Math.min(MAX_BATCH_ITEMS, options.concurrency + prefetch) - this.taken();
      if (free <= 0) return;
      const { candidates, wake } = broadcast
        ? broadcast.scan(sub, q, free, now, this.endsAt(q))
        : claims.scan(sub, q, free, now);
      this.#wakeAt(wake, now);
      claims.mark(candidates);
      const held = reservations.slots(sub);
      let reservation: ReservationDraft | undefined;
      if (candidates.length >= free && held > 0) {
        reservation = reservations.giveBack(); // a backlog: see Reservations.giveBack
      } else {
        // A top-up while slots are still reserved waits for the lingering results' append (see
        // #flushResults): at a trickle, one append, and one record for every process to wake up for,
        // per few events instead of per event.
        if (candidates.length === 0 && results.lingering && held > 0) return;
        reservation = reservations.reserve(sub, q);
      }
      if (candidates.length === 0 && reservation === undefined) return;
      const sent = performance.now();
      await claims.claim(candidates, reservation);
      if (candidates.length > 0) ahead?.tripped(performance.now() - sent);
    } catch (e) {
      claims.dropInFlight();
      this.ctx.report(e);
    } finally {
      this.#scanEnded();
    }
  }

  /** Appends results that lingered, with the reservation's top-up when one is due. */
  #flushResults(items: ResultItem[]): void {
    const drafts: RecordDraft[] = [];
    resultDrafts(this.source, items, drafts);
    const { dispatch } = this.ctx.views;
    const sub = dispatch.subscribers.get(this.spec.subscriberId);
    const q = dispatch.queues.get(this.spec.queue);
    const reservations = this.#parts.reservations;
    this.track(reservations.append(drafts, sub && q ? reservations.reserve(sub, q) : undefined));
  }

  #wakeAt(at: number, now: number): void {
    if (at === Infinity || this.stopping) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = setTimeout(() => this.tick(), Math.max(1, at - now + 1));
  }

  // DispatchScope

  taken(): number {
    const { attempts, claims, reservations } = this.#parts;
    return attempts.size + claims.size + reservations.reading;
  }

  owns(p: Position): boolean {
    return this.#parts.attempts.owns(p) || this.#parts.claims.has(p);
  }

  endsAt(q: QueueState): Position {
    if (q.endedAt === undefined) return Infinity;
    if (q.endedAt > this.spec.attachedAt) return q.endedAt;
    return this.#earlyEnd ?? Infinity;
  }

  /**
   * An interrupt order folded after attaching aborts every running attempt, once, also when stop() came
   * first (the handlers must see it, and their results are failures, not ok).
   */
  #applyInterrupt(q = this.ctx.views.dispatch.queues.get(this.spec.queue)): void {
    if (this.#why === 'interrupt' || !q || !this.interrupted(q)) return;
    this.#why = 'interrupt';
    if (!this.stopping) this.#setMode('STOPPING');
    this.#parts.attempts.abortAll(() => new InterruptedError('the queue was interrupted'));
  }

  interrupted(q: QueueState): boolean {
    return q.interruptedAt !== undefined && q.interruptedAt > this.spec.attachedAt;
  }

  track(write: Promise<unknown>): void {
    const tracked = write.then(
      () => undefined,
      (err: unknown) => this.ctx.report(err),
    );
    this.#writing.add(tracked);
    void tracked.then(() => this.#writing.delete(tracked));
  }
}
