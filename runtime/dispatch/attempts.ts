import { ownerDead, type SubscriberState } from '../../projections/dispatch/index.js';
import { InterruptedError, LeaseLostError } from '../../engine/errors.js';
import type { Position } from '../../engine/position.js';
import type { RecordDraft } from '../../engine/records.js';
import { toQueueEvent } from '../queue-event.js';
import { backoff, mayRetry } from '../subscribe-options.js';
import type { HookSet } from '../hooks.js';
import type { HandlerContext, QueueEvent } from '../types.js';
import type { BroadcastCursor } from './broadcast.js';
import type { DispatchScope, EventRecord } from './context.js';
import { AttemptContext } from './handler-context.js';
import { extendedDraft, releasedDraft, resultItem } from './drafts.js';
import type { ResultBatch } from './result-batch.js';
import {
  AttemptControl,
  AttemptRun,
  type AttemptOutcome,
  type AttemptOwner,
  errorInfo,
  plainDetails,
} from './run-attempt.js';

/**
 * The attempt lifecycle of one dispatcher's events:
 *
 *   HELD (the fold gave the event to this worker — its claim won, or its reservation bound it — and it
 *   waits for a slot, up to `prefetch` of them) → RUNNING (the handler runs in a slot) → FINISHED (a
 *   result is recorded) or RELEASED (given back on shutdown). A HELD event is dropped, and a RUNNING one
 *   aborted, when the fold gives its lease to someone else; HELD events are given back when stopping.
 *
 * Each transition goes through one method: {@link hold}, {@link #start} (via {@link startHeld}, or
 * {@link startNow} for broadcast, which has no claim), {@link #finish}, {@link release}, {@link watchLeases}.
 * Invariant: an event is HELD or RUNNING, never both; RUNNING never exceeds `concurrency` through HELD.
 */

/** An event the fold gave to this worker, waiting for a slot. */
export interface Held {
  readonly record: EventRecord;
  readonly attempt: number;
  /** The claim's position (the fencing token): the event's own for a bound event. */
  readonly claimPosition: Position;
  readonly failures: number;
}

export class Attempts implements AttemptOwner {
  readonly #running = new Map<Position, AttemptRun>();
  /** HELD events: claiming ahead keeps the next events ready while the current ones run. */
  readonly #held = new Map<Position, Held>();
  #idle: (() => void) | undefined;

  constructor(
    private readonly scope: DispatchScope,
    private readonly results: ResultBatch,
    private readonly broadcast: BroadcastCursor | undefined,
  ) {}

  get running(): number {
    return this.#running.size;
  }

  /** HELD and RUNNING events. */
  get size(): number {
    return this.#running.size + this.#held.size;
  }

  isRunning(p: Position): boolean {
    return this.#running.has(p);
  }

  owns(p: Position): boolean {
    return this.#running.has(p) || this.#held.has(p);
  }

  /** → HELD. */
  hold(p: Position, held: Held): void {
    if (this.#running.has(p)) throw new Error(`dispatch: event ${p} is already running`);
    this.#held.set(p, held);
  }

  /** HELD → RUNNING while slots are free; nothing starts once stopping. */
  startHeld(): void {
    if (this.scope.stopping) return;
    const concurrency = this.scope.spec.options.concurrency;
    for (const [p, h] of this.#held) {
      if (this.#running.size >= concurrency) return;
      this.#held.delete(p);
      this.#start(p, h.record, h.attempt, h.claimPosition, h.failures);
    }
  }

  /** → RUNNING at once: a broadcast event (no claim; its attempts end only in results). */
  startNow(record: EventRecord, attempt: number): void {
    this.#start(record.position, record, attempt, -1, attempt - 1);
  }

  #start(p: Position, e: EventRecord, attempt: number, claimPosition: Position, failures: number): void {
    const { ctx, spec } = this.scope;
    this.scope.attemptStarted();
    this.results.forget(p, attempt);
    const control = new AttemptControl();
    const handlerCtx = new AttemptContext(
      control,
      attempt,
      ctx.workerId,
      spec.options.name,
      ctx,
      spec.queue,
      e,
    );
    const event = toQueueEvent(e);
    const run = new AttemptRun(
      this,
      control,
      e,
      attempt,
      claimPosition,
      failures,
      event,
      handlerCtx,
      spec.handler,
    );
    this.#running.set(p, run);
    const timeout = spec.options.timeout;
    if (spec.hooks?.has('onReceived')) {
      void spec.hooks.run('onReceived', event, handlerCtx).then(() => run.start(timeout));
    } else run.start(timeout);
  }

  /** RUNNING → FINISHED or RELEASED: the run's end (its {@link AttemptOwner} callback), then its hooks. */
  finished(run: AttemptRun, outcome: AttemptOutcome): void {
    const e = run.record;
    this.#finish(e, run.attempt, run.failures, outcome, run.started);
    const hooks = this.scope.spec.hooks;
    if (hooks === undefined || outcome.status === 'released') this.#free(e.position);
    else void this.#verdict(hooks, run.event, run.ctx, outcome).then(() => this.#free(e.position));
  }

  /** The attempt's one success or failure hook, with the framework's verdict. */
  #verdict(hooks: HookSet, event: QueueEvent, ctx: HandlerContext, outcome: AttemptOutcome): Promise<void> {
    if (outcome.status === 'ok') return hooks.run('onSuccess', event, outcome.details, ctx);
    if (outcome.status === 'skipped') return hooks.run('onSuccess', event, outcome.skip, ctx);
    return hooks.run('onFailure', event, outcome.error, ctx);
  }

  /** RUNNING → FINISHED (a result) or RELEASED (the claim given back); frees the slot, starts the next. */
  #finish(e: EventRecord, attempt: number, failures: number, outcome: AttemptOutcome, started: number): void {
    const options = this.scope.spec.options;
    if (outcome.status === 'released') {
      // Broadcast has no claim to give back.
      if (options.delivery !== 'broadcast') this.release(e, attempt);
    } else {
      // An interrupted attempt is retried while the limit allows, whatever `retryOn` says: the handler
      // did not fail, it was stopped (ezq's Interrupt leaves the message unacknowledged).
      const retryable =
        (outcome.status === 'failed' || outcome.status === 'timeout') &&
        failures + 1 <= options.retry.limit &&
        (outcome.error instanceof InterruptedError || mayRetry(options.retryOn, outcome.error));
      const details =
        outcome.status === 'ok' || outcome.status === 'skipped' ? plainDetails(outcome.details) : undefined;
      const retryAt = retryable ? Date.now() + backoff(options.retry, failures + 1) : undefined;
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      const error =
        outcome.status === 'failed' || outcome.status === 'timeout' ? errorInfo(outcome.error) : undefined;
      this.results.add(
        resultItem(e.eventId, e.position, attempt, outcome.status, durationMs, details, error, retryAt),
      );
      // Broadcast has no claims to carry a retry to another worker: this worker runs the next attempt.
      if (this.broadcast && retryAt !== undefined) this.broadcast.retry(e.position, retryAt, attempt + 1);
    }
  }

  /**
   * Frees the event's slot (after its hooks, if any) and starts the next. The result's append and the
   * next claims share one group commit. Not waiting for the fsync: losing a result in a machine crash
   * only re-runs the event (at-least-once).
   */
  #free(p: Position): void {
    this.#running.delete(p);
    if (this.#running.size === 0 && this.#idle) {
      this.#idle();
      this.#idle = undefined;
    }
    this.startHeld();
    this.scope.slotFreed();
  }

  /** → RELEASED: gives a claim back (shutdown), so another worker need not wait for the lease. */
  release(e: EventRecord, attempt: number): void {
    this.scope.track(this.scope.ctx.append([this.#released(e, attempt)], false));
  }

  /** HELD → RELEASED, every one (stopping), in one append: a worker may hold hundreds (claim-ahead.ts). */
  releaseHeld(): void {
    const drafts = [...this.#held.values()].map((h) => this.#released(h.record, h.attempt));
    this.#held.clear();
    if (drafts.length > 0) this.scope.track(this.scope.ctx.append(drafts, false));
  }

  #released(e: EventRecord, attempt: number): RecordDraft {
    return releasedDraft(this.scope.source, { eventId: e.eventId, eventPosition: e.position, attempt });
  }

  /**
   * Drops HELD events and aborts RUNNING ones whose lease the fold gave to someone else, or whose claim
   * ended because the fold takes this worker as dead (it sent no heartbeat for its TTL): another worker
   * reports that attempt failed and runs the event again.
   */
  watchLeases(sub: SubscriberState): void {
    const state = this.scope.ctx.views.dispatch;
    const lost = (p: Position, claimPosition: Position): boolean => {
      const item = sub.items.get(p);
      return item?.claimPosition !== claimPosition || ownerDead(state, item, state.time);
    };
    for (const [p, h] of this.#held) {
      if (lost(p, h.claimPosition)) this.#held.delete(p);
    }
    for (const [p, r] of this.#running) {
      if (!r.control.aborted && lost(p, r.claimPosition)) r.control.abort(new LeaseLostError());
    }
  }

  /** Aborts every RUNNING attempt (each with its own error: interrupt, shutdown). */
  abortAll(reason: () => Error): void {
    for (const r of this.#running.values()) r.control.abort(reason());
  }

  /** Lease extensions of every HELD and RUNNING claim, for the heartbeat. */
  extensions(drafts: RecordDraft[], leaseMs: number): void {
    const source = this.scope.source;
    for (const [p, r] of this.#running)
      drafts.push(extendedDraft(source, claim(r.eventId, p, r.attempt), leaseMs));
    for (const [p, h] of this.#held)
      drafts.push(extendedDraft(source, claim(h.record.eventId, p, h.attempt), leaseMs));
  }

  /** Resolves once no attempt is RUNNING. */
  whenIdle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.#idle;
      this.#idle = () => {
        before?.();
        resolve();
      };
    });
  }
}

function claim(eventId: string, eventPosition: Position, attempt: number) {
  return { eventId, eventPosition, attempt };
}
